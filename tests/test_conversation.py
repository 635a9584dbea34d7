"""Incidents end to end (SPEC section 11): the service, the simulator with a clock the
test moves, and the fake Slack. A problem is one thread, however often it happens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from heroku_monitor import service as service_module
from heroku_monitor.service import Service
from tests.fakes import FakeSlack
from tests.support.slack import SECRET, pressed
from tests.support.web import slack_signed, wait_until
from tests.support.world import APP, QUICK, World, clocked_world

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"


class Clock:
    """One clock for the simulated Heroku and the service: the test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(sqlite_url: str, clock: Clock) -> Iterator[World]:
    with clocked_world(sqlite_url, clock) as made:
        yield made


@pytest.fixture
def service(world: World, clock: Clock) -> Iterator[Service]:
    service = service_module.build(world.settings(), clock=clock, patience=QUICK)
    service.checker.check(service.monitors.all()[0].id)  # the baseline
    yield service
    service.stop()


def check(service: Service) -> None:
    service.checker.check(service.monitors.all()[0].id)


def crash_loop(world: World, service: Service, clock: Clock, crashes: int) -> None:
    """web.1 crashes and comes back up, `crashes` times, a minute apart, each change checked."""
    for _ in range(crashes):
        clock.advance(1)
        world.sim.crash_dyno(APP, "web.1")
        check(service)
        clock.advance(1)
        world.sim.start_dyno(APP, "web.1")
        check(service)


def top_level(slack: FakeSlack) -> list[dict]:
    return [m for m in slack.messages if not m["thread_ts"]]


def test_a_five_crash_loop_is_one_thread_with_one_escalation_and_one_broadcast_recovery(
    world: World, service: Service, clock: Clock
):
    crash_loop(world, service, clock, 5)
    clock.advance(11)  # the dynos stayed up: the incident ends
    check(service)
    (opening,) = top_level(world.slack)
    assert opening["text"].startswith(f"{CRASH}\nApp: {APP}\nCrashed dynos:\n• web.1 (web)")
    replies = [m for m in world.slack.messages if m["thread_ts"] == opening["ts"]]
    escalations = [m for m in replies if "Crash loop" in m["text"]]
    assert len(escalations) == 1 and escalations[0]["reply_broadcast"]
    assert "<!here>" in escalations[0]["text"]
    broadcasts = [m for m in replies if m["reply_broadcast"] and m not in escalations]
    assert len(broadcasts) == 1 and "Resolved after" in broadcasts[0]["text"]
    assert world.slack.updates and "✅ Resolved after" in opening["text"]  # edited in place
    before = (len(world.slack.messages), len(world.slack.updates))
    check(service)
    assert (len(world.slack.messages), len(world.slack.updates)) == before  # each once


def test_a_crash_soon_after_a_deploy_names_it_and_how_to_undo_it(
    world: World, service: Service, clock: Clock
):
    clock.advance(1)
    version = world.sim.deploy(APP, "ann@example.com")
    check(service)
    clock.advance(5)
    world.sim.crash_dyno(APP, "web.1")
    check(service)
    crash = next(m for m in world.slack.messages if m["text"].startswith(CRASH))
    assert f"Suspect deploy: v{version} by ann@example.com, 5 min before" in crash["text"]
    assert f"`heroku rollback v{version - 1} -a {APP}`" in crash["text"]
    assert any("heroku rollback" in str(block) for block in crash["blocks"])


def test_a_crash_long_after_a_deploy_names_no_deploy(world: World, service: Service, clock: Clock):
    clock.advance(1)
    world.sim.deploy(APP, "ann@example.com")
    check(service)
    clock.advance(20)
    world.sim.crash_dyno(APP, "web.1")
    check(service)
    crash = next(m for m in world.slack.messages if m["text"].startswith(CRASH))
    assert "Suspect deploy" not in crash["text"]


def test_two_processes_sharing_the_database_never_double_a_reply_or_an_edit(
    world: World, service: Service, clock: Clock
):
    other = service_module.build(world.settings(), clock=clock, patience=QUICK)
    try:
        for _ in range(3):
            clock.advance(1)
            world.sim.crash_dyno(APP, "web.1")
            for process in (service, other):  # both see the same change
                check(process)
            clock.advance(1)
            world.sim.start_dyno(APP, "web.1")
            for process in (other, service):
                check(process)
    finally:
        other.stop()
    assert len(top_level(world.slack)) == 1
    keys = [(u["ts"], u["text"]) for u in world.slack.updates]
    assert len(keys) == len(set(keys))  # no edit sent twice
    replies = [m for m in world.slack.messages if m["thread_ts"]]
    assert len(replies) == 2 + 1  # two more crashes, and the escalation at the third


# -- the buttons: Acknowledge and Snooze 1 h, signed like Slack signs them ------------------


