"""The scheduler: one job per active monitor, changes applied at once, no trigger lost."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta

import pytest

from heroku_monitor.core.rounds import RoundListing
from heroku_monitor.runtime.check import CheckResult
from heroku_monitor.runtime.scheduler import Scheduler
from heroku_monitor.store.claims import CheckClaims
from heroku_monitor.store.database import Database
from heroku_monitor.store.leader import Leadership
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import Outbox
from heroku_monitor.store.sightings import WebhookLedger
from heroku_monitor.store.spend import Spend
from heroku_monitor.store.teams import TeamWatches
from tests.support.builders import T0
from tests.support.web import NO_INTERVAL_POLLS, wait_until


class NoHeroku:
    """The Heroku client a round's lists come from: empty lists, no requests. While `hold`
    is set, a listing blocks until it is set again (a slow Heroku)."""

    def __init__(self) -> None:
        self.listings = 0
        self.hold: threading.Event | None = None

    def listing(self, *, apps: bool, teams: list[str]) -> RoundListing:
        self.listings += 1
        if self.hold is not None:
            self.hold.wait(10)
        return RoundListing()

    def spent(self, source: str) -> int:
        return 0


class RecordingChecker:
    """Stands in for the Checker (and the delivery): records checks and when they ran; a
    check of a monitor in `hold` blocks. `throttled_until` is the Checker's rate-limit
    pause: a check asked for before it ends is refused, as the Checker refuses it. Its
    claims and webhook windows are the real ones, in the database."""

    def __init__(self, db: Database) -> None:
        self.claims = CheckClaims(db)
        self.heroku = NoHeroku()
        self.sources: list[str] = []
        self.checks: list[int] = []
        self.forced: list[bool] = []
        self.times: list[datetime] = []
        self.refused: list[int] = []
        self.hold: dict[int, threading.Event] = {}
        self.lock = threading.Lock()
        self.throttled_until: datetime | None = None
        self.delivering: threading.Event | None = None

    def clock(self) -> datetime:
        return datetime.now(UTC)

    def flush_spend(self) -> None:
        pass

    def check(
        self,
        monitor_id: int,
        *,
        force: bool = False,
        source: str = "asked",
        listing: RoundListing | None = None,
        deliver: bool = True,
    ) -> CheckResult:
        now = self.clock()
        if self.throttled_until is not None and now < self.throttled_until:
            with self.lock:
                self.refused.append(monitor_id)
            return CheckResult(monitor_id, "app", False, now, [], "paused")
        if monitor_id in self.hold:
            self.hold[monitor_id].wait(5)
        with self.lock:
            self.checks.append(monitor_id)
            self.sources.append(source)
            self.forced.append(force)
            self.times.append(now)
        return CheckResult(monitor_id, "app", True, now)

    def check_round(
        self, monitor_ids: Collection[int], listing: RoundListing, pool: Executor, **_: object
    ) -> list[CheckResult]:  # a polling round: each of its monitors' checks, on the pool
        return list(
            pool.map(
                lambda mid: self.check(mid, source="poll", listing=listing, deliver=False),
                sorted(monitor_ids),
            )
        )

    def run(self) -> int:  # a delivery run; blocks while `delivering` is held
        if self.delivering is not None:
            self.delivering.wait(10)
        return 0

    def count(self, monitor_id: int) -> int:
        with self.lock:
            return self.checks.count(monitor_id)


@pytest.fixture
def monitors(sqlite_url: str) -> Monitors:
    return Monitors(Database(sqlite_url))


@pytest.fixture
def scheduled(monitors: Monitors) -> Iterator[tuple[Scheduler, RecordingChecker]]:
    checker = RecordingChecker(monitors.db)
    db, outbox = monitors.db, Outbox(monitors.db)
    scheduler = Scheduler(
        checker,  # type: ignore[arg-type]
        monitors,
        checker,  # type: ignore[arg-type]
        outbox,
        teams=TeamWatches(db, outbox),
        spend=Spend(db),
        ledger=WebhookLedger(db),
        leadership=Leadership(db, clock=checker.clock, holder=checker.claims.owner),
        max_workers=4,
    )
    yield scheduler, checker
    for event in checker.hold.values():
        event.set()
    scheduler.shutdown()


def test_every_active_monitor_is_checked_at_start_and_paused_ones_are_not(monitors, scheduled):
    scheduler, checker = scheduled
    a = monitors.add("app-one", "#a", 5, T0)
    b = monitors.add("app-two", "#a", 5, T0)
    paused = monitors.add("app-three", "#a", 5, T0)
    monitors.set_paused(paused, True, T0)
    scheduler.start()
    wait_until(lambda: checker.count(a) == 1 and checker.count(b) == 1)
    assert scheduler.next_run(monitors.get(paused)) is None and checker.count(paused) == 0


def test_a_settings_change_reschedules_and_checks_at_once(monitors, scheduled):
    scheduler, checker = scheduled
    mid = monitors.add("app-one", "#a", 5, T0)
    scheduler.start()
    wait_until(lambda: checker.count(mid) == 1)
    monitors.update(mid, app_name="app-one", channel="#a", interval=1, now=T0)
    scheduler.sync(mid)
    wait_until(lambda: checker.count(mid) == 2)
    job = scheduler.aps.get_job(f"check-{mid}")
    assert job is not None and job.trigger.interval.total_seconds() == 60


def test_pausing_a_monitor_drops_its_job(monitors, scheduled):
    scheduler, _ = scheduled
    mid = monitors.add("app-one", "#a", 5, T0)
    scheduler.start()
    monitors.set_paused(mid, True, T0)
    scheduler.sync(mid)
    assert scheduler.next_run(monitors.get(mid)) is None


def test_a_check_asked_for_while_one_runs_runs_again_after_it(monitors, scheduled):
    scheduler, checker = scheduled
    mid = monitors.add("app-one", "#a", 5, T0)
    checker.hold[mid] = threading.Event()
    scheduler.start()
    wait_until(lambda: mid in scheduler.triggers.checking)
    # What a run_now job (or the interval job) does on a worker while the check runs:
    scheduler.triggers.check(mid)
    scheduler.triggers.check(mid)
    checker.hold[mid].set()
    wait_until(lambda: checker.count(mid) == 2)
    wait_until(lambda: mid not in scheduler.triggers.checking)
    assert checker.count(mid) == 2  # two requests during one run coalesce into one re-run


def test_one_slow_app_never_stalls_the_others(monitors, scheduled):
    scheduler, checker = scheduled
    slow = monitors.add("slow-app", "#a", 5, T0)
    fast = [monitors.add(f"fast-app-{i}", "#a", 5, T0) for i in range(6)]
    checker.hold[slow] = threading.Event()
    scheduler.start()
    wait_until(lambda: all(checker.count(m) == 1 for m in fast))
    assert checker.count(slow) == 0


def test_run_now_checks_a_monitor_without_waiting_for_its_interval(monitors, scheduled):
    scheduler, checker = scheduled
    mid = monitors.add("app-one", "#a", 60, T0)
    scheduler.start()
    wait_until(lambda: checker.count(mid) == 1)
    scheduler.run_now(mid)
    wait_until(lambda: checker.count(mid) == 2)


def test_the_scheduler_follows_changes_another_process_saved(monitors, scheduled):
    scheduler, _ = scheduled
    kept = monitors.add("app-one", "#a", 5, T0)
    paused = monitors.add("app-two", "#a", 5, T0)
    scheduler.start()
    # Another gunicorn worker or dyno edits the database directly:
    monitors.update(kept, app_name="app-one", channel="#a", interval=2, now=T0)
    monitors.set_paused(paused, True, T0)
    added = monitors.add("app-three", "#a", 7, T0)
    scheduler.reconcile()
    seconds = {
        mid: scheduler.aps.get_job(f"check-{mid}").trigger.interval.total_seconds()
        for mid in (kept, added)
    }
    assert seconds == {kept: 120, added: 420}
    assert scheduler.next_run(monitors.get(paused)) is None
    assert scheduler.aps.get_job("follow-monitors") is not None


def test_a_check_now_that_arrives_during_a_check_is_run_forced(monitors, scheduled):
    scheduler, checker = scheduled
    mid = monitors.add("app-one", "#a", 5, T0)
    checker.hold[mid] = threading.Event()
    scheduler.start()
    wait_until(lambda: mid in scheduler.triggers.checking)
    scheduler.triggers.check(mid, True)  # a person pressed "Check now" on a paused monitor
    checker.hold[mid].set()
    wait_until(lambda: checker.count(mid) == 2)
    assert checker.forced == [False, True]


# -- webhooks' checks: debounced, deferred past a rate-limit pause, counted in the budget ---


@pytest.fixture
def started(monitors, scheduled) -> tuple[Scheduler, RecordingChecker, int]:
    """A started scheduler (webhook debounce 0.1 s) whose one monitor had its first check."""
    scheduler, checker = scheduled
    scheduler.debounce = 0.1
    scheduler.minute = NO_INTERVAL_POLLS  # the tests count checks: no interval poll
    mid = monitors.add("app-one", "#a", 5, T0)
    scheduler.start()
    wait_until(lambda: checker.count(mid) == 1 and idle(scheduler, mid))
    return scheduler, checker, mid


def idle(scheduler: Scheduler, mid: int) -> bool:
    """No check of `mid` running, and none waiting (webhook, deferred or asked for)."""
    waiting = [j for j in scheduler.aps.get_jobs() if not j.id.startswith("check-")]
    waiting = [j for j in waiting if j.args and j.args[0] == mid]
    return not waiting and mid not in scheduler.triggers.checking


def test_a_webhook_is_checked_at_once_and_the_rest_of_its_storm_joins_one_trailing_check(
    started,
):
    scheduler, checker, mid = started
    scheduler.debounce = 5.0  # the whole storm falls in the window
    scheduled = [scheduler.check_soon(mid) for _ in range(50)]
    assert scheduled == [True, True] + [False] * 48
    wait_until(lambda: checker.count(mid) == 2)  # the first delivery's check: no delay
    assert checker.count(mid) == 2  # the trailing one waits for the window's end


def test_a_storm_costs_two_checks(started):
    scheduler, checker, mid = started
    scheduler.debounce = 1.5  # fifty deliveries, each a database write, fall in the window
    assert [scheduler.check_soon(mid) for _ in range(50)] == [True, True] + [False] * 48
    wait_until(lambda: checker.count(mid) == 3 and idle(scheduler, mid))
    assert checker.count(mid) == 3  # the first check, the storm's leading and trailing ones


def test_a_trailing_check_that_starts_late_does_not_push_the_next_window_later(started):
    # The windows of a storm follow each other from its first delivery: the next one opens
    # where the last one ended, not when its trailing check got a worker. Otherwise each
    # late start (a millisecond or a busy pool's seconds) moved every later window on, and
    # a lone delivery a second after the previous one waited up to a whole window.
    scheduler, checker, mid = started
    t0 = datetime.now(UTC)
    clock = [t0]
    checker.clock = lambda: clock[0]
    scheduler.debounce = 0.2
    assert scheduler.check_soon(mid) and scheduler.check_soon(mid)  # at once; at t0 + 0.2 s
    clock[0] = t0 + timedelta(seconds=5)  # the trailing check starts 4.8 s late
    wait_until(lambda: checker.count(mid) == 3 and idle(scheduler, mid))
    # Its window was t0 + 0.2 s to t0 + 0.4 s: a delivery now opens a new one and checks
    # at once (0.0), instead of waiting for the end of a window opened late (0.2).
    assert checker.claims.webhook_window(mid, clock[0], 0.2) == 0.0


def test_a_webhook_request_while_its_check_runs_gets_one_trailing_check(started):
    scheduler, checker, mid = started
    scheduler.debounce = 1.0  # the ten deliveries below, each a database write, fall in it
    checker.hold[mid] = threading.Event()
    scheduler.check_soon(mid)
    wait_until(lambda: mid in scheduler.triggers.checking)
    # The check is reading Heroku; the app changes again and its deliveries come in:
    assert [scheduler.check_soon(mid) for _ in range(10)] == [True] + [False] * 9
    # The trailing check waits for the first:
    wait_until(lambda: mid in scheduler.triggers.checking_again)
    checker.hold[mid].set()
    wait_until(lambda: checker.count(mid) == 3 and idle(scheduler, mid))
    assert checker.count(mid) == 3  # the first check, the webhook's, its trailing one


def test_checks_asked_for_during_a_rate_limit_pause_run_once_when_it_ends(started):
    scheduler, checker, mid = started
    ends = datetime.now(UTC) + timedelta(seconds=2)  # room for a loaded machine
    checker.throttled_until = ends
    scheduler.check_soon(mid)  # a webhook
    scheduler.run_now(mid)  # a person's "check now"
    scheduler.run_now(mid, force=True)
    wait_until(lambda: checker.count(mid) == 2 and idle(scheduler, mid))
    assert checker.count(mid) == 2  # one check for all three, at the end of the pause
    assert checker.times[-1] >= ends and checker.forced[-1] is True
    assert checker.refused == []  # deferred by the scheduler, never refused by the checker


def test_a_poll_during_a_rate_limit_pause_waits_for_its_next_interval(started):
    scheduler, checker, mid = started
    checker.throttled_until = datetime.now(UTC) + timedelta(minutes=5)
    scheduler.triggers.check(mid, False, "poll")  # what the interval job runs
    assert idle(scheduler, mid) and checker.count(mid) == 1 and not scheduler.triggers.deferred


def test_webhook_checks_of_the_last_hour_stretch_polling(monitors, scheduled):
    scheduler, checker = scheduled
    ids = [monitors.add(f"app-{i}", "#a", 1, T0) for i in range(7)]  # 2,100 requests/h
    scheduler.start()
    assert not scheduler.budget.stretched  # within half of 4,500
    wait_until(lambda: scheduler.rounds >= 1)  # the first round measured what it cost
    scheduler.aps.pause()  # no poll measures again meanwhile (the grid is a minute's)
    now = checker.clock()
    scheduler.requests_per_poll = 5  # as if each app were polled alone
    # 1,500 requests spent by webhooks' checks in the last hour, by this process or others:
    scheduler.spend.add({"webhook": 1000}, now - timedelta(minutes=30))
    scheduler.spend.add({"webhook": 500, "asked": 0}, now - timedelta(minutes=10))
    scheduler.spend.add({"webhook": 5}, now - timedelta(minutes=62))  # too old to count
    scheduler.reconcile()
    assert scheduler.budget.webhook_per_hour == 1500
    assert scheduler.budget.stretch == pytest.approx(2100 / 750)
    job = scheduler.aps.get_job(f"check-{ids[0]}")
    assert job.trigger.interval.total_seconds() == 168


def test_a_plan_that_moves_never_pushes_a_poll_further_away(monitors, scheduled):
    scheduler, checker = scheduled
    mid = monitors.add("app-one", "#a", 1, T0)
    scheduler.start()
    wait_until(lambda: scheduler.rounds >= 1)
    scheduler.aps.pause()  # no poll runs meanwhile (its grid point may be a second away)
    due = scheduler.next_run(monitors.get(mid))
    assert due is not None
    scheduler.requests_per_poll = 5
    for _ in range(100):  # the plan is made again every minute, moving a little each time
        scheduler.spend.add({"webhook": 5}, checker.clock())
        monitors.add("app-more", "#a", 1, T0)
        scheduler.reconcile()
    polled = scheduler.next_run(monitors.get(mid))
    assert scheduler.budget.stretched and polled is not None and polled <= due


def test_webhooks_that_spent_their_part_of_the_budget_wait_for_the_next_poll(started):
    scheduler, checker, mid = started
    now = checker.clock()
    # 1,800 requests: webhooks' whole part of half of 4,500, spent by any process
    scheduler.spend.add({"webhook": 1800}, now - timedelta(minutes=5))
    assert scheduler.check_soon(mid)
    wait_until(lambda: idle(scheduler, mid))
    assert checker.count(mid) == 1  # only the first check: the webhook's never ran
    scheduler.run_now(mid)  # a person's "check now" is no webhook's: it runs
    wait_until(lambda: checker.count(mid) == 2)


def test_a_scheduler_stopped_while_its_thread_is_starting_shuts_down_without_an_error(
    scheduled,
):
    """Ctrl-C can land while APScheduler's thread is starting, before it can be joined:
    the shutdown still ends cleanly (that thread sees the stop and ends on its own)."""
    scheduler, _ = scheduled
    scheduler.start()
    running = scheduler.aps._thread
    scheduler.aps._thread = threading.Thread(target=lambda: None)
    scheduler.shutdown()  # the starting thread cannot be joined yet: no RuntimeError
    running.join(timeout=10)
    assert not running.is_alive() and not scheduler.aps.running


def test_a_stop_waits_for_a_running_job_that_asks_the_scheduler_something(scheduled):
    """APScheduler's own shutdown(wait=True) holds its lock while it waits for running
    jobs: a job then asking it for its jobs would wait forever, and so would the stop."""
    scheduler, _ = scheduled
    scheduler.start()
    started, go_on, asked = threading.Event(), threading.Event(), []

    def job() -> None:
        started.set()
        go_on.wait(10)
        asked.append(len(scheduler.aps.get_jobs()))

    scheduler.aps.add_job(job)
    assert started.wait(10)
    stopping = threading.Thread(target=scheduler.stop_jobs)
    stopping.start()
    wait_until(lambda: not scheduler.aps.running)  # the stop is waiting for the job now
    go_on.set()
    stopping.join(timeout=10)
    assert not stopping.is_alive(), "the stop hung on a job asking the scheduler"
    assert len(asked) == 1


def test_a_round_that_falls_due_while_one_runs_waits_for_it_and_takes_what_fell_due(
    monitors, scheduled
):
    scheduler, checker = scheduled
    one, two = monitors.add("app-one", "#a", 5, T0), monitors.add("app-two", "#a", 5, T0)
    scheduler.minute = NO_INTERVAL_POLLS
    checker.heroku.hold = threading.Event()
    scheduler.start()  # its first round reads the lists, slowly
    wait_until(lambda: checker.heroku.listings == 1)
    scheduler.poll_now([one])
    scheduler.poll_now([two])  # one round job, which gathers both
    wait_until(lambda: scheduler.polling.rounds_waiting == 1 or checker.heroku.listings > 1)
    assert checker.heroku.listings == 1  # it waits: never the lists twice at once
    checker.heroku.hold.set()
    wait_until(lambda: scheduler.rounds == 2)
    assert checker.heroku.listings == 2 and checker.count(one) == checker.count(two) == 2


def test_a_round_is_counted_once_its_alerts_are_sent(monitors, scheduled):
    scheduler, checker = scheduled
    mid = monitors.add("app-one", "#a", 5, T0)
    checker.delivering = threading.Event()
    scheduler.start()
    wait_until(lambda: checker.count(mid) == 1)
    assert scheduler.rounds == 0  # checked, its delivery run still going
    checker.delivering.set()
    wait_until(lambda: scheduler.rounds == 1)
