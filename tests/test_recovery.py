"""How a crash or down incident recovers, end to end (SPEC sections 3 and 11): the service,
the simulator on a clock the test moves, and the fake Slack. A partial recovery is said in
the thread and shown on the opening message; the resolve hold is RESOLVE_AFTER_MINUTES or
the monitor's own, set on the dashboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from heroku_monitor import service as service_module
from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.fakes import FakeSlack
from tests.support.simulator import FakeClock
from tests.support.web import csrf_token, wait_until
from tests.support.world import APP, QUICK, World, clocked_world

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with clocked_world(sqlite_url, clock) as made:
        yield made


def started(world: World, clock: FakeClock, **settings: object) -> Service:
    service = service_module.build(world.settings(**settings), clock=clock, patience=QUICK)
    check(service)  # the baseline
    return service


@pytest.fixture
def service(world: World, clock: FakeClock) -> Iterator[Service]:
    service = started(world, clock)
    yield service
    service.stop()


def check(service: Service) -> None:
    service.checker.check(service.monitors.all()[0].id)


def opening(slack: FakeSlack) -> dict:
    (first,) = [m for m in slack.messages if not m["thread_ts"]]
    return first


def thread(slack: FakeSlack) -> list[str]:
    first = opening(slack)
    return [m["text"] for m in slack.messages if m["thread_ts"] == first["ts"]]


def resolved(slack: FakeSlack) -> list[str]:
    return [t for t in thread(slack) if "Resolved after" in t]


# ---------------------------------------------------------------------- a partial recovery


def test_a_partial_recovery_replies_in_the_thread_and_edits_each_dynos_state(
    world: World, service: Service, clock: FakeClock
):
    clock.advance(minutes=1)
    world.sim.crash_dyno(APP, "web.1")
    world.sim.stop_dyno(APP, "worker.1")
    check(service)
    assert opening(world.slack)["text"].startswith(f"{CRASH}\nApp: {APP}\nCrashed dynos:")
    clock.advance(minutes=2)
    world.sim.start_dyno(APP, "web.1")
    check(service)
    assert thread(world.slack)[-1] == "✅ web.1 is up again; worker.1 is still down"
    edited = opening(world.slack)["text"]
    assert edited.startswith(f"{CRASH}\nApp: {APP}\nCrashed dynos:")  # the PRD text, kept
    assert edited.splitlines()[-1] == "web.1 up · worker.1 down"
    assert sum(not m["thread_ts"] for m in world.slack.messages) == 1  # nothing else on top
    before = (len(world.slack.messages), len(world.slack.updates))
    check(service)
    assert (len(world.slack.messages), len(world.slack.updates)) == before  # said once
    assert sum("is up again" in t for t in thread(world.slack)) == 1

    clock.advance(minutes=1)
    world.sim.start_dyno(APP, "worker.1")
    check(service)
    assert opening(world.slack)["text"].splitlines()[-1] == "🩹 every dyno is up again"
    clock.advance(minutes=10)
    service.conversations.tick()
    wait_until(lambda: len(resolved(world.slack)) == 1)


# ---------------------------------------------------------------------- the resolve hold


def crash_and_recover(world: World, service: Service, clock: FakeClock) -> None:
    """web.1 crashes, and is up again two minutes later."""
    clock.advance(minutes=1)
    world.sim.crash_dyno(APP, "web.1")
    check(service)
    clock.advance(minutes=2)
    world.sim.start_dyno(APP, "web.1")
    check(service)


@pytest.mark.parametrize("minutes", [10, 60])
def test_resolve_after_minutes_is_how_long_the_dynos_stay_up_before_the_incident_ends(
    world: World, clock: FakeClock, minutes: int
):
    service = started(world, clock, resolve_after_minutes=minutes)
    try:
        crash_and_recover(world, service, clock)
        clock.advance(minutes=minutes - 1)
        service.conversations.tick()
        assert resolved(world.slack) == []
        clock.advance(minutes=1)
        service.conversations.tick()
        wait_until(lambda: len(resolved(world.slack)) == 1)
    finally:
        service.stop()


def dashboard(service: Service) -> tuple[FlaskClient, str, int]:
    client = create_app(service).test_client()
    return client, csrf_token(client), service.monitors.all()[0].id


@pytest.mark.parametrize(
    ("given", "sentence"),
    [
        ("-1", "The resolve hold is a whole number of minutes from 0 to 60."),
        ("61", "The resolve hold is a whole number of minutes from 0 to 60."),
        ("ten", "The resolve hold is a whole number of minutes from 0 to 60."),
        ("", "Enter a number of minutes from 0 to 60."),
    ],
)
def test_a_bad_resolve_hold_on_the_dashboard_is_a_400_with_one_sentence(
    service: Service, given: str, sentence: str
):
    client, token, mid = dashboard(service)
    response = client.post(
        f"/monitors/{mid}/resolve-after", data={"csrf_token": token, "resolve_after": given}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert page.count(sentence) == 1
    assert service.monitors.get(mid).resolve_after_minutes is None  # type: ignore[union-attr]


def test_a_monitors_resolve_hold_of_zero_wins_over_the_setting_and_ends_the_incident_at_once(
    world: World, clock: FakeClock
):
    service = started(world, clock, resolve_after_minutes=60)
    try:
        client, token, mid = dashboard(service)
        saved = client.post(
            f"/monitors/{mid}/resolve-after", data={"csrf_token": token, "resolve_after": "0"}
        )
        assert saved.status_code == 303
        assert service.monitors.get(mid).resolve_after_minutes == 0  # type: ignore[union-attr]
        assert "Resolve after" in client.get(f"/apps/{APP}").get_data(as_text=True)
        crash_and_recover(world, service, clock)
        (recovery,) = resolved(world.slack)
        assert "Resolved after 2 min" in recovery
    finally:
        service.stop()


def test_a_monitors_resolve_hold_is_used_when_time_ends_the_incident(
    world: World, service: Service, clock: FakeClock
):
    client, token, mid = dashboard(service)
    data = {"csrf_token": token, "resolve_after": "30"}
    assert client.post(f"/monitors/{mid}/resolve-after", data=data).status_code == 303
    crash_and_recover(world, service, clock)
    clock.advance(minutes=29)
    service.conversations.tick()
    assert resolved(world.slack) == []  # the setting's 10 minutes would have ended it
    clock.advance(minutes=1)
    service.conversations.tick()
    wait_until(lambda: len(resolved(world.slack)) == 1)
