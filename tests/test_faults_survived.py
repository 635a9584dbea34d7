"""Faults survived (SPEC §16): PostgreSQL restarted in the middle of a polling round. Every
alert arrives, in order, once, and `/healthz` tells the truth throughout: 503 naming the
database while it is down, 200 once it is back."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.exc import SQLAlchemyError

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support import own_postgres
from tests.support.own_postgres import OwnPostgres
from tests.support.web import NO_INTERVAL_POLLS, wait_until
from tests.support.world import APP, World, first_monitor

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"


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
