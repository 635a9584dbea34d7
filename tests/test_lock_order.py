"""SPEC §16, "Nothing wedges": on PostgreSQL rows are locked in one order everywhere (the
monitor, its state, its incidents and snoozes, its alerts), so a dashboard edit during a
check never deadlocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from heroku_monitor.runtime.check import CheckResult
from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.support.web import Site
from tests.support.world import APP, World, first_monitor

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_world(postgres_url: str) -> Iterator[World]:
    sim = Simulator(seed=7)
    sim.create_app(APP)
    sim.create_app("other-app")
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        yield World(sim, heroku, slack, postgres_url)


def waiting_on_locks(service: Service) -> int:
    """Backends of the test's database waiting on a row lock right now."""
    with service.db.engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return int(found)


def open_a_crash_incident(world: World, service: Service, monitor_id: int) -> None:
    service.checker.check(monitor_id)  # the baseline
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(monitor_id)
    world.sim.set_dyno_state(APP, "web.1", "up")


def test_a_dashboard_edit_while_a_check_records_never_deadlocks(pg_world: World):
    """The check holds the monitor's state and is about to write its incidents when the
    edit (another app: its incidents end quietly) starts: the edit waits for the state
    row before it touches an incident, instead of the two waiting on each other."""
    world = pg_world
    service = world.service()
    try:
        monitor_id = first_monitor(service)
        store = service.checker.incident_store
        real_save = store.save
        failures: list[str] = []

        for _ in range(3):
            service.monitors.update(
                monitor_id, app_name=APP, channel="#alerts", interval=1, now=service.clock()
            )
            open_a_crash_incident(world, service, monitor_id)
            world.sim.crash_dyno(APP, "web.1")
            holding = threading.Event()

            def save(s: Any, mid: int, incidents: Any, holding: threading.Event = holding) -> None:
                holding.set()  # the check holds the state row now
                deadline = time.monotonic() + 5
                while waiting_on_locks(service) == 0 and time.monotonic() < deadline:
                    time.sleep(0.01)  # until the edit waits on a lock of ours
                real_save(s, mid, incidents)

            store.save = save  # type: ignore[method-assign,assignment]
            results: list[CheckResult | None] = []
            check = threading.Thread(
                target=lambda results=results: results.append(service.checker.check(monitor_id))
            )
            check.start()
            assert holding.wait(10)
            try:
                service.monitors.update(
                    monitor_id,
                    app_name="other-app",
                    channel="#alerts",
                    interval=1,
                    now=service.clock(),
                )
            except Exception as exc:  # the deadlock PostgreSQL broke by aborting the edit
                failures.append(f"the edit failed: {exc}")
            check.join(30)
            store.save = real_save  # type: ignore[method-assign]
            (result,) = results
            if result is not None and not result.ok:
                failures.append(f"the check failed: {result.error}")
        assert failures == []
    finally:
        service.stop()


def test_dashboard_edits_during_checks_never_fail_a_check_or_an_edit(pg_world: World):
    """Fifty edits on the dashboard (the app and back, the channel) while checks of the
    monitor run in other threads: no deadlock, no failed check."""
    world = pg_world
    service = world.service()
    flask_app = create_app(service)
    site = Site(service, flask_app, flask_app.test_client())
    try:
        monitor_id = first_monitor(service)
        open_a_crash_incident(world, service, monitor_id)
        stop = threading.Event()
        failures: list[str] = []

        def keep_checking() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                world.sim.set_dyno_state(APP, "web.1", "crashed" if n % 2 else "up")
                result = service.checker.check(monitor_id)
                if result is not None and not result.ok:
                    failures.append(f"a check failed: {result.error}")

        threads = [threading.Thread(target=keep_checking) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            edits = [("other-app", "#alerts"), (APP, "#alerts"), (APP, "#elsewhere")]
            for i in range(50):
                app, channel = edits[i % len(edits)]
                answer = site.post(
                    "/update-config",
                    {
                        "monitor_id": str(monitor_id),
                        "app_name": app,
                        "slack_channel": channel,
                        "check_interval": "1",
                    },
                )
                if answer.status_code != 303:
                    failures.append(f"edit {i} answered {answer.status_code}")
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        assert failures == []
    finally:
        service.stop()
