"""An app's page, the follow-ups (SPEC §6, §14, §15): its certificates, where its changes
go and its repository, every rule's threshold (each switchable off), and the demo buttons."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from heroku_monitor.core import thresholds as rule_table
from heroku_monitor.core.certificates import CertificateState
from heroku_monitor.core.logs.rules import Thresholds
from heroku_monitor.store.certificates import CertificateReads
from heroku_monitor.web import create_app
from tests.support.app_page import PAGE, baseline_site, mid, section
from tests.support.web import Site
from tests.support.world import APP, World


@pytest.fixture
def site(world: World) -> Iterator[Site]:
    with baseline_site(world) as made:
        yield made


def after(page: str, marker: str, end: str = "</div>") -> str:
    return page.split(marker)[1].split(end)[0]


# --- certificates ---------------------------------------------------------------------


def test_an_apps_page_shows_its_certificates_expiry_days_left_and_acm_failures(site: Site):
    now = site.service.clock()
    state = CertificateState(
        read_at=now - timedelta(hours=1),
        failed=(("api.example.com", now - timedelta(days=2)),),
        certificates=(
            ("www.example.com, example.com", now + timedelta(days=10)),
            ("shop.example.com", now + timedelta(days=80)),
        ),
    )
    reads = CertificateReads(site.service.db)
    with site.service.db.transaction() as s:
        reads.save(s, APP, state, now)
    certs = section(site.client.get(PAGE).get_data(as_text=True), "certificates")
    assert "www.example.com, example.com" in certs and "shop.example.com" in certs
    assert (now + timedelta(days=10)).strftime("%Y-%m-%d") in certs
    assert '<strong class="failed">10</strong>' in certs  # within 14 days: marked
    assert ">80</td>" in certs
    assert "Automated Certificate Management failed for <strong>api.example.com</strong>" in certs
    assert certs.index("www.example.com") < certs.index("shop.example.com")  # soonest first


def test_an_app_whose_certificates_were_never_read_says_when_they_will_be(site: Site):
    certs = section(site.client.get(PAGE).get_data(as_text=True), "certificates")
    assert "Not read yet" in certs and "every 6 hours" in certs


def test_the_app_page_reads_its_certificates_in_one_statement_whatever_their_number(
    site: Site,
):
    from sqlalchemy import event

    now = site.service.clock()
    engine = site.service.db.engine
    reads = CertificateReads(site.service.db)

    def statements(n: int) -> int:
        state = CertificateState(
            read_at=now,
            certificates=tuple((f"d{i}.example.com", now + timedelta(days=30)) for i in range(n)),
        )
        with site.service.db.transaction() as s:
            reads.save(s, APP, state, now)
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            page = site.client.get(PAGE).get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert f"d{n - 1}.example.com" in page
        return len(seen)

    statements(1)  # the first page reads once what it keeps for a while (the drain's state)
    assert statements(1) == statements(40)


# --- the changes channel and the repository --------------------------------------------


def test_the_changes_channel_and_repository_are_saved_from_the_apps_page_and_said_so(
    site: Site,
):
    monitor = mid(site)
    page = site.client.get(PAGE).get_data(as_text=True)
    assert f'action="/monitors/{monitor}/changes"' in page
    assert "Now: the alert channel, #alerts" in after(
        page, f'id="changes_channel-{monitor}-source"'
    )
    assert "Now: none" in after(page, f'id="repository-{monitor}-source"')
    saved = site.post(
        f"/monitors/{monitor}/changes",
        {"changes_channel": " #deploys ", "repository": "https://github.com/acme/shop.git"},
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith(PAGE)
    view = site.service.monitors.get(monitor)
    assert view is not None
    assert (view.changes_channel, view.repository) == ("#deploys", "acme/shop")
    page = site.client.get(PAGE).get_data(as_text=True)
    assert "Changes of my-app now go to #deploys; commits link to github.com/acme/shop." in page
    assert "Now: set here" in after(page, f'id="changes_channel-{monitor}-source"')
    assert 'value="#deploys"' in page and 'value="acme/shop"' in page
    cleared = site.post(f"/monitors/{monitor}/changes", {"changes_channel": "", "repository": ""})
    assert cleared.status_code == 303
    view = site.service.monitors.get(monitor)
    assert view is not None and (view.changes_channel, view.repository) == (None, None)


@pytest.mark.parametrize(
    ("data", "field", "sentence"),
    [
        ({"changes_channel": "deploys", "repository": ""}, "changes_channel", "Slack channel"),
        ({"changes_channel": "#Big Deploys", "repository": ""}, "changes_channel", "Slack channel"),
        ({"changes_channel": "", "repository": "just-a-name"}, "repository", "owner/name"),
        ({"changes_channel": "#ok", "repository": "a/b/c"}, "repository", "owner/name"),
    ],
)
def test_a_wrong_changes_channel_or_repository_is_refused_at_its_field_and_nothing_changes(
    site: Site, data: dict[str, str], field: str, sentence: str
):
    monitor = mid(site)
    refused = site.post(f"/monitors/{monitor}/changes", data)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'id="week"' in page
    error = after(page, f'id="{field}-{monitor}-error"', "</p>")
    assert sentence in error and error.count(".") >= 1
    assert page.count('role="alert"') == 1  # one sentence, at the wrong field only
    assert f'value="{data[field]}"' in page  # what was typed stays, to be corrected
    view = site.service.monitors.get(monitor)
    assert view is not None and (view.changes_channel, view.repository) == (None, None)


def test_the_changes_channel_and_repository_from_the_environment_say_so(world: World):
    service, monitor = world.baseline(
        slack_changes_channel="#deploys", monitored_app_repository="acme/shop"
    )
    from heroku_monitor.store import changes

    changes.seed(service.db, "#deploys", "acme/shop", service.clock())
    try:
        page = create_app(service).test_client().get(PAGE).get_data(as_text=True)
    finally:
        service.stop()
    assert "from the environment (SLACK_CHANGES_CHANNEL)" in after(
        page, f'id="changes_channel-{monitor}-source"'
    )
    assert "from the environment (MONITORED_APP_REPOSITORY)" in after(
        page, f'id="repository-{monitor}-source"'
    )


# --- thresholds -----------------------------------------------------------------------


def form_of(thresholds: Thresholds) -> dict[str, str]:
    """The thresholds form as a browser sends it, at `thresholds`."""
    setting = rule_table.setting_of(thresholds)
    on = {f"on_{k}": "on" for k, v in setting.on.items() if v}
    return {**setting.values, **on}


def test_every_rule_of_the_table_is_shown_with_its_threshold_and_switch(site: Site):
    rules = section(site.client.get(PAGE).get_data(as_text=True), f"monitor-{mid(site)}")
    rules = after(rules, f'id="rules-{mid(site)}"', "</form>")
    for rule in rule_table.RULES:
        assert f'name="on_{rule.key}" value="on" checked' in rules and rule.name in rules
        for field in rule.fields:
            assert f'name="{field.key}" value="{field.default}"' in rules
    assert 'name="min_requests" value="100"' in rules
    assert "Now: router errors at 5 lines" in rules and "the defaults" in rules


def test_thresholds_set_on_the_apps_page_are_kept_and_shown(site: Site):
    monitor = mid(site)
    wanted = form_of(Thresholds())
    wanted.update(code_lines="20", slow_ms="5000", min_requests="50")
    saved = site.post(f"/monitors/{monitor}/log-thresholds", wanted)
    assert saved.status_code == 303 and saved.headers["Location"].endswith(PAGE)
    view = site.service.monitors.get(monitor)
    assert view is not None and view.log_thresholds == "20/5/50/5000"
    page = site.client.get(PAGE).get_data(as_text=True)
    assert 'name="code_lines" value="20"' in page and 'name="slow_ms" value="5000"' in page
    assert "p95 at 5,000 ms (of ≥ 50 requests)" in page and "set here" in page
    back = site.post(f"/monitors/{monitor}/log-thresholds", {"use_default": "1"})
    assert back.status_code == 303
    view = site.service.monitors.get(monitor)
    assert view is not None and view.log_thresholds is None


def test_each_rule_can_be_switched_off_on_the_apps_page(site: Site):
    monitor = mid(site)
    wanted = form_of(Thresholds())
    for name in ("on_router", "on_memory", "on_slow"):
        del wanted[name]
    assert site.post(f"/monitors/{monitor}/log-thresholds", wanted).status_code == 303
    view = site.service.monitors.get(monitor)
    assert view is not None and view.log_thresholds == "off/5/100/off/off/on"
    rules = after(site.client.get(PAGE).get_data(as_text=True), f'id="rules-{monitor}"', "</form>")
    assert 'name="on_router" value="on">' in rules  # unchecked
    assert 'name="on_rate_5xx" value="on" checked' in rules
    assert "Now: 5xx at 5 % (of ≥ 100 requests) · R10, over 5 min" in rules


@pytest.mark.parametrize(
    ("field", "value", "sentence"),
    [
        ("code_lines", "0", "Lines of one H code is a whole number from 1 to 10,000 lines"),
        ("rate_5xx", "250", "Share of 5xx responses is a whole number from 1 to 100 %"),
        ("slow_ms", "fast", "p95 response time at least is a whole number from 100 to 30,000 ms"),
        ("min_requests", "", "Requests at least is a whole number from 1 to 1,000,000"),
    ],
)
def test_a_wrong_threshold_is_refused_at_its_field_in_one_sentence_and_nothing_changes(
    site: Site, field: str, value: str, sentence: str
):
    monitor = mid(site)
    wanted = {**form_of(Thresholds()), field: value}
    refused = site.post(f"/monitors/{monitor}/log-thresholds", wanted)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'id="week"' in page
    assert sentence in after(page, f'id="{field}-{monitor}-error"', "</p>")
    assert page.count('role="alert"') == 1
    view = site.service.monitors.get(monitor)
    assert view is not None and view.log_thresholds is None


def test_a_field_of_a_rule_switched_off_is_not_checked(site: Site):
    monitor = mid(site)
    wanted = {**form_of(Thresholds()), "slow_ms": "nonsense"}
    del wanted["on_slow"]
    assert site.post(f"/monitors/{monitor}/log-thresholds", wanted).status_code == 303


# --- demo buttons ---------------------------------------------------------------------


def test_every_demo_action_has_a_button_on_the_overview(world: World):
    from heroku_monitor.web import demo

    service, _ = world.baseline()
    service.simulator = world.heroku
    try:
        page = create_app(service).test_client().get("/").get_data(as_text=True)
    finally:
        service.simulator = None
        service.stop()
    buttons = section(page, "demo")
    assert {name for name, _ in demo.BUTTONS} == set(demo.ACTIONS)
    for name, label in demo.BUTTONS:
        assert f'action="/demo/{name}"' in buttons and label in buttons


NEW_BUTTONS = ["failbuild", "commit", "certexpiry", "acmfail", "herokuincident"]


@pytest.mark.parametrize("button", NEW_BUTTONS)
def test_each_new_demo_buttons_post_works_end_to_end_in_demo_mode(world: World, button: str):
    from heroku_monitor.web import demo

    service, _ = world.baseline()
    service.simulator = world.heroku
    site = Site(service, app := create_app(service), app.test_client())
    try:
        response = site.post(f"/demo/{button}")
        assert response.status_code == 303 and response.headers["Location"].endswith("/")
        page = site.client.get("/").get_data(as_text=True)
    finally:
        service.simulator = None
        service.stop()
    assert "Checking now: the alert follows in a moment." in page
    assert dict(demo.BUTTONS)[button] in section(page, "demo")
