"""The scheduler: one job per active monitor, changes applied at once, no trigger lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from heroku_monitor.db import Database
from heroku_monitor.monitors import Monitors
from heroku_monitor.outbox import Outbox
from heroku_monitor.scheduler import Scheduler
from tests.builders import T0


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class RecordingChecker:
    """Stands in for the Checker (and the delivery): records checks; a check of a monitor
    in `hold` blocks."""

    def __init__(self) -> None:
        self.checks: list[int] = []
        self.forced: list[bool] = []
        self.hold: dict[int, threading.Event] = {}
        self.lock = threading.Lock()

    def check(self, monitor_id: int, *, force: bool = False) -> None:
        if monitor_id in self.hold:
            self.hold[monitor_id].wait(5)
        with self.lock:
            self.checks.append(monitor_id)
            self.forced.append(force)

    def run(self) -> int:  # a delivery run
        return 0

    def count(self, monitor_id: int) -> int:
        with self.lock:
            return self.checks.count(monitor_id)


@pytest.fixture
def store(sqlite_url: str) -> Monitors:
    return Monitors(Database(sqlite_url))


@pytest.fixture
def scheduled(store: Monitors) -> Iterator[tuple[Scheduler, RecordingChecker]]:
    engine = RecordingChecker()
    scheduler = Scheduler(
        engine,  # type: ignore[arg-type]
        store,
        engine,  # type: ignore[arg-type]
        Outbox(store.db),
        max_workers=4,
    )
    yield scheduler, engine
    for event in engine.hold.values():
        event.set()
    scheduler.shutdown()


def test_every_active_monitor_is_checked_at_start_and_paused_ones_are_not(store, scheduled):
    scheduler, engine = scheduled
    a = store.add("app-one", "#a", 5, T0)
    b = store.add("app-two", "#a", 5, T0)
    paused = store.add("app-three", "#a", 5, T0)
    store.set_paused(paused, True, T0)
    scheduler.start()
    wait_until(lambda: engine.count(a) == 1 and engine.count(b) == 1)
    assert scheduler.next_run(paused) is None and engine.count(paused) == 0


def test_a_settings_change_reschedules_and_checks_at_once(store, scheduled):
    scheduler, engine = scheduled
    mid = store.add("app-one", "#a", 5, T0)
    scheduler.start()
    wait_until(lambda: engine.count(mid) == 1)
    store.update(mid, app_name="app-one", channel="#a", interval=1, now=T0)
    scheduler.sync(mid)
    wait_until(lambda: engine.count(mid) == 2)
    job = scheduler.aps.get_job(f"check-{mid}")
    assert job is not None and job.trigger.interval.total_seconds() == 60


def test_pausing_a_monitor_drops_its_job(store, scheduled):
    scheduler, _ = scheduled
    mid = store.add("app-one", "#a", 5, T0)
    scheduler.start()
    store.set_paused(mid, True, T0)
    scheduler.sync(mid)
    assert scheduler.next_run(mid) is None


def test_a_check_asked_for_while_one_runs_runs_again_after_it(store, scheduled):
    scheduler, engine = scheduled
    mid = store.add("app-one", "#a", 5, T0)
    engine.hold[mid] = threading.Event()
    scheduler.start()
    wait_until(lambda: mid in scheduler._running)
    # What a run_now job (or the interval job) does on a worker while the check runs:
    scheduler._check(mid)
    scheduler._check(mid)
    engine.hold[mid].set()
    wait_until(lambda: engine.count(mid) == 2)
    wait_until(lambda: mid not in scheduler._running)
    assert engine.count(mid) == 2  # two requests during one run coalesce into one re-run


def test_one_slow_app_never_stalls_the_others(store, scheduled):
    scheduler, engine = scheduled
    slow = store.add("slow-app", "#a", 5, T0)
    fast = [store.add(f"fast-app-{i}", "#a", 5, T0) for i in range(6)]
    engine.hold[slow] = threading.Event()
    scheduler.start()
    wait_until(lambda: all(engine.count(m) == 1 for m in fast))
    assert engine.count(slow) == 0


def test_run_now_checks_a_monitor_without_waiting_for_its_interval(store, scheduled):
    scheduler, engine = scheduled
    mid = store.add("app-one", "#a", 60, T0)
    scheduler.start()
    wait_until(lambda: engine.count(mid) == 1)
    scheduler.run_now(mid)
    wait_until(lambda: engine.count(mid) == 2)


def test_the_scheduler_follows_changes_another_process_saved(store, scheduled):
    scheduler, _ = scheduled
    kept = store.add("app-one", "#a", 5, T0)
    paused = store.add("app-two", "#a", 5, T0)
    scheduler.start()
    # Another gunicorn worker or dyno edits the database directly:
    store.update(kept, app_name="app-one", channel="#a", interval=2, now=T0)
    store.set_paused(paused, True, T0)
    added = store.add("app-three", "#a", 7, T0)
    scheduler.reconcile()
    seconds = {
        mid: scheduler.aps.get_job(f"check-{mid}").trigger.interval.total_seconds()
        for mid in (kept, added)
    }
    assert seconds == {kept: 120, added: 420}
    assert scheduler.next_run(paused) is None
    assert scheduler.aps.get_job("follow-monitors") is not None


def test_a_check_now_that_arrives_during_a_check_is_run_forced(store, scheduled):
    scheduler, engine = scheduled
    mid = store.add("app-one", "#a", 5, T0)
    engine.hold[mid] = threading.Event()
    scheduler.start()
    wait_until(lambda: mid in scheduler._running)
    scheduler._check(mid, True)  # a person pressed "Check now" on a paused monitor
    engine.hold[mid].set()
    wait_until(lambda: engine.count(mid) == 2)
    assert engine.forced == [False, True]
