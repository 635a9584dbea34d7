"""SPEC §15 on the dashboard: each limit rule's thresholds set per monitor, each rule
switched off, a wrong field refused with its sentence (`web.limits`). The blueprint and the
service's limits are wired here as the lead wires them (service.py, web/__init__.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from heroku_monitor.core.logs.limits import DatabaseThresholds, MemoryThresholds
from heroku_monitor.runtime.limits import Limits
from heroku_monitor.service import Service
from heroku_monitor.store.limit_settings import LimitSettings
from heroku_monitor.store.samples import Samples
from heroku_monitor.web import create_app
from heroku_monitor.web import limits as limits_web
from tests.support.web import csrf_token
from tests.support.world import World


@pytest.fixture
def site(world: World) -> Iterator[tuple[Service, FlaskClient, int]]:
    service, monitor_id = world.baseline()
    checker: Any = service.checker
    if getattr(checker, "limits", None) is None:  # not wired yet: as the lead will
        checker.limits = Limits(Samples(service.db), LimitSettings(service.db))
    app = create_app(service)
    if "limits" not in app.blueprints:
        app.register_blueprint(limits_web.bp)
    yield service, app.test_client(), monitor_id
    service.stop()


def post(client: FlaskClient, monitor_id: int, rule: str, **form: str):
    data = {"csrf_token": csrf_token(client), **form}
    return client.post(f"/monitors/{monitor_id}/limits/{rule}", data=data)


def thresholds(service: Service, monitor_id: int) -> tuple:
    limits: Any = getattr(service.checker, "limits", None)
    return limits.thresholds(monitor_id)


def test_a_monitor_sets_its_memory_threshold_and_window(site):
    service, client, mid = site
    response = post(client, mid, "near_quota", on="1", percent="85", window="10")
    assert response.status_code == 303
    assert thresholds(service, mid)[0] == MemoryThresholds(percent=85, window=10)


def test_a_monitor_sets_its_database_limits_and_leaves_them_empty_for_the_plans(site):
    service, client, mid = site
    post(client, mid, "database", on="1", connections="70", storage="80", max_connections="200")
    assert thresholds(service, mid)[1] == DatabaseThresholds(connections=70, max_connections=200)
    post(client, mid, "database", on="1", connections="70", storage="80", max_connections="")
    assert thresholds(service, mid)[1] == DatabaseThresholds(connections=70)


def test_a_rule_is_switched_off_and_on_again(site):
    service, client, mid = site
    assert post(client, mid, "near_quota", percent="90", window="5").status_code == 303  # no `on`
    assert not thresholds(service, mid)[0].on
    post(client, mid, "near_quota", on="1", percent="90", window="5")
    assert thresholds(service, mid)[0] == MemoryThresholds()


def test_a_wrong_field_is_refused_with_its_sentence(site):
    service, client, mid = site
    response = post(client, mid, "near_quota", on="1", percent="40", window="5")
    assert response.status_code == 400
    assert "memory threshold is a whole number" in response.get_data(as_text=True)
    assert thresholds(service, mid)[0] == MemoryThresholds()


def test_the_page_shows_each_rule_as_set(site):
    service, client, mid = site
    post(client, mid, "database", on="1", connections="75", storage="80")
    rows = limits_web.rule_rows(service, mid)
    assert [(r.rule, r.on) for r in rows] == [("near_quota", True), ("database", True)]
    assert dict((f.name, v) for f, v in rows[1].fields)["connections"] == "75"


@pytest.mark.parametrize("rule", ["nothing", "cpu"])
def test_no_such_rule_is_404(site, rule):
    _, client, mid = site
    assert post(client, mid, rule, on="1").status_code == 404


def test_the_apps_page_can_show_each_rules_form(site):
    from flask import render_template_string

    _, client, mid = site
    app = client.application
    with app.test_request_context("/"):
        from heroku_monitor.web.forms import ActionForm

        page = type("Page", (), {"read_only": False, "action": ActionForm()})()
        html = render_template_string(
            '{% from "_limits.html" import limit_rules %}{{ limit_rules(page, mid) }}',
            page=page,
            mid=mid,
        )
    assert (
        f"/monitors/{mid}/limits/near_quota" in html and f"/monitors/{mid}/limits/database" in html
    )
    assert 'name="max_connections"' in html and 'placeholder="the plan' in html
