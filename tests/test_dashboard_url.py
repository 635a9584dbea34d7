"""Each alert's context line links to the app's page on this service when it knows its
public address (DASHBOARD_URL, else Heroku's dyno metadata), and stays as it was without."""

from __future__ import annotations

import json

import pytest

from heroku_monitor.core.detect import diff
from heroku_monitor.core.validation import SettingsError
from heroku_monitor.render import messages
from heroku_monitor.settings import from_env
from tests.support.builders import T0, dyno, snap
from tests.support.world import APP, World

GOOD = {"HEROKU_API_KEY": "k", "SLACK_BOT_TOKEN": "xoxb-1"}
HEROKU_LINK = "<https://dashboard.heroku.com/apps/my-app|Open my-app in the Heroku dashboard>"


def context_of(dashboard_url: str | None) -> str:
    events = diff(snap(), snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1"))))
    (message,) = messages.build(events, T0, dashboard_url=dashboard_url)
    return str(message.blocks[-1]["elements"][0]["text"])


def test_an_alerts_context_line_links_the_apps_page_on_this_service():
    context = context_of("https://monitor.example.com/")
    assert HEROKU_LINK in context
    assert "<https://monitor.example.com/apps/my-app|Its page on Heroku Monitor>" in context


def test_without_an_address_the_context_line_stays_as_it_was():
    assert context_of(None).endswith(f"· {HEROKU_LINK}")


def test_the_status_answer_links_the_apps_page_too():
    _, blocks = messages.status_reply(snap(), T0, dashboard_url="https://m.example.com")
    assert "<https://m.example.com/apps/my-app|Its page on Heroku Monitor>" in str(blocks[-1])


def test_a_link_character_in_the_address_cannot_end_the_slack_link():
    context = context_of("https://m.example.com/a|b>c")
    assert "<https://m.example.com/a%7Cb%3Ec/apps/my-app|Its page" in context


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"DASHBOARD_URL": "https://monitor.example.com/"}, "https://monitor.example.com"),
        (
            {"HEROKU_APP_DEFAULT_DOMAIN_NAME": "my-mon-1a2b.herokuapp.com"},
            "https://my-mon-1a2b.herokuapp.com",
        ),
        (
            {
                "DASHBOARD_URL": "http://10.0.0.2:5000",
                "HEROKU_APP_DEFAULT_DOMAIN_NAME": "x.herokuapp.com",
            },
            "http://10.0.0.2:5000",
        ),
        ({"HEROKU_APP_DEFAULT_DOMAIN_NAME": "not a host"}, None),
    ],
)
def test_the_dashboard_url_comes_from_dashboard_url_else_herokus_dyno_metadata(
    env: dict[str, str], expected: str | None
):
    assert from_env({**GOOD, **env}).dashboard_url == expected


@pytest.mark.parametrize("value", ["monitor.example.com", "ftp://monitor.example.com", "https://"])
def test_a_dashboard_url_that_is_not_http_is_one_clear_sentence(value: str):
    with pytest.raises(SettingsError) as refused:
        from_env({**GOOD, "DASHBOARD_URL": value})
    said = str(refused.value)
    assert said.count("DASHBOARD_URL") == 1 and "is not an http(s) URL" in said


def test_an_incidents_opening_message_links_the_apps_page_when_queued_with_the_address():
    from heroku_monitor.core import detect, incidents
    from heroku_monitor.core.detect import Event
    from heroku_monitor.core.incidents import Action, Incident
    from heroku_monitor.render import threads

    crash = Event(
        detect.DYNO_CRASHED, "my-app", "my-app:crash:web.1", dyno=dyno("web.1", "crashed")
    )
    opened = Incident(
        id="my-app:dynos:x",
        app="my-app",
        family=incidents.DYNOS,
        opened_at=T0,
        last_seen=T0,
        opening=(crash,),
        crashes=1,
        dynos=("web.1",),
        down=("web.1",),
    )
    action = Action(
        incidents.POST, incidents.OPENED, "k:open", "my-app", T0, opened.id, (crash,), opened
    )
    (linked,) = threads.outbox_messages([action], T0, dashboard_url="https://m.example.com")
    assert "<https://m.example.com/apps/my-app|Its page on Heroku Monitor>" in str(linked.blocks)
    (plain,) = threads.outbox_messages([action], T0)
    assert "Heroku Monitor>" not in str(plain.blocks)


def test_a_crash_alert_in_slack_links_the_apps_page_when_the_service_knows_its_address(
    world: World,
):
    service, monitor_id = world.baseline(dashboard_url="https://monitor.example.com")
    try:
        world.sim.crash_dyno(APP, "web.1")
        service.checker.check(monitor_id)
        (posted,) = world.slack.wait_for_messages(1)
        assert "<https://monitor.example.com/apps/my-app|" in json.dumps(posted["blocks"])
    finally:
        service.stop()
