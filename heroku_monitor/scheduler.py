"""APScheduler jobs: one per active monitor at its interval, plus the outbox's retries.

Checks run on a bounded thread pool, so several apps are checked at once and one slow
app never holds up the others (each Heroku call has its own timeout too).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from heroku_monitor import budget
from heroku_monitor.check import Checker
from heroku_monitor.delivery import Delivery
from heroku_monitor.monitors import Monitors
from heroku_monitor.outbox import Outbox

log = logging.getLogger(__name__)

DELIVERY_JOB = "deliver-outbox"
PRUNE_JOB = "prune-alert-log"
RECONCILE_JOB = "follow-monitors"
RECONCILE_EVERY = 60  # seconds


def _job_id(monitor_id: int) -> str:
    return f"check-{monitor_id}"


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
    ) -> None:
        self.checker = checker
        self.monitors = monitors
        self.delivery = delivery
        self.outbox = outbox
        self.deliver_every = deliver_every
        self.rate_share = rate_share
        self.budget = budget.plan([], share=rate_share)
        self._lock = threading.Lock()
        self._running: set[int] = set()
        self._again: dict[int, bool] = {}  # monitor -> the re-run must be forced
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

    def shutdown(self) -> None:
        """Stop scheduling and wait for running checks (each is bounded by its timeouts)."""
        if self.aps.running:
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
        budget: a job per active monitor at its (stretched) interval, none for the rest."""
        active = {m.id: m for m in self.monitors.all() if not m.paused}
        planned = budget.plan([m.check_interval for m in active.values()], share=self.rate_share)
        if planned.stretched and planned.stretch != self.budget.stretch:
            log.warning(
                "polling %d apps as configured would take %.0f Heroku requests an hour, over "
                "the %.0f allowed (%.0f%% of 4,500): intervals are stretched %.1f times",
                len(active),
                planned.demand_per_hour,
                planned.allowed_per_hour,
                self.rate_share * 100,
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
                self._schedule(monitor.id, monitor.check_interval)

    def run_now(self, monitor_id: int, *, force: bool = False) -> None:
        """Check a monitor as soon as a worker is free, keeping its interval; `force`
        checks a paused monitor too (a person asked).

        A one-off job, not a nudge of the interval job: APScheduler skips a run of a job
        that is already running, and a webhook's check must never be skipped.
        """
        self.aps.add_job(self._check, "date", args=[monitor_id, force])

    def deliver_soon(self) -> None:
        """Run the outbox now, on a worker."""
        self.aps.add_job(self._deliver, "date")

    def deliver_at(self, when: datetime) -> None:
        """Run the outbox at `when` (an alert's retry is due then), on a worker."""
        if self.aps.running:
            self.aps.add_job(self._deliver, "date", run_date=when)

    def next_run(self, monitor_id: int) -> datetime | None:
        job = self.aps.get_job(_job_id(monitor_id))
        # A job added before the scheduler starts has no next run time yet.
        return getattr(job, "next_run_time", None)

    def _schedule(self, monitor_id: int, minutes: int) -> None:
        """(Re)place the monitor's interval job at its interval within the rate budget; its
        first run is one interval from now (`run_now` asks for a check at once)."""
        self.aps.add_job(
            self._check,
            "interval",
            seconds=self.budget.seconds(minutes),
            args=[monitor_id],
            id=_job_id(monitor_id),
            replace_existing=True,
        )

    def interval_seconds(self, minutes: int) -> int:
        """How often a monitor configured at `minutes` is actually polled."""
        return self.budget.seconds(minutes)

    def _check(self, monitor_id: int, force: bool = False) -> None:
        """Run the check; a request that arrives while it runs makes it run once more
        (forced if any such request was), so no trigger is lost and one monitor is never
        checked twice at once."""
        with self._lock:
            if monitor_id in self._running:
                self._again[monitor_id] = self._again.get(monitor_id, False) or force
                return
            self._running.add(monitor_id)
        while True:
            try:
                self.checker.check(monitor_id, force=force)
            except Exception:  # a bug: log it with its traceback, keep the scheduler alive
                log.exception("check of monitor %s crashed", monitor_id)
            with self._lock:
                if monitor_id not in self._again:
                    self._running.discard(monitor_id)
                    return
                force = self._again.pop(monitor_id)

    def _prune(self) -> None:
        try:
            gone = self.outbox.prune(self.checker.clock())
            if gone:
                log.info("pruned %d alerts older than 90 days from the log", gone)
        except Exception:
            log.exception("pruning the alert log crashed")

    def _reconcile(self) -> None:
        try:
            self.reconcile()
        except Exception:
            log.exception("following the monitors in the database crashed")

    def _deliver(self) -> None:
        try:
            self.delivery.run()
        except Exception:
            log.exception("delivering the outbox crashed")