def press(service: Service, button: str, incident_id: str, *, secret: str = SECRET) -> int:
    """What Slack POSTs when someone presses a button of an incident's message."""
    from heroku_monitor.web import create_app

    body = pressed(button, incident_id)
    client = create_app(service).test_client()
    return client.post(
        "/slack/interactions", data=body, headers=slack_signed(secret, body)
    ).status_code


@pytest.fixture
def signed(world: World, clock: Clock) -> Iterator[Service]:
    service = service_module.build(
        world.settings(slack_signing_secret=SECRET), clock=clock, patience=QUICK
    )
    check(service)
    yield service
    service.stop()


def crash_once(world: World, service: Service, clock: Clock) -> str:
    clock.advance(1)
    world.sim.crash_dyno(APP, "web.1")
    check(service)
    (opening,) = top_level(world.slack)
    (actions,) = [b for b in opening["blocks"] if b["type"] == "actions"]
    return str(actions["elements"][0]["value"])


def test_acknowledge_shows_who_and_no_escalation_follows(
    world: World, signed: Service, clock: Clock
):
    from heroku_monitor.render.threads import ACKNOWLEDGE

    incident = crash_once(world, signed, clock)
    assert press(signed, ACKNOWLEDGE, incident) == 200  # Bolt acks, then acts
    wait_until(lambda: "acknowledged by" in top_level(world.slack)[0]["text"])
    (opening,) = top_level(world.slack)
    assert "acknowledged by <@U0FAKEUSR1>" in opening["text"]
    assert any(m["text"] == "👀 Acknowledged by <@U0FAKEUSR1>." for m in world.slack.messages)
    for _ in range(3):  # a crash loop after the acknowledgement
        clock.advance(1)
        world.sim.start_dyno(APP, "web.1")
        check(signed)
        clock.advance(1)
        world.sim.crash_dyno(APP, "web.1")
        check(signed)
    assert not any("Crash loop" in m["text"] for m in world.slack.messages)


def test_a_snoozed_app_posts_nothing_top_level_for_the_hour_then_says_what_was_muted(
    world: World, signed: Service, clock: Clock
):
    from heroku_monitor.render.threads import SNOOZE

    incident = crash_once(world, signed, clock)
    assert press(signed, SNOOZE, incident) == 200  # Bolt acks, then acts
    wait_until(lambda: "snoozed by" in top_level(world.slack)[0]["text"])
    clock.advance(5)
    world.sim.deploy(APP, "bob@example.com")
    check(signed)
    assert len(top_level(world.slack)) == 1  # the deploy was recorded, not posted
    (muted,) = signed.outbox.recent(status="muted")
    assert "New Deploy Detected" in muted.text
    clock.advance(61)
    signed.conversations.tick()
    # A delivery run going on in another thread at that moment may be the sender.
    wait_until(lambda: "snooze of *my-app* ended" in top_level(world.slack)[-1]["text"])
    last = top_level(world.slack)[-1]
    assert "snooze of *my-app* ended" in last["text"] and "New Deploy Detected" in last["text"]


def test_a_forged_or_stale_button_press_is_refused_and_changes_nothing(
    world: World, signed: Service, clock: Clock
):
    from heroku_monitor.render.threads import ACKNOWLEDGE

    incident = crash_once(world, signed, clock)
    assert press(signed, ACKNOWLEDGE, incident, secret="not-the-secret") == 401
    (opening,) = top_level(world.slack)
    assert "acknowledged" not in opening["text"] and world.slack.updates == []


def test_the_dashboard_shows_open_incidents_snoozes_and_a_timeline_and_can_end_a_snooze(
    world: World, signed: Service, clock: Clock
):
    from heroku_monitor.render.threads import SNOOZE
    from heroku_monitor.web import create_app
    from tests.support.web import csrf_token

    incident = crash_once(world, signed, clock)
    press(signed, SNOOZE, incident)
    wait_until(lambda: "snoozed by" in top_level(world.slack)[0]["text"])
    client = create_app(signed).test_client()
    overview = client.get("/").get_data(as_text=True)  # no timeline there: one per app page
    assert "🔥 Dyno crash" in overview and "snoozed by &lt;@U0FAKEUSR1&gt;" in overview
    page = client.get(f"/apps/{APP}").get_data(as_text=True)
    assert "🔥 Dyno crash · web.1 since" in page and "Snoozed by &lt;@U0FAKEUSR1&gt;" in page
    assert "<svg" in page and 'viewBox="' in page
    mid = signed.monitors.all()[0].id
    token = csrf_token(client)
    response = client.post(f"/monitors/{mid}/end-snooze", data={"csrf_token": token})
    assert response.status_code == 303
    assert "Snoozed by" not in client.get(f"/apps/{APP}").get_data(as_text=True)
    assert "snooze of *my-app* ended" in top_level(world.slack)[-1]["text"]


