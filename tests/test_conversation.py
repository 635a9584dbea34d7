"""Incidents end to end (SPEC section 11): the service, the simulator with a clock the
test moves, and the fake Slack. A problem is one thread, however often it happens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from heroku_monitor import service as service_module
from heroku_monitor.service import Service
from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.world import APP, QUICK, World

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
    sim = Simulator(seed=7, clock=clock)
    sim.create_app(APP)
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        yield World(sim, heroku, slack, sqlite_url)


@pytest.fixture
def service(world: World, clock: Clock) -> Iterator[Service]:
    service = service_module.build(world.settings(), clock=clock, patience=QUICK)
    service.checker.check(service.monitors.all()[0].id)  # the baseline
    yield service
    service.stop()


def check(service: Service) -> None:
    service.checker.check(service.monitors.all()[0].id)


def top_level(slack: FakeSlack) -> list[dict]:
    return [m for m in slack.messages if not m["thread_ts"]]


def test_a_five_crash_loop_is_one_thread_with_one_escalation_and_one_broadcast_recovery(
    world: World, service: Service, clock: Clock
):
    for _ in range(5):
        clock.advance(1)
        world.sim.crash_dyno(APP, "web.1")
        check(service)
        clock.advance(1)
        world.sim.start_dyno(APP, "web.1")
        check(service)
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
