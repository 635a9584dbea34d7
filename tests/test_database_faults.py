"""When the database fails (read-only, locked, unreachable): checks fail saying so,
/healthz answers 503 JSON naming the cause, and everything recovers at the next check once
the database is back. Start-up on a database it cannot write is one sentence."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support.processes import clean_env, run_app
from tests.support.web import wait_until
from tests.support.world import APP, World, first_monitor


class Fault:
    """Makes every new connection of a service's database read-only, or refused."""

    def __init__(self, service: Service) -> None:
        self.engine = service.db.engine
        self.read_only = False
        self.unreachable = False
        event.listen(self.engine, "connect", self._connect)

    def _connect(self, dbapi_connection: Any, _record: Any) -> None:
        if self.unreachable:
            raise sqlite3.OperationalError("unable to open database file")
        if self.read_only:  # what SQLite does to a connection to a file it cannot write
            dbapi_connection.execute("PRAGMA query_only=ON")

    def set(self, *, read_only: bool = False, unreachable: bool = False) -> None:
        self.read_only, self.unreachable = read_only, unreachable
        self.engine.dispose()  # connections opened from now on have the fault

    def heal(self) -> None:
        """The file is writable again; connections already pooled keep their state."""
        self.read_only = self.unreachable = False


@pytest.fixture
def service(world: World) -> Iterator[Service]:
    service, _ = world.baseline()
    service.web = create_app(service).test_client()  # type: ignore[attr-defined]
    service.scheduler.start()
    # The leader's starting round checks the app again: done before any fault is set.
    wait_until(lambda: service.scheduler.rounds >= 1)
    yield service
    service.stop()


def healthz(service: Service) -> tuple[int, dict]:
    """GET /healthz (the web app built before any fault: building it writes a secret)."""
    response = service.web.get("/healthz")  # type: ignore[attr-defined]
    assert response.is_json, response.get_data(as_text=True)[:200]
    return response.status_code, response.json


def test_checks_failing_on_a_read_only_database_turn_healthz_503_naming_the_cause(
    service: Service, world: World
):
    fault = Fault(service)
    fault.set(read_only=True)
    world.sim.crash_dyno(APP, "web.1")
    result = service.checker.check(first_monitor(service))
    assert result is not None and not result.ok and "readonly" in (result.error or "")
    status, body = healthz(service)
    assert status == 503 and body["status"] == "unhealthy"
    assert any("readonly" in problem for problem in body["problems"])


def test_checks_recover_at_the_next_check_once_the_file_is_writable_again(
    service: Service, world: World
):
    fault = Fault(service)
    fault.set(read_only=True)
    world.sim.crash_dyno(APP, "web.1")
    mid = first_monitor(service)
    service.checker.check(mid)
    healthz(service)  # reads work read-only: their connection goes back to the pool as is
    fault.heal()
    result = service.checker.check(mid)
    assert result is not None and result.ok
    assert healthz(service)[0] == 200
    # Nothing was lost meanwhile (a delivery job running at that moment may be the sender).
    wait_until(lambda: any("Dyno Crash" in text for text in world.texts()))


def test_healthz_is_503_json_when_the_database_cannot_be_reached(service: Service):
    fault = Fault(service)
    fault.set(unreachable=True)
    status, body = healthz(service)
    assert status == 503
    assert any("unable to open database file" in problem for problem in body["problems"])
    fault.heal()
    service.checker.check(first_monitor(service))  # a check can use the database again
    assert healthz(service)[0] == 200


def test_healthz_says_503_within_seconds_while_another_process_holds_the_write_lock(
    service: Service, world: World
):
    path = world.database_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        status, body = healthz(service)
        assert time.monotonic() - started < 5  # not the 30 s a check would wait
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert status == 503 and any("locked" in problem for problem in body["problems"])
    assert healthz(service)[0] == 200  # the lock is gone: well again, no check needed


def test_healthz_finds_a_read_only_database_before_any_check_fails_on_it(service: Service):
    Fault(service).set(read_only=True)
    status, body = healthz(service)
    assert status == 503
    assert any("cannot be written" in problem for problem in body["problems"])


def test_a_read_only_database_file_at_start_up_is_one_sentence(tmp_path: Path, world: World):
    world.service().stop()  # a database made and migrated, then opened read-only
    path = world.database_url.removeprefix("sqlite:///")
    env = clean_env(
        HEROKU_API_KEY="k",
        SLACK_BOT_TOKEN="xoxb-1",
        DATABASE_URL=f"sqlite:///file:{path}?mode=ro&uri=true",
    )
    done = run_app(env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "Cannot open the database" in line and "readonly" in line


def test_scheduler_jobs_failing_on_a_read_only_database_log_one_line_without_a_traceback(
    service: Service, caplog: pytest.LogCaptureFixture
):
    Fault(service).set(read_only=True)
    failed = "delivering the outbox failed on the database: attempt to write a readonly database"

    def delivery_failed() -> bool:
        # A run of the round's own (or the retry job's) may hold the delivery lock: this
        # run then leaves its work to that one and says nothing, so try again.
        service.scheduler.deliver()
        return any(r.getMessage() == failed for r in caplog.records)

    with caplog.at_level("WARNING", logger="heroku_monitor"):
        service.scheduler.poll_now([first_monitor(service)], gather=0)
        wait_until(lambda: service.scheduler.rounds >= 2)
        wait_until(delivery_failed)
    said = [r for r in caplog.records if r.name == "heroku_monitor.runtime.scheduler"]
    assert failed in [r.getMessage() for r in said]
    assert not [r for r in caplog.records if r.exc_info], "a traceback for a database fault"
