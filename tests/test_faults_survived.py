"""Faults survived (SPEC §16): PostgreSQL restarted in the middle of a polling round, and Slack
answering 500 for an hour. Every alert arrives, in order, once, and `/healthz` tells the
truth throughout: 503 naming the database while it is down, 200 once it is back."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy.exc import SQLAlchemyError

from heroku_monitor.service import Service
from heroku_monitor.store.outbox import FAILED, PENDING
from heroku_monitor.web import create_app
from tests.support import own_postgres
from tests.support.own_postgres import OwnPostgres
from tests.support.simulator import FakeClock
from tests.support.web import NO_INTERVAL_POLLS, wait_until
from tests.support.world import APP, World, first_monitor

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
DEPLOY = "🚀 *New Deploy Detected* 🚀"
CONFIG = "⚙️ *Config Vars Changed* ⚙️"


@pytest.fixture
def own_server() -> Iterator[OwnPostgres]:
    why = own_postgres.missing()
    if why:
        pytest.skip(why)
    server = OwnPostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


def healthz(web: object) -> tuple[int, dict]:
    response = web.get("/healthz")  # type: ignore[attr-defined]
    assert response.is_json, response.get_data(as_text=True)[:200]
    return response.status_code, response.json


def quietly(step: Callable[..., object], *args: object) -> None:
    """A round run as the scheduler's job runs it: a database failure is its log line."""
    with contextlib.suppress(SQLAlchemyError):
        step(*args)


def rounds_until(service: Service, mid: int, condition: Callable[[], bool]) -> None:
    """Polling rounds, one after another, until `condition` holds (a round may find the app
    claimed by a check of the scheduler's own, or a connection the restart cut)."""

    def a_round_then(check: Callable[[], bool]) -> bool:
        quietly(service.scheduler.run_round, {mid})
        return check()

    wait_until(lambda: a_round_then(condition), timeout=20)


def crashes(world: World) -> list[str]:
    return [text for text in world.texts() if text.startswith(CRASH)]


def test_postgresql_restarted_during_a_round_loses_no_alert_and_healthz_tells_the_truth(
    world: World, own_server: OwnPostgres
):
    service: Service = world.service(database_url=own_server.url)
    try:
        web = create_app(service).test_client()
        mid = first_monitor(service)
        service.checker.check(mid)  # the baseline
        service.scheduler.minute = NO_INTERVAL_POLLS  # the rounds are this test's own
        service.scheduler.start()
        wait_until(lambda: service.scheduler.rounds >= 1)  # the leader's starting round
        assert healthz(web)[0] == 200

        world.sim.crash_dyno(APP, "web.1")
        world.sim.set_latency(0.3)  # the round's Heroku reads take a while
        before = world.sim.request_count
        round_ = threading.Thread(target=quietly, args=(service.scheduler.run_round, {mid}))
        round_.start()
        wait_until(lambda: world.sim.request_count > before)  # the round is reading Heroku
        own_server.stop()  # every connection cut, mid-round
        status, body = healthz(web)
        assert status == 503, body
        assert body["problems"], body
        round_.join(30)
        assert not round_.is_alive()
        world.sim.set_latency(0)
        assert crashes(world) == []  # nothing could be recorded: nothing was half-sent

        own_server.start()
        rounds_until(service, mid, lambda: len(crashes(world)) == 1)  # the next round sees it
        assert healthz(web)[0] == 200  # its checks use the database again

        world.sim.restart_dyno(APP, "web.1")
        service.scheduler.run_round({mid})
        world.sim.crash_dyno(APP, "web.1")
        own_server.restart()  # between rounds this time
        rounds_until(service, mid, lambda: len(crashes(world)) == 2)
        service.scheduler.run_round({mid})
        assert len(crashes(world)) == 2  # each crash once
        assert healthz(web)[0] == 200
    finally:
        service.stop()


def test_slack_answering_500_for_an_hour_loses_no_alert_and_sends_them_in_order_once(
    world: World,
):
    """An hour of Slack 500s (the clock moved on, the delivery retrying as it is due): the
    alerts queued meanwhile all arrive once Slack is well, once each, in the order they
    happened; what had waited an hour goes as plain text (SPEC §16)."""
    service, mid = world.baseline()
    clock = FakeClock()
    clock.now = service.clock()
    service.delivery.clock = clock
    world.slack.fail_next(100_000, status=500)
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    world.sim.deploy(APP, "ann@example.com")
    service.checker.check(mid)
    world.sim.set_config(APP, {"FEATURE_FLAG": "on"})
    service.checker.check(mid)
    queued = service.outbox.count(PENDING)
    assert queued >= 3
    start = clock.now
    while clock.now - start < timedelta(hours=1):  # Slack is down for an hour
        due = service.outbox.next_due(clock())
        assert due is not None  # nothing was given up on
        clock.now = max(clock.now, due)
        service.delivery.run()
    assert world.slack.messages == []
    world.slack.reset()  # well again
    for _ in range(2 * queued):  # the posts, and the edit of the crash's message
        due = service.outbox.next_due(clock())
        if due is None:
            break
        clock.now = max(clock.now, due)
        service.delivery.run()
    firsts = [text.split("\n")[0] for text in world.texts()]
    assert firsts == [CRASH, DEPLOY, CONFIG]  # in the order they happened, once each
    assert service.outbox.count(PENDING) == 0 and service.outbox.count(FAILED) == 0
