"""APScheduler jobs: the polling rounds (in the one process that leads, SPEC §13), the
outbox's retries, webhooks' checks (debounced across processes) and checks waiting for a
rate-limit pause to end.

Every process sharing the database runs a scheduler; the one holding the polling lease
(`leader.Leadership`, renewed every third of the lease) runs the interval jobs, so
polling costs the same for one process or ten. Each active monitor's interval job is
placed on a grid (multiples of its interval since the epoch), so monitors of one interval
come due together and join one round: the round reads the app lists and add-ons once,
then checks its apps concurrently on a bounded pool, each reading its dynos (and its
releases and config vars only when something moved).

Where a check comes from decides what happens to it:
- the interval job ("poll") joins the next round, at the monitor's interval within the
  rate budget; during a rate-limit pause it is skipped (the next interval comes);
- a webhook delivery ("webhook", `check_soon`) checks its app at once; the deliveries of
  the next `debounce` seconds, whichever process they reach, join one trailing check at
  the window's end, which sees the last change: a storm costs two checks, a lone
  delivery one, with no delay;
- a person or a settings change ("asked", `run_now`) runs as soon as a worker is free.
A webhook's or a person's check asked for during a rate-limit pause (`Checker.throttled_until`)
runs when the pause ends: one check per monitor, however many were asked for.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor as Pool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from sqlalchemy.exc import OperationalError

from heroku_monitor.core import budget
from heroku_monitor.core.rounds import RoundListing
from heroku_monitor.heroku.client import HerokuError, RateLimited, spending
from heroku_monitor.render import messages
from heroku_monitor.runtime.check import ASKED, POLL, WEBHOOK, Checker
from heroku_monitor.runtime.conversations import Conversations
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.store.database import database_problem
from heroku_monitor.store.leader import Leadership
from heroku_monitor.store.monitors import Monitors, MonitorView
from heroku_monitor.store.outbox import Outbox
from heroku_monitor.store.sightings import WebhookLedger
from heroku_monitor.store.spend import WINDOW, Spend
from heroku_monitor.store.teams import TeamWatches

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _survived(what: str, *args: object) -> Iterator[None]:
    """Keep the scheduler alive through a job that fails. The database failing (read-only,
    locked, unreachable: a user can fix it) is one line; anything else is a bug, logged
    with its traceback."""
    try:
        yield
    except OperationalError as exc:
        log.warning(f"{what} failed on the database: %s", *args, database_problem(exc))
        log.debug("the database's error in full", exc_info=True)  # a migration's bug, say
    except Exception:
        log.exception(f"{what} crashed", *args)


class _Aps(BackgroundScheduler):
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

    def __init__(self, pool: ThreadPoolExecutor, **options: Any) -> None:
        self.pool = pool
        super().__init__(executors={"default": pool}, **options)

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


DELIVERY_JOB = "deliver-outbox"
PRUNE_JOB = "prune-alert-log"
RECONCILE_JOB = "follow-monitors"
RECONCILE_EVERY = 60  # seconds
TEND_JOB = "tend-incidents"
TEND_EVERY = 60  # seconds
LEAD_JOB = "lead-polling"
# A webhook's check waits this long for the rest of its storm (a deploy sends dozens).
DEBOUNCE = 1.0  # seconds
# Interval jobs due within this long of each other join one round.
ROUND_GATHER = 0.2  # seconds


def _job_id(monitor_id: int) -> str:
    return f"check-{monitor_id}"


@dataclass(frozen=True)
class _Request:
    """What was asked of a monitor's next check: forced (paused monitors too), by whom,
    and for a poll the round's lists (a request of anyone else's reads the app whole)."""

    force: bool
    sources: frozenset[str]
    listing: RoundListing | None = None

    def __or__(self, other: _Request) -> _Request:
        sources = self.sources | other.sources
        listing = (self.listing or other.listing) if sources == {POLL} else None
        return _Request(self.force or other.force, sources, listing)

    @property
    def source(self) -> str:
        """Whom the check is for: a person waits for a check in progress elsewhere, a
        webhook asks it to run again, a poll skips the app."""
        for source in (ASKED, WEBHOOK):
            if source in self.sources:
                return source
        return POLL


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
        leadership: Leadership | None = None,
        minute: float = 60.0,
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
        self.spend = Spend(monitors.db)
        self.teams = TeamWatches(monitors.db)
        self.leadership = leadership or Leadership(
            monitors.db, clock=checker.clock, holder=checker.claims.owner
        )
        # Seconds in an interval's minute: 60, but a test may make time run faster.
        self.minute = minute
        self.budget = budget.plan([], share=rate_share)
        # What a round cost per app, measured (the plan's figure until a round ran).
        self.requests_per_poll = budget.REQUESTS_PER_POLL
        # What the account's lists (apps and add-ons) cost the last round that read them.
        self.list_requests = 0
        self.rounds = 0
        self._was_leading = False
        self._lock = threading.Lock()
        self._due: set[int] = set()  # monitors whose interval job fired: the next round
        self._round_waits = False
        self._round_lock = threading.Lock()
        self._round_pool = Pool(max_workers=max_workers, thread_name_prefix="round")
        self._running: set[int] = set()
        self._again: dict[int, _Request] = {}  # monitor -> what its re-run was asked for
        self._logs_waiting: set[int] = set()  # monitors whose log check waits to start
        self._wakes: set[int] = set()  # the seconds a delivery run is scheduled at
        self._deferred: dict[int, _Request] = {}  # monitor -> its check after the pause
        self.aps = _Aps(
            ThreadPoolExecutor(max_workers),
            # A check that waited for a free worker still runs (once, however late): a
            # busy pool must delay checks, never skip them.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return bool(self.aps.running)

    def start(self) -> None:
        """Start: take the polling lease if it is free (then every active monitor that
        is due is checked in a round right away), and keep tending it."""
        self.aps.start()
        self._lead(starting=True)
        # A restart is often the fix (a new token, an invited bot): try what waits now.
        self.deliver_soon()
        self.aps.add_job(
            self._lead,
            "interval",
            seconds=self.leadership.renew_every,
            id=LEAD_JOB,
            replace_existing=True,
        )
        self.aps.add_job(
            self._deliver,
            "interval",
            seconds=self.deliver_every,
            id=DELIVERY_JOB,
            replace_existing=True,
        )
        self.aps.add_job(self._prune, "interval", hours=24, id=PRUNE_JOB, replace_existing=True)
        # Other processes change monitors too: follow the database, so a pause or a new
        # interval saved anywhere reaches the leader's schedule.
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

    @property
    def leading(self) -> bool:
        return self.leadership.leads()

    def _lead(self, *, starting: bool = False) -> None:
        """Take or renew the polling lease. A process that becomes the leader schedules the
        interval jobs; as it starts, it checks every app at once (what happened while the
        service was down or deploying is seen now), and on a failover only what is overdue
        (the apps the old leader polled lately wait for their turn: polling costs the
        same). One that lost the lease drops its jobs."""
        with _survived("tending the polling lease"):
            was = self._was_leading
            leads, taken_from = self.leadership.tend()
            self._was_leading = leads
            if taken_from is not None:
                # The old leader died mid-round, maybe: its claims go now, not in minutes.
                self.checker.claims.release_of(taken_from)
            if leads and not was:
                self.reconcile()
                self._poll_overdue(everything=starting)
            elif not leads and was:
                log.info("this process no longer leads the polling")
                self._drop_polls(set())

    def _poll_overdue(self, *, everything: bool = False) -> None:
        now = self.checker.clock()
        overdue = [
            m.id
            for m in self.monitors.all()
            if not m.paused
            and (
                everything
                or m.last_check_at is None
                or (now - m.last_check_at).total_seconds() >= self._seconds(m.check_interval)
            )
        ]
        if overdue:
            self.poll_now(overdue)

    def poll_now(self, monitor_ids: list[int], *, gather: float = 0.0) -> None:
        """Check these monitors in one polling round, `gather` seconds from now (the
        interval jobs falling due meanwhile join it), or as soon as a worker is free."""
        with self._lock:
            self._due.update(monitor_ids)
            if self._round_waits:
                return
            self._round_waits = True
        self.aps.add_job(
            self._round, "date", run_date=datetime.now(UTC) + timedelta(seconds=gather)
        )

    def shutdown(self) -> None:
        """Stop scheduling and wait for running checks (each is bounded by its timeouts)."""
        self.stop_jobs()
        self._round_pool.shutdown(wait=True, cancel_futures=True)
        self.leadership.resign()

    def stop_jobs(self, *, wait: bool = True) -> None:
        """Stop APScheduler (without `wait`, leave its running jobs to end on their own)."""
        self.aps.stop(wait=wait)

    def sync(self, monitor_id: int) -> None:
        """Apply a monitor's saved settings at once: reschedule, and check it now unless
        it is paused or gone."""
        self.reconcile()
        monitor = self.monitors.get(monitor_id)
        if monitor is not None and not monitor.paused:
            self.run_now(monitor.id)

    def reconcile(self) -> None:
        """Plan polling within the rate budget (less what the other checks of every process
        spent in the last hour) and, in the leader, make the interval jobs match the
        monitors in the database: a job per active monitor at its (stretched) interval,
        none for the rest. A process that does not lead has none."""
        monitors = self.monitors.all()
        active = {m.id: m for m in monitors if not m.paused}
        spent = self.spend.since(self.checker.clock() - WINDOW)
        others = sum(n for source, n in spent.items() if source != POLL)
        planned = budget.plan(
            [m.check_interval for m in active.values()],
            share=self.rate_share,
            other_requests_last_hour=others,
            requests_per_poll=self.requests_per_poll,
        )
        before = self.budget.stretch
        # Webhook checks move the plan a little every minute: say so only when it moved.
        if planned.stretched and (
            not self.budget.stretched or abs(planned.stretch / before - 1) > 0.1
        ):
            log.warning(
                "polling %d apps as configured would take %.0f Heroku requests an hour, over "
                "the %.0f left for polling (%.0f%% of 4,500, less %.0f spent by webhooks' and "
                "people's checks in the last hour): intervals are stretched %.1f times",
                len(active),
                planned.demand_per_hour,
                planned.allowed_per_hour,
                self.rate_share * 100,
                planned.webhook_per_hour,
                planned.stretch,
            )
        self.budget = planned
        if not self.leading:
            self._drop_polls(set())
            return
        watches = {w.id: w for w in self.teams.all() if not w.paused}
        self._drop_polls(set(active), set(watches))
        # A team's new apps have no monitor yet: the watch's own job starts rounds too.
        for watch in watches.values():
            self._keep_polling(f"team-{watch.id}", watch.check_interval, None)
        for monitor in active.values():
            self._keep_polling(_job_id(monitor.id), monitor.check_interval, monitor.id)

    def _keep_polling(self, job_id: str, minutes: int, monitor_id: int | None) -> None:
        """The interval job `job_id` at `minutes` within the budget, (re)placed only when
        missing or at another interval."""
        job = self.aps.get_job(job_id)
        interval = getattr(getattr(job, "trigger", None), "interval", None)
        if interval is None or interval.total_seconds() != self._seconds(minutes):
            self._schedule(job_id, minutes, monitor_id, getattr(job, "next_run_time", None))

    def _drop_polls(self, keep: set[int], keep_teams: set[int] | None = None) -> None:
        """Remove the interval jobs of monitors not in `keep` and watches not in
        `keep_teams`."""
        for job in self.aps.get_jobs():
            kind, _, number = job.id.rpartition("-")
            kept = keep if kind == "check" else (keep_teams or set()) if kind == "team" else None
            if kept is not None and int(number) not in kept:
                with contextlib.suppress(JobLookupError):
                    self.aps.remove_job(job.id)

    def _seconds(self, minutes: int) -> float:
        """Seconds between two polls of a monitor configured at `minutes`, in the budget."""
        return self.budget.seconds(minutes) * self.minute / 60

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
        with _survived("the log check of monitor %s", monitor_id):
            self.checker.check_logs(monitor_id)

    def check_soon(self, monitor_id: int) -> bool:
        """A webhook says the monitor's app changed. The first delivery checks it at once
        and opens a `debounce`-second window; the deliveries within it, in this process or
        another, join one trailing check at the window's end (the one that sees the storm's
        last change). True when this call scheduled a check."""
        delay = self.checker.claims.webhook_window(monitor_id, self.checker.clock(), self.debounce)
        if delay is None:
            return False
        # No job id: APScheduler would skip this job while one of that id still runs.
        self.aps.add_job(
            self._webhook_check,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay),
            args=[monitor_id, delay > 0],
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

    def next_run(self, monitor: MonitorView) -> datetime | None:
        """When the monitor is polled next: by its job in the leader; elsewhere, its last
        check plus its interval (None for a paused monitor)."""
        if monitor.paused:
            return None
        job = self.aps.get_job(_job_id(monitor.id))
        if job is not None:
            # A job added before the scheduler starts has no next run time yet.
            return getattr(job, "next_run_time", None)
        if self.leading or monitor.last_check_at is None:
            return None
        return monitor.last_check_at + timedelta(seconds=self._seconds(monitor.check_interval))

    def _schedule(
        self, job_id: str, minutes: int, monitor_id: int | None, due: datetime | None = None
    ) -> None:
        """(Re)place an interval job at its interval within the rate budget, on
        the grid of that interval (so monitors of one interval come due together and share
        a round); or at `due` (the replaced job's next run) when that is sooner: a plan that
        moves every minute must not keep pushing a poll away."""
        seconds = self._seconds(minutes)
        now = datetime.now(UTC).timestamp()
        first = datetime.fromtimestamp(math.floor(now / seconds + 1) * seconds, UTC)
        if due is not None and due < first:
            first = due
        self.aps.add_job(
            self._poll,
            "interval",
            seconds=seconds,
            args=[monitor_id],
            id=job_id,
            replace_existing=True,
            next_run_time=first,
        )

    def interval_seconds(self, minutes: int) -> int:
        """How often a monitor configured at `minutes` is actually polled."""
        return math.ceil(self._seconds(minutes))

    def _poll(self, monitor_id: int | None) -> None:
        """A monitor's interval job (or a team watch's, `None`): it joins the round that
        starts a moment from now."""
        self.poll_now([] if monitor_id is None else [monitor_id], gather=ROUND_GATHER)

    def _round(self) -> None:
        """One polling round: the lists once, then the due monitors' checks concurrently
        (each reads its dynos, and its releases and config vars only when they moved)."""
        # One round at a time: a round that falls due while one runs waits for it, then
        # takes everything that fell due meanwhile (never two reads of the lists at once).
        with self._round_lock:
            with self._lock:
                due, self._due, self._round_waits = self._due, set(), False
            if not self.leading or self._pause_left() is not None:
                return
            with _survived("a polling round"):
                self.run_round(due)

    def run_round(self, monitor_ids: set[int]) -> None:
        """One polling round of these monitors, now, in this thread (each app's check on
        the round's pool): the lists once, then each app's dynos, and its releases and
        config vars only when they moved."""
        due = set(monitor_ids)
        monitors = {m.id: m for m in self.monitors.all()}
        watches = [w for w in self.teams.all() if not w.paused]
        before = self.checker.heroku.spent(POLL)
        own = [m.app_name for i, m in monitors.items() if i in due and m.team_watch_id is None]
        listing = self._listing(own, [w.team for w in watches])
        if listing is None:
            return  # rate-limited: the pause is on, the next interval comes
        now = self.checker.clock()
        for watch in watches:
            found = listing.teams.get(watch.team) if listing.error is None else None
            problem = listing.error or f"Heroku knows no team {watch.team!r} this token can see"
            farewells = {
                app: messages.no_longer_watched(app, watch.team, now)
                for app in watch.apps
                if found is not None and app not in found
            }
            change = self.teams.sync(watch.id, found, now, error=problem, farewells=farewells)
            due.update(monitor_id for monitor_id, _ in change.added)
            for monitor_id, app in change.added:
                log.info("team %s: now watching %s (monitor %s)", watch.team, app, monitor_id)
            for app in change.dropped:
                log.info("team %s: %s left the team, no longer watched", watch.team, app)
        requests = [(mid, _Request(False, frozenset({POLL}), listing)) for mid in sorted(due)]
        list(self._round_pool.map(lambda job: self._check_as(*job), requests))
        spent = self.checker.heroku.spent(POLL) - before
        if due or watches:
            measured = spent / max(1, len(due))
            # A moving average, so one round of first checks does not stretch the plan.
            self.requests_per_poll = 0.8 * self.requests_per_poll + 0.2 * measured
        try:
            self.checker.flush_spend()
            self.delivery.run()
        finally:
            if due or watches:
                with self._lock:
                    self.rounds += 1  # done, its alerts sent (or failed trying)

    def _listing(self, apps: list[str], teams: list[str]) -> RoundListing | None:
        """The round's lists: the account's (and the teams'), or for a few apps in a big
        account, app by app when that costs fewer requests than the last round's lists
        did. On an error, a listing that says why (every check of the round fails with
        it); None when Heroku's rate limit stopped the round."""
        heroku = self.checker.heroku
        try:
            with spending(POLL):
                if apps and not teams and 2 * len(apps) < self.list_requests:
                    return heroku.listing_alone(apps)
                listing = heroku.listing(apps=bool(apps), teams=teams)
                if not teams:
                    self.list_requests = listing.requests
                return listing
        except RateLimited:
            self.checker.throttle(self.checker.clock())
            return None
        except HerokuError as exc:
            log.warning("a polling round could not read the app lists: %s", exc)
            return RoundListing(error=str(exc))

    def _webhook_check(self, monitor_id: int, trailing: bool = False) -> None:
        if trailing:
            # A storm still going joins the next trailing check, a window from now.
            self.checker.claims.trailing_starts(monitor_id, self.checker.clock(), self.debounce)
        spent = self.spend.since(self.checker.clock() - WINDOW).get(WEBHOOK, 0)
        if not budget.webhooks_may_check(spent, share=self.rate_share):
            log.warning(
                "webhooks' checks spent %d Heroku requests in the last hour, their whole part "
                "of the rate budget: monitor %s waits for its next poll",
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
            with _survived("check of monitor %s", monitor_id):
                self._run(monitor_id, asked)
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
            result = self.checker.check(
                monitor_id,
                force=asked.force,
                source=asked.source,
                listing=asked.listing,
                deliver=asked.listing is None,  # a round delivers once, at its end
            )
            if asked.listing is None:
                self.checker.flush_spend()
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

    def _prune(self) -> None:
        with _survived("pruning the alert log"):
            gone = self.outbox.prune(self.checker.clock())
            if gone:
                log.info("pruned %d alerts older than 90 days from the log", gone)

    def _reconcile(self) -> None:
        with _survived("following the monitors in the database"):
            self.ledger.prune(self.checker.clock())
            self.checker.flush_spend()
            self.spend.prune(self.checker.clock())
            self.reconcile()

    def _tend(self) -> None:
        if self.conversations is not None:
            self.conversations.tick()

    def _deliver(self) -> None:
        with _survived("delivering the outbox"):
            self.delivery.run()
