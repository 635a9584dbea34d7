"""APScheduler jobs: one per active monitor at its interval, plus the outbox's retries,
webhooks' checks (debounced) and checks waiting for a rate-limit pause to end.

Checks run on a bounded thread pool, so several apps are checked at once and one slow
app never holds up the others (each Heroku call has its own timeout too).

Where a check comes from decides what happens to it:
- the interval job ("poll") runs at the monitor's interval within the rate budget; during
  a rate-limit pause it is skipped (the next interval comes);
- a webhook delivery ("webhook", `check_soon`) checks its app at once; the deliveries of
  the next `debounce` seconds join one trailing check at the window's end, which sees the
  last change: a storm of deliveries costs two checks, a lone delivery one, with no delay;
- a person or a settings change ("asked", `run_now`) runs as soon as a worker is free.
A webhook's or a person's check asked for during a rate-limit pause (`Checker.throttled_until`)
runs when the pause ends: one check per monitor, however many were asked for.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from heroku_monitor import budget
from heroku_monitor.check import Checker
from heroku_monitor.conversations import Conversations
from heroku_monitor.delivery import Delivery
from heroku_monitor.monitors import Monitors
from heroku_monitor.outbox import Outbox
from heroku_monitor.sightings import SIGHTING_TTL, WebhookLedger

log = logging.getLogger(__name__)

DELIVERY_JOB = "deliver-outbox"
PRUNE_JOB = "prune-alert-log"
RECONCILE_JOB = "follow-monitors"
RECONCILE_EVERY = 60  # seconds
TEND_JOB = "tend-incidents"
TEND_EVERY = 60  # seconds
# A webhook's check waits this long for the rest of its storm (a deploy sends dozens).
DEBOUNCE = 1.0  # seconds

POLL, ASKED, WEBHOOK = "poll", "asked", "webhook"  # where a check request comes from


def _job_id(monitor_id: int) -> str:
    return f"check-{monitor_id}"


@dataclass(frozen=True)
class _Request:
    """What was asked of a monitor's next check: forced (paused monitors too), and by whom."""

    force: bool
    sources: frozenset[str]

    def __or__(self, other: _Request) -> _Request:
        return _Request(self.force or other.force, self.sources | other.sources)


