"""The drains' counts are summed in memory and written by each process's flusher (SPEC
§12, §13): several processes still add up, a clean shutdown loses nothing, and memory is
capped whatever the traffic."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from heroku_monitor import service as service_module
from heroku_monitor.service import Service
from heroku_monitor.settings import Settings
from heroku_monitor.store import log_counts
from heroku_monitor.store.database import Database
from heroku_monitor.store.log_counts import Flushed, LogCounts, PendingFull
from heroku_monitor.web import create_app
from tests.support.drains import SECRET, auth
from tests.support.logplex import H12, OK, body, frame
from tests.support.web import wait_until

APP = "my-app"


def post(client: FlaskClient, data: bytes, frame_id: str) -> None:
    headers = {**auth(), "Logplex-Frame-Id": frame_id}
    response = client.post(f"/drains/heroku/{APP}", data=data, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)


def h12s(n: int, at: datetime) -> bytes:
    return body(*(frame(H12, at) for _ in range(n)), *(frame(OK, at) for _ in range(n)))


def summed(url: str, since: datetime) -> dict[str, int]:
    found: dict[str, int] = {}
    for _, metric, n in LogCounts(Database(url)).since(APP, since):
        found[metric] = found.get(metric, 0) + n
    return found


@pytest.fixture
def services(database_url: str) -> Iterator[list[Service]]:
    """Two processes' services on one database (web dynos sharing the drain's posts)."""
    settings = Settings(database_url=database_url, heroku_drain_secret=SECRET)
    built = [service_module.build(settings) for _ in range(2)]
    yield built
    for service in built:
        service.stop()


def counter_writes(service: Service) -> list[str]:
    """The statements that write the log counters, as this service's engine sends them."""
    seen: list[str] = []

    @event.listens_for(service.db.engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO LOG_COUNTS"):
            seen.append(statement)

    return seen


def test_drain_counts_reach_the_shared_counters_from_two_processes(
    services: list[Service], database_url: str
):
    now = datetime.now(UTC)
    clients = [create_app(s).test_client() for s in services]
    writes = [counter_writes(s) for s in services]
    started = time.monotonic()
    for n in range(20):  # a storm's batches, shared by the two processes
        post(clients[n % 2], h12s(3, now), f"frame-{n}")
    took = time.monotonic() - started
    since = now.replace(second=0, microsecond=0)
    # No flush asked for: each process's flusher writes within a second.
    wait_until(lambda: summed(database_url, since).get("code:H12") == 60, timeout=10)
    assert summed(database_url, since)["requests"] == 120
    # One statement a flush, at most once a second: not one a batch.
    for seen in writes:
        assert 1 <= len(seen) <= took + 3, len(seen)


def test_pending_drain_counts_survive_a_clean_shutdown(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
):
    monkeypatch.setattr(log_counts, "FLUSH_EVERY", 3600.0)  # no flush but the last one
    settings = Settings(database_url=sqlite_url, heroku_drain_secret=SECRET)
    service = service_module.build(settings)
    now = datetime.now(UTC)
    post(create_app(service).test_client(), h12s(7, now), "frame-1")
    since = now.replace(second=0, microsecond=0)
    assert summed(sqlite_url, since) == {}  # answered before any write
    service.stop()
    assert summed(sqlite_url, since)["code:H12"] == 7


def test_pending_drain_counts_are_capped(sqlite_url: str, caplog: pytest.LogCaptureFixture):
    """Past the cap a batch waits for the write of what is pending (said once in the log,
    then counted): memory stays bounded and no count is lost."""
    counts = LogCounts(Database(sqlite_url), cap=50, every=3600.0)
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = [(minute, f"path:H12:/p{i}", 1) for i in range(9)]  # 9 rows + the batch: 10
    most = 0
    with caplog.at_level(logging.WARNING, logger=log_counts.__name__):
        for n in range(23):
            assert counts.take(APP, f"frame-{n}", rows, 9, minute + timedelta(seconds=1))
            most = max(most, counts.pending)
    assert most <= 50
    assert counts.over_cap == 4  # batches 6, 11, 16 and 21 found it full
    said = [r.getMessage() for r in caplog.records if "cap" in r.getMessage()]
    assert len(said) == 1 and "50" in said[0]
    counts.close()
    assert summed(sqlite_url, minute) == {f"path:H12:/p{i}": 23 for i in range(9)}


def test_a_batch_bigger_than_the_cap_is_written_at_once(sqlite_url: str):
    counts = LogCounts(Database(sqlite_url), cap=5, every=3600.0)
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = [(minute, f"path:H12:/p{i}", 1) for i in range(9)]
    assert counts.take(APP, "big", rows, 9, minute)
    assert counts.pending == 0
    assert len(summed(sqlite_url, minute)) == 9
    assert not counts.take(APP, "big", rows, 9, minute)  # sent again: refused


def test_while_the_database_is_away_the_counts_wait_then_a_full_cap_refuses_batches(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    counts = LogCounts(Database(sqlite_url), cap=30, every=3600.0)
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = [(minute, "code:H12", 1)] * 9

    def away(*_args, **_kwargs):
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(log_counts, "_add_counts", away)
    assert counts.take(APP, "f-1", rows, 9, minute) and counts.take(APP, "f-2", rows, 9, minute)
    assert counts.flush() is None and counts.pending == 20  # kept, to try again
    assert counts.take(APP, "f-3", rows, 9, minute)
    with pytest.raises(PendingFull):
        counts.take(APP, "f-4", rows, 9, minute)  # full, and the write cannot make room
    monkeypatch.undo()
    assert counts.flush() == Flushed(3, 0, frozenset({APP}))
    assert summed(sqlite_url, minute) == {"code:H12": 27}


def test_a_batch_the_database_refuses_is_dropped_alone_and_the_others_are_written(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    counts = LogCounts(Database(sqlite_url), every=3600.0)
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    add = log_counts._add_counts

    def refuse_bad(db, s, batches):
        if any(taken.app == "bad-app" for taken in batches):
            raise ValueError("a bug, or a value the database refuses")
        add(db, s, batches)

    monkeypatch.setattr(log_counts, "_add_counts", refuse_bad)
    for n, app in enumerate([APP, "bad-app", APP]):
        assert counts.take(app, f"f-{n}", [(minute, "requests", 5)], 5, minute)
    with caplog.at_level(logging.ERROR, logger=log_counts.__name__):
        assert counts.flush() == Flushed(2, 0, frozenset({APP}), 1)
    assert counts.pending == 0 and counts.dropped == 1  # no wedge: nothing waits
    assert summed(sqlite_url, minute) == {"requests": 10}
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1
