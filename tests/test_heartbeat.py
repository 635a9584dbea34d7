"""Watching the watcher (SPEC §16): with HEARTBEAT_URL set, the leader requests it after
every polling round that worked, never delaying a round; a lost database or a stopped
scheduler stops the pings. The heartbeat service here is a receiver on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from heroku_monitor.runtime.heartbeat import Heartbeat
from heroku_monitor.service import Service
from tests.support.receiver import Receiver
from tests.support.web import wait_until
from tests.support.world import World, first_monitor

PING = "/ping/0d1b2c3e-4f5a-6789-abcd-ef0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def heartbeat_of(service: Service) -> Heartbeat:
    heartbeat = service.scheduler.polling.heartbeat
    assert heartbeat is not None, "HEARTBEAT_URL set: the service pings it"
    return heartbeat


@pytest.fixture
def service(world: World, receiver: Receiver) -> Iterator[Service]:
    service, _ = world.baseline(heartbeat_url=receiver.url + PING)
    yield service
    service.stop()


def round_of(service: Service) -> float:
    """One polling round of every monitor, as the leader runs it; how long it took."""
    started = time.monotonic()
    service.scheduler.run_round({m.id for m in service.monitors.all()})
    return time.monotonic() - started


def test_every_polling_round_that_worked_pings_the_heartbeat_url(
    service: Service, receiver: Receiver
):
    for n in (1, 2, 3):
        round_of(service)
        heartbeat_of(service).wait(timeout=5)
        assert [r.path for r in receiver.wait_for(n)] == [PING] * n
    assert heartbeat_of(service).sent == 3


def test_a_round_in_which_heroku_failed_still_pings_it_alerted_that(
    world: World, receiver: Receiver
):
    service, _ = world.baseline(heartbeat_url=receiver.url + PING)
    try:
        world.heroku.stop()  # Heroku is gone: every check of the round fails
        round_of(service)
        heartbeat_of(service).wait(timeout=5)
        assert len(receiver.wait_for(1)) == 1
        assert service.monitors.all()[0].last_ok is False
    finally:
        service.stop()


class ReadOnly:
    """Every new connection of the service's database is read-only (what SQLite does to a
    connection to a file it cannot write), or refused."""

    def __init__(self, service: Service, *, unreachable: bool = False) -> None:
        self.unreachable = unreachable
        event.listen(service.db.engine, "connect", self._connect)
        service.db.engine.dispose()

    def _connect(self, dbapi_connection: Any, _record: Any) -> None:
        if self.unreachable:
            raise sqlite3.OperationalError("unable to open database file")
        dbapi_connection.execute("PRAGMA query_only=ON")


@pytest.mark.parametrize("unreachable", [False, True])
def test_a_round_that_failed_on_the_database_sends_no_ping(
    service: Service, receiver: Receiver, unreachable: bool
):
    round_of(service)
    heartbeat_of(service).wait(timeout=5)
    assert len(receiver.wait_for(1)) == 1
    ReadOnly(service, unreachable=unreachable)
    # A round that raises (its delivery run failed on the database) did not work either.
    with contextlib.suppress(Exception):
        round_of(service)
    heartbeat_of(service).wait(timeout=5)
    if not unreachable:  # the round ran; its checks failed on the database
        assert service.checker.database_failures >= 1
    assert len(receiver.requests) == 1  # the ping before the database was lost, only


def test_a_round_whose_checks_could_not_write_their_state_sends_no_ping(
    service: Service, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    """The checks fail on the database (a locked or failed-over one) while the rest of
    the round, its delivery run included, still works: the round did not do its job."""

    def refused(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT INTO check_claims …", {}, sqlite3.OperationalError("locked"))

    monkeypatch.setattr(service.checker.claims, "claim", refused)
    monkeypatch.setattr(service.checker.claims, "claim_round", refused)  # a round's claims
    round_of(service)
    heartbeat_of(service).wait(timeout=5)
    assert service.checker.database_failures == 1
    assert receiver.requests == []
    monkeypatch.undo()  # the database works again: so do the pings
    round_of(service)
    heartbeat_of(service).wait(timeout=5)
    assert len(receiver.wait_for(1)) == 1


def test_a_heartbeat_that_hangs_never_delays_a_round_and_one_ping_at_most_is_in_flight(
    service: Service, receiver: Receiver
):
    round_of(service)  # a steady round, for its time
    heartbeat_of(service).wait(timeout=5)
    receiver.gate.clear()  # the heartbeat service now holds each request 5 s
    took = [round_of(service), round_of(service)]
    assert max(took) < 2.0, took  # while the first ping waits its 5 s
    receiver.wait_for(2)
    assert heartbeat_of(service).skipped == 1  # the second round's: one still pending
    receiver.gate.set()
    heartbeat_of(service).wait(timeout=10)
    assert len(receiver.requests) == 2


def test_a_process_that_does_not_lead_or_has_stopped_sends_no_ping(
    world: World, receiver: Receiver
):
    service, _ = world.baseline(heartbeat_url=receiver.url + PING)
    service.scheduler.start()
    try:
        wait_until(lambda: len(receiver.requests) >= 1)  # the leader's first round pinged
    finally:
        service.scheduler.shutdown()  # the scheduler stops: its rounds, and the pings
    heartbeat_of(service).wait(timeout=5)
    pinged, rounds = len(receiver.requests), service.scheduler.rounds
    assert not service.scheduler.leading  # it resigned the lease
    service.scheduler.polling.poll_now([first_monitor(service)])  # an interval job, too late
    assert service.scheduler.rounds == rounds and len(receiver.requests) == pinged
    service.stop()
    assert heartbeat_of(service).ping() is False  # closed with the service


def test_a_failing_heartbeat_is_logged_once_per_outage_and_never_raised(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
):
    heartbeat = Heartbeat(receiver.url + PING, timeout=5)
    receiver.answer(500, 503, 404, 200, 500)
    try:
        with caplog.at_level(logging.INFO, logger="heroku_monitor.runtime.heartbeat"):
            for _ in range(5):
                assert heartbeat.ping()
                heartbeat.wait(timeout=5)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 2  # the first outage, then the second
        assert all(PING not in r.getMessage() for r in caplog.records)  # the secret stays out
        assert (heartbeat.sent, heartbeat.failed) == (1, 4)
    finally:
        heartbeat.close()


def test_no_heartbeat_url_no_heartbeat(world: World):
    service = world.service()
    try:
        assert service.scheduler.polling.heartbeat is None
    finally:
        service.stop()


def test_a_heartbeat_that_cannot_connect_never_logs_its_secret_path(
    caplog: pytest.LogCaptureFixture,
):
    from tests.support.processes import free_port

    secret = "/ping/0b1c2d3e-4f5a-6b7c-8d9e-secret"
    heartbeat = Heartbeat(f"http://127.0.0.1:{free_port()}{secret}", timeout=5)  # refused
    try:
        with caplog.at_level(logging.INFO, logger="heroku_monitor.runtime.heartbeat"):
            assert heartbeat.ping()
            heartbeat.wait(timeout=5)
        assert heartbeat.failed == 1
        assert caplog.records, "the failure is said"
        assert all("secret" not in r.getMessage() for r in caplog.records)
    finally:
        heartbeat.close()