def test_a_monitor_can_name_who_its_escalation_calls_on_the_dashboard(
    world: World, service: Service, clock: Clock
):
    from heroku_monitor.web import create_app
    from tests.support.web import csrf_token

    client = create_app(service).test_client()
    mid = service.monitors.all()[0].id
    token = csrf_token(client)
    refused = client.post(
        f"/monitors/{mid}/mention", data={"csrf_token": token, "mention": "everyone"}
    )
    assert refused.status_code == 400 and "is not a mention" in refused.get_data(as_text=True)
    saved = client.post(
        f"/monitors/{mid}/mention", data={"csrf_token": token, "mention": "S0TEAM123"}
    )
    assert saved.status_code == 303
    crash_loop(world, service, clock, 3)
    (escalation,) = [m for m in world.slack.messages if "Crash loop" in m["text"]]
    assert escalation["text"].startswith("<!subteam^S0TEAM123>")


def test_a_restart_mid_incident_keeps_its_thread_and_doubles_nothing(
    world: World, service: Service, clock: Clock
):
    clock.advance(1)
    world.sim.crash_dyno(APP, "web.1")
    check(service)
    service.stop()  # a restart, mid-incident
    restarted = service_module.build(world.settings(), clock=clock, patience=QUICK)
    try:
        restarted.outbox.requeue_failed(clock())
        check(restarted)  # nothing new: nothing sent
        for _ in range(2):
            clock.advance(1)
            world.sim.start_dyno(APP, "web.1")
            check(restarted)
            clock.advance(1)
            world.sim.crash_dyno(APP, "web.1")
            check(restarted)
    finally:
        restarted.stop()
    (opening,) = top_level(world.slack)
    replies = [m for m in world.slack.messages if m["thread_ts"]]
    assert all(m["thread_ts"] == opening["ts"] for m in replies)
    assert len(replies) == 2 + 1  # two more crashes, and the escalation at the third
    edits = [(u["ts"], u["text"]) for u in world.slack.updates]
    assert len(edits) == len(set(edits))


def test_a_monitor_moved_to_another_app_closes_its_incidents_and_a_new_one_opens_on_return(
    world: World, signed: Service, clock: Clock
):
    incident = crash_once(world, signed, clock)
    mid = signed.monitors.all()[0].id
    world.sim.create_app("other-app")
    signed.monitors.update(mid, app_name="other-app", channel="#alerts", interval=5, now=clock())
    # The old app's Snooze button (what its listener calls): nothing to snooze any more.
    (owner,) = signed.checker.incident_store.owners(incident)
    assert owner == (mid, APP) and signed.conversations.snooze(mid, APP, "<@U0FAKEUSR1>") is None
    assert signed.checker.incident_store.all_snoozes() == {}
    signed.monitors.update(mid, app_name=APP, channel="#alerts", interval=5, now=clock())
    check(signed)  # a baseline again: web.1 is still crashed, and that is a new problem
    clock.advance(1)
    world.sim.crash_dyno(APP, "web.2")
    check(signed)
    assert len(top_level(world.slack)) == 2  # a new thread, not a reply in the old one


def test_a_snooze_is_the_monitors_own_when_two_monitors_watch_one_app(
    world: World, signed: Service, clock: Clock
):
    from heroku_monitor.render.threads import SNOOZE

    world.slack.add_channel("ops")
    other = signed.monitors.add(APP, "#ops", 5, clock())
    signed.checker.check(other)  # its baseline
    incident = crash_once_in(world, signed, clock, "#alerts")
    signed.checker.check(other)
    press(signed, SNOOZE, incident)  # pressed in #alerts: both monitors hold the incident id
    monitors = {m.id for m in signed.monitors.all()}
    wait_until(lambda: set(signed.checker.incident_store.all_snoozes()) == monitors)


def crash_once_in(world: World, service: Service, clock: Clock, channel: str) -> str:
    clock.advance(1)
    world.sim.crash_dyno(APP, "web.1")
    check(service)
    opening = next(m for m in top_level(world.slack) if m["channel_name"] == channel.lstrip("#"))
    (actions,) = [b for b in opening["blocks"] if b["type"] == "actions"]
    return str(actions["elements"][0]["value"])


def test_a_mention_too_long_for_slack_is_a_form_error_not_a_500(service: Service):
    from heroku_monitor.web import create_app
    from tests.support.web import csrf_token

    client = create_app(service).test_client()
    mid = service.monitors.all()[0].id
    data = {"csrf_token": csrf_token(client), "mention": "S" + "A" * 100}
    assert client.post(f"/monitors/{mid}/mention", data=data).status_code == 400