class Scheduler:
    def __init__(
        self,
        checker: Checker,
        monitors: Monitors,
        delivery: Delivery,
        outbox: Outbox,
        *,
        max_workers: int = 4,
        deliver_every: int = 15,
        rate_share: float = 0.5,
        debounce: float = DEBOUNCE,
    ) -> None:
        self.checker = checker
        self.monitors = monitors
        self.delivery = delivery
        self.outbox = outbox
        self.deliver_every = deliver_every
        self.rate_share = rate_share
        # Set by the service: incidents and snoozes, tended every minute.
        self.conversations: Conversations | None = None
        self.debounce = debounce
        self.ledger = WebhookLedger(monitors.db)
        self.budget = budget.plan([], share=rate_share)
        self._lock = threading.Lock()
        self._running: set[int] = set()
        self._again: dict[int, _Request] = {}  # monitor -> what its re-run was asked for
        # Per monitor: when its webhook window ends (time.monotonic()), and whether a
        # trailing check waits for that end.
        self._window_ends: dict[int, float] = {}
        self._trailing: set[int] = set()
        self._logs_waiting: set[int] = set()  # monitors whose log check waits to start
        self._wakes: set[int] = set()  # the seconds a delivery run is scheduled at
        self._deferred: dict[int, _Request] = {}  # monitor -> its check after the pause
        self.aps = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers)},
            # A check that waited for a free worker still runs (once, however late): a
            # busy pool must delay checks, never skip them.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return bool(self.aps.running)

    def start(self) -> None:
        """Schedule every active monitor, each checked once right away, and start."""
        self.aps.start()
        self.reconcile()
        for monitor in self.monitors.all():
            if not monitor.paused:
                self.run_now(monitor.id)
        self.aps.add_job(
            self._deliver,
            "interval",
            seconds=self.deliver_every,
            id=DELIVERY_JOB,
            replace_existing=True,
        )
        self.aps.add_job(self._prune, "interval", hours=24, id=PRUNE_JOB, replace_existing=True)
        # Other processes (gunicorn workers, more dynos) change monitors too: follow the
        # database, so a pause or a new interval saved anywhere reaches every scheduler.
        self.aps.add_job(
            self._reconcile,
            "interval",
            seconds=RECONCILE_EVERY,
            id=RECONCILE_JOB,
            replace_existing=True,
        )
        # Incidents end when quiet, snoozes run out: both are time's doing, not a check's.
        self.aps.add_job(
            self._tend, "interval", seconds=TEND_EVERY, id=TEND_JOB, replace_existing=True
        )

    def shutdown(self) -> None:
        """Stop scheduling and wait for running checks (each is bounded by its timeouts)."""
        if self.aps.running:
            # Paused first: its loop then takes no job while the job store is emptied under
            # it (APScheduler's own loop would trip over a job removed by the shutdown).
            self.aps.pause()
            self.aps.shutdown(wait=True)

    def sync(self, monitor_id: int) -> None:
        """Apply a monitor's saved settings at once: reschedule, and check it now unless
        it is paused or gone."""
        self.reconcile()
        monitor = self.monitors.get(monitor_id)
        if monitor is not None and not monitor.paused:
            self.run_now(monitor.id)

    def reconcile(self) -> None:
        """Make the interval jobs match the monitors in the database, within the rate
        budget (less what webhooks' checks spent in the last hour): a job per active
        monitor at its (stretched) interval, none for the rest."""
        active = {m.id: m for m in self.monitors.all() if not m.paused}
        webhook_checks = self.ledger.checks_since(self.checker.clock() - SIGHTING_TTL)
        planned = budget.plan(
            [m.check_interval for m in active.values()],
            share=self.rate_share,
            webhook_checks_last_hour=webhook_checks,
        )
        before = self.budget.stretch
        # Webhook checks move the plan a little every minute: say so only when it moved.
        if planned.stretched and (
            not self.budget.stretched or abs(planned.stretch / before - 1) > 0.1
        ):
            log.warning(
                "polling %d apps as configured would take %.0f Heroku requests an hour, over "
                "the %.0f left for polling (%.0f%% of 4,500, less %.0f for %d webhook checks "
                "in the last hour): intervals are stretched %.1f times",
                len(active),
                planned.demand_per_hour,
                planned.allowed_per_hour,
                self.rate_share * 100,
                planned.webhook_per_hour,
                webhook_checks,
                planned.stretch,
            )
        self.budget = planned
        for job in self.aps.get_jobs():
            if job.id.startswith("check-") and int(job.id.split("-")[1]) not in active:
                with contextlib.suppress(JobLookupError):
                    self.aps.remove_job(job.id)
        for monitor in active.values():
            job = self.aps.get_job(_job_id(monitor.id))
            wanted = planned.seconds(monitor.check_interval)
            interval = getattr(getattr(job, "trigger", None), "interval", None)
            if interval is None or interval.total_seconds() != wanted:
                self._schedule(
                    monitor.id, monitor.check_interval, getattr(job, "next_run_time", None)
                )

    def run_now(self, monitor_id: int, *, force: bool = False) -> None:
        """Check a monitor as soon as a worker is free, keeping its interval; `force`
        checks a paused monitor too (a person asked).

        A one-off job, not a nudge of the interval job: APScheduler skips a run of a job
        that is already running, and an asked-for check must never be skipped.
        """
        self.aps.add_job(self._check, "date", args=[monitor_id, force, ASKED])

    def check_logs_soon(self, monitor_id: int) -> bool:
        """The app's log drain brought a batch: read the counts and alert, on a worker. One
        waiting log check per monitor, however many batches come meanwhile (it reads them
        all). True when this call scheduled it."""
        with self._lock:
            if monitor_id in self._logs_waiting:
                return False
            self._logs_waiting.add(monitor_id)
        self.aps.add_job(self._check_logs, "date", args=[monitor_id])
        return True

    def _check_logs(self, monitor_id: int) -> None:
        with self._lock:
            self._logs_waiting.discard(monitor_id)
        try:
            self.checker.check_logs(monitor_id)
        except Exception:  # a bug: log it with its traceback, keep the scheduler alive
            log.exception("the log check of monitor %s crashed", monitor_id)

    def check_soon(self, monitor_id: int) -> bool:
        """A webhook says the monitor's app changed. The first delivery checks it at once
        and opens a `debounce`-second window; the deliveries within it join one trailing
        check at the window's end (the one that sees the storm's last change). True when
        this call scheduled a check."""
        now = time.monotonic()
        with self._lock:
            ends = self._window_ends.get(monitor_id)
            if ends is None or now >= ends:
                self._window_ends[monitor_id] = now + self.debounce
                delay, trailing = 0.0, False
            elif monitor_id in self._trailing:
                return False
            else:
                self._trailing.add(monitor_id)
                delay, trailing = ends - now, True
        # No job id: APScheduler would skip this job while one of that id still runs.
        self.aps.add_job(
            self._webhook_check,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay),
            args=[monitor_id, trailing],
        )
        return True

    def first_sighting(self, delivery_key: str) -> bool:
        """False when any process saw this webhook delivery in the last hour."""
        return self.ledger.first_sighting(delivery_key, self.checker.clock())

    def deliver_soon(self) -> None:
        """Run the outbox now, on a worker."""
        self.aps.add_job(self._deliver, "date")

    def deliver_at(self, when: datetime) -> None:
        """Run the outbox at `when` (an alert's retry is due then), on a worker; one job
        per second, however often it is asked for. (No job id: APScheduler's loop fails
        when a due job of its id is replaced under it.)"""
        if not self.aps.running:
            return
        second = int(when.timestamp())
        with self._lock:
            if second in self._wakes:
                return
            self._wakes.add(second)
        self.aps.add_job(self._deliver_woken, "date", run_date=when, args=[second])

    def _deliver_woken(self, second: int) -> None:
        with self._lock:
            self._wakes.discard(second)
        self._deliver()

    def next_run(self, monitor_id: int) -> datetime | None:
        job = self.aps.get_job(_job_id(monitor_id))
        # A job added before the scheduler starts has no next run time yet.
        return getattr(job, "next_run_time", None)

    def _schedule(self, monitor_id: int, minutes: int, due: datetime | None = None) -> None:
        """(Re)place the monitor's interval job at its interval within the rate budget; its
        first run is one interval from now (`run_now` asks for a check at once), or at `due`
        (the replaced job's next run) when that is sooner: a plan that moves every minute
        must not keep pushing a poll away."""
        seconds = self.budget.seconds(minutes)
        first = datetime.now(UTC) + timedelta(seconds=seconds)
        if due is not None and due < first:
            first = due
        self.aps.add_job(
            self._check,
            "interval",
            seconds=seconds,
            args=[monitor_id, False, POLL],
            id=_job_id(monitor_id),
            replace_existing=True,
            next_run_time=first,
        )

    def interval_seconds(self, minutes: int) -> int:
        """How often a monitor configured at `minutes` is actually polled."""
        return self.budget.seconds(minutes)

    def _webhook_check(self, monitor_id: int, trailing: bool = False) -> None:
        if trailing:
            with self._lock:
                # A storm still going joins the next trailing check, a window from now.
                self._trailing.discard(monitor_id)
                self._window_ends[monitor_id] = time.monotonic() + self.debounce
        spent = self.ledger.checks_since(self.checker.clock() - SIGHTING_TTL)
        if not budget.webhooks_may_check(spent, share=self.rate_share):
            log.warning(
                "webhooks asked for %d checks in the last hour, their whole part of the rate "
                "budget: monitor %s waits for its next poll",
                spent,
                monitor_id,
            )
            return
        self._check(monitor_id, False, WEBHOOK)

    def _check(self, monitor_id: int, force: bool = False, source: str = ASKED) -> None:
        self._check_as(monitor_id, _Request(force, frozenset({source})))

    def _check_as(self, monitor_id: int, asked: _Request) -> None:
        """Run the check; a request that arrives while it runs makes it run once more
        (forced if any such request was), so no trigger is lost and one monitor is never
        checked twice at once."""
        with self._lock:
            if monitor_id in self._running:
                again = self._again.get(monitor_id)
                self._again[monitor_id] = asked if again is None else again | asked
                return
            self._running.add(monitor_id)
        while True:
            try:
                self._run(monitor_id, asked)
            except Exception:  # a bug: log it with its traceback, keep the scheduler alive
                log.exception("check of monitor %s crashed", monitor_id)
            with self._lock:
                if monitor_id not in self._again:
                    self._running.discard(monitor_id)
                    return
                asked = self._again.pop(monitor_id)

    def _run(self, monitor_id: int, asked: _Request) -> None:
        """One check, unless Heroku's rate limit pauses checks: then a webhook's or a
        person's check is deferred to the end of the pause, and a poll waits for its next
        interval. A check that runs into the limit itself is deferred the same way."""
        left = self._pause_left()
        if left is None:
            result = self.checker.check(monitor_id, force=asked.force)
            if result is not None and WEBHOOK in asked.sources:
                self._count_webhook_check()
            if result is None or result.ok:
                return
            left = self._pause_left()
            if left is None:
                return
        if asked.sources - {POLL}:
            self._defer(monitor_id, asked, left)

    def _pause_left(self) -> float | None:
        """Seconds until the rate-limit pause ends; None when checks are not paused."""
        until = self.checker.throttled_until
        if until is None:
            return None
        left = (until - self.checker.clock()).total_seconds()
        return left if left > 0 else None

    def _defer(self, monitor_id: int, asked: _Request, seconds: float) -> None:
        """Check the monitor when the pause ends: one job per monitor, however many
        requests were deferred (their wishes merged). A pause that grew meanwhile defers
        the check again when the job finds it still on."""
        with self._lock:
            waiting = self._deferred.get(monitor_id)
            self._deferred[monitor_id] = asked if waiting is None else waiting | asked
        if waiting is not None:
            return
        # The pause is in the checker's clock; the job runs on the real one.
        self.aps.add_job(
            self._run_deferred,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=seconds),
            args=[monitor_id],
        )
        log.info(
            "check of monitor %s deferred to the end of the rate-limit pause, in %.0f s",
            monitor_id,
            seconds,
        )

    def _run_deferred(self, monitor_id: int) -> None:
        with self._lock:
            asked = self._deferred.pop(monitor_id, None)
        if asked is not None:
            self._check_as(monitor_id, asked)

    def _count_webhook_check(self) -> None:
        try:
            self.ledger.record_check(self.checker.clock())
        except Exception:
            log.exception("counting a webhook's check in the rate budget failed")

    def _prune(self) -> None:
        try:
            gone = self.outbox.prune(self.checker.clock())
            if gone:
                log.info("pruned %d alerts older than 90 days from the log", gone)
        except Exception:
            log.exception("pruning the alert log crashed")

    def _reconcile(self) -> None:
        try:
            self.ledger.prune(self.checker.clock())
            self.reconcile()
        except Exception:
            log.exception("following the monitors in the database crashed")

    def _tend(self) -> None:
        if self.conversations is not None:
            self.conversations.tick()

    def _deliver(self) -> None:
        try:
            self.delivery.run()
        except Exception:
            log.exception("delivering the outbox crashed")
