"""The APScheduler adapter: a background scheduler safe to stop at any moment, a guard that
keeps it alive through a job that fails, and the polling interval jobs, each placed on
its interval's grid (multiples of the interval since the epoch), so monitors of one
interval come due together and join one round.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from sqlalchemy.exc import OperationalError

from heroku_monitor.runtime.plan import Plan
from heroku_monitor.store.database import database_problem
from heroku_monitor.store.monitors import MonitorView
from heroku_monitor.store.teams import TeamView

log = logging.getLogger(__name__)


@contextlib.contextmanager
def survived(logger: logging.Logger, what: str, *args: object) -> Iterator[None]:
    """Keep the scheduler alive through a job that fails, said on `logger`. The database
    failing (read-only, locked, unreachable: a user can fix it) is one line; anything
    else is a bug, logged with its traceback."""
    try:
        yield
    except OperationalError as exc:
        logger.warning(f"{what} failed on the database: %s", *args, database_problem(exc))
        logger.debug("the database's error in full", exc_info=True)  # a migration's bug, say
    except Exception:
        logger.exception(f"{what} crashed", *args)


class Aps(BackgroundScheduler):
    """APScheduler's background scheduler, made safe to stop at any moment:

    - its `shutdown(wait=True)` waits for running jobs while it holds its job stores' lock,
      which a running job asking it anything (`add_job`, `get_jobs`) then waits for
      forever: `stop` waits for the jobs after the shutdown, outside its locks;
    - a pass of its loop that sees the scheduler stop midway looks for the one-off job it
      just ran among the pending ones, and raises JobLookupError in its thread: once
      stopped, a job already gone is no error;
    - Ctrl-C may land while its thread is starting, before it can be joined: that thread
      sees the scheduler stopped and ends on its own.
    """

    def __init__(self, max_workers: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers)
        super().__init__(
            executors={"default": self.pool},
            # A check that waited for a free worker still runs (once, however late): a
            # busy pool must delay checks, never skip them.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        try:
            super().remove_job(job_id, jobstore)
        except JobLookupError:
            if self.state != STATE_STOPPED:
                raise

    def stop(self, *, wait: bool) -> None:
        if not self.running:
            return
        try:
            self.shutdown(wait=False)
        except RuntimeError:
            if getattr(getattr(self, "_thread", None), "ident", None) is not None:
                raise  # not the thread starting: a bug
            log.info("the scheduler stopped while it was starting")
        if wait:
            self.pool.shutdown(wait=True)  # the running jobs, each bounded by timeouts


def job_id(monitor_id: int) -> str:
    return f"check-{monitor_id}"


class IntervalJobs:
    """The leader's interval jobs: one per active monitor (`check-<id>`) and per active
    team watch (`team-<id>`), at its interval within the rate budget; each calls `poll`
    with its monitor's id (None for a team watch's)."""

    def __init__(self, aps: Aps, plan: Plan, poll: Callable[[int | None], None]) -> None:
        self.aps = aps
        self.plan = plan
        self.poll = poll

    def follow(self, active: list[MonitorView], watches: list[TeamView]) -> None:
        """Make the interval jobs match these monitors and watches: a job for each, none
        for the rest."""
        self.drop({m.id for m in active}, {w.id for w in watches})
        # A team's new apps have no monitor yet: the watch's own job starts rounds too.
        for watch in watches:
            self._keep(f"team-{watch.id}", watch.check_interval, None)
        for monitor in active:
            self._keep(job_id(monitor.id), monitor.check_interval, monitor.id)

    def drop(self, keep: set[int], keep_teams: set[int] | None = None) -> None:
        """Remove the interval jobs of monitors not in `keep` and watches not in
        `keep_teams`."""
        for job in self.aps.get_jobs():
            kind, _, number = job.id.rpartition("-")
            kept = keep if kind == "check" else (keep_teams or set()) if kind == "team" else None
            if kept is not None and int(number) not in kept:
                with contextlib.suppress(JobLookupError):
                    self.aps.remove_job(job.id)

    def next_run(self, monitor: MonitorView, *, leading: bool) -> datetime | None:
        """When the monitor is polled next: by its job in the leader; elsewhere, its last
        check plus its interval (None for a paused monitor)."""
        if monitor.paused:
            return None
        job = self.aps.get_job(job_id(monitor.id))
        if job is not None:
            # A job added before the scheduler starts has no next run time yet.
            return getattr(job, "next_run_time", None)
        if leading or monitor.last_check_at is None:
            return None
        return monitor.last_check_at + timedelta(seconds=self.plan.seconds(monitor.check_interval))

    def _keep(self, job_id: str, minutes: int, monitor_id: int | None) -> None:
        """The interval job `job_id` at `minutes` within the budget, (re)placed only when
        missing or at another interval."""
        job = self.aps.get_job(job_id)
        interval = getattr(getattr(job, "trigger", None), "interval", None)
        if interval is None or interval.total_seconds() != self.plan.seconds(minutes):
            self._schedule(job_id, minutes, monitor_id, getattr(job, "next_run_time", None))

    def _schedule(
        self, job_id: str, minutes: int, monitor_id: int | None, due: datetime | None = None
    ) -> None:
        """(Re)place an interval job at its interval within the rate budget, on
        the grid of that interval (so monitors of one interval come due together and share
        a round); or at `due` (the replaced job's next run) when that is sooner: a plan that
        moves every minute must not keep pushing a poll away."""
        seconds = self.plan.seconds(minutes)
        now = datetime.now(UTC).timestamp()
        first = datetime.fromtimestamp(math.floor(now / seconds + 1) * seconds, UTC)
        if due is not None and due < first:
            first = due
        self.aps.add_job(
            self.poll,
            "interval",
            seconds=seconds,
            args=[monitor_id],
            id=job_id,
            replace_existing=True,
            next_run_time=first,
        )
