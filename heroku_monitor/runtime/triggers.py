"""What asks for a monitor's check, and what happens to the request:

- the interval job ("poll") joins the next round (`polling`), at the monitor's interval
  within the rate budget; during a rate-limit pause it is skipped (the next interval comes);
- a webhook delivery ("webhook", `check_soon`) checks its app at once; the deliveries of
  the next `debounce` seconds, whichever process they reach, join one trailing check at
  the window's end, which sees the last change: a storm costs two checks, a lone
  delivery one, with no delay;
- a person or a settings change ("asked", `run_now`) runs as soon as a worker is free.

A webhook's or a person's check asked for during a rate-limit pause (`Checker.throttled_until`)
runs when the pause ends: one check per monitor, however many were asked for. One monitor
is never checked twice at once in a process: a request that comes while its check runs
makes it run once more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from heroku_monitor.core.rounds import RoundListing
from heroku_monitor.runtime.check import ASKED, POLL, WEBHOOK, Checker
from heroku_monitor.runtime.jobs import Aps, survived
from heroku_monitor.runtime.plan import Plan

log = logging.getLogger(__name__)

# A webhook's check waits this long for the rest of its storm (a deploy sends dozens).
DEBOUNCE = 1.0  # seconds


@dataclass(frozen=True)
class Request:
    """What was asked of a monitor's next check: forced (paused monitors too), by whom,
    and for a poll the round's lists (a request of anyone else's reads the app whole)."""

    force: bool
    sources: frozenset[str]
    listing: RoundListing | None = None

    def __or__(self, other: Request) -> Request:
        sources = self.sources | other.sources
        listing = (self.listing or other.listing) if sources == {POLL} else None
        return Request(self.force or other.force, sources, listing)

    @property
    def source(self) -> str:
        """Whom the check is for: a person waits for a check in progress elsewhere, a
        webhook asks it to run again, a poll skips the app."""
        for source in (ASKED, WEBHOOK):
            if source in self.sources:
                return source
        return POLL


class Triggers:
    def __init__(
        self, checker: Checker, aps: Aps, plan: Plan, *, debounce: float = DEBOUNCE
    ) -> None:
        self.checker = checker
        self.aps = aps
        self.plan = plan
        self.debounce = debounce
        self._lock = threading.Lock()
        self._running: set[int] = set()
        self._again: dict[int, Request] = {}  # monitor -> what its re-run was asked for
        self._logs_waiting: set[int] = set()  # monitors whose log check waits to start
        self._deferred: dict[int, Request] = {}  # monitor -> its check after the pause

    @property
    def checking(self) -> frozenset[int]:
        """The monitors whose check runs now in this process."""
        with self._lock:
            return frozenset(self._running)

    @property
    def checking_again(self) -> frozenset[int]:
        """The monitors whose check runs once more when the one running ends."""
        with self._lock:
            return frozenset(self._again)

    @property
    def deferred(self) -> frozenset[int]:
        """The monitors whose check waits for the rate-limit pause to end."""
        with self._lock:
            return frozenset(self._deferred)

    def run_now(self, monitor_id: int, *, force: bool = False) -> None:
        """Check a monitor as soon as a worker is free, keeping its interval; `force`
        checks a paused monitor too (a person asked).

        A one-off job, not a nudge of the interval job: APScheduler skips a run of a job
        that is already running, and an asked-for check must never be skipped.
        """
        self.aps.add_job(self.check, "date", args=[monitor_id, force, ASKED])

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
        with survived(log, "the log check of monitor %s", monitor_id):
            self.checker.check_logs(monitor_id)

    def check_soon(self, monitor_id: int) -> bool:
        """A webhook says the monitor's app changed. The first delivery checks it at once
        and opens a `debounce`-second window; the deliveries within it, in this process or
        another, join one trailing check at the window's end (the one that sees the storm's
        last change). True when this call scheduled a check."""
        now = self.checker.clock()
        delay = self.checker.claims.webhook_window(monitor_id, now, self.debounce)
        if delay is None:
            return False
        # The window's end, for a trailing check (None: this one checks at once).
        ends = now + timedelta(seconds=delay) if delay > 0 else None
        # No job id: APScheduler would skip this job while one of that id still runs.
        self.aps.add_job(
            self._webhook_check,
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=delay),
            args=[monitor_id, ends],
        )
        return True

    def _webhook_check(self, monitor_id: int, window_ended: datetime | None = None) -> None:
        if window_ended is not None:
            # A storm still going joins the next trailing check, at the end of the window
            # that opens where this one ended: not where this job began, which is later
            # (a worker's start, a busy pool) and would push every later window on, so a
            # delivery a second after the last one could wait a whole window.
            self.checker.claims.trailing_starts(monitor_id, window_ended, self.debounce)
        spent = self.plan.webhooks_spent(self.checker.clock())
        if spent is not None:
            log.warning(
                "webhooks' checks spent %d Heroku requests in the last hour, their whole part "
                "of the rate budget: monitor %s waits for its next poll",
                spent,
                monitor_id,
            )
            return
        self.check(monitor_id, False, WEBHOOK)

    def check(self, monitor_id: int, force: bool = False, source: str = ASKED) -> None:
        """Check the monitor in this thread (what a trigger's job runs on a worker)."""
        self.check_as(monitor_id, Request(force, frozenset({source})))

    def check_as(self, monitor_id: int, asked: Request) -> None:
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
            with survived(log, "check of monitor %s", monitor_id):
                self._run(monitor_id, asked)
            with self._lock:
                if monitor_id not in self._again:
                    self._running.discard(monitor_id)
                    return
                asked = self._again.pop(monitor_id)

    # -- a polling round's checks (`Checker.check_round`), which run outside `check_as` --

    def round_starts(self, monitor_ids: Iterable[int]) -> frozenset[int]:
        """A polling round of this process is about to check these monitors: those not
        being checked here already count as checking from now (a request meanwhile waits
        for the round, then runs once, as in `check_as`); returns them, for the round."""
        with self._lock:
            mine = frozenset(set(monitor_ids) - self._running)
            self._running |= mine
        return mine

    def round_ended(self, monitor_ids: Iterable[int]) -> None:
        """The round's checks of these monitors ended: a request that came meanwhile runs
        now, on a worker (merged, once per monitor)."""
        for monitor_id in sorted(monitor_ids):
            with self._lock:
                asked = self._again.pop(monitor_id, None)
                if asked is None:
                    self._running.discard(monitor_id)
                    continue
            self.aps.add_job(self._after_round, "date", args=[monitor_id, asked])

    def _after_round(self, monitor_id: int, asked: Request) -> None:
        while True:  # as `check_as` does once its first run ended
            with survived(log, "check of monitor %s", monitor_id):
                self._run(monitor_id, asked)
            with self._lock:
                if monitor_id not in self._again:
                    self._running.discard(monitor_id)
                    return
                asked = self._again.pop(monitor_id)

    def _run(self, monitor_id: int, asked: Request) -> None:
        """One check, unless Heroku's rate limit pauses checks: then a webhook's or a
        person's check is deferred to the end of the pause, and a poll waits for its next
        interval. A check that runs into the limit itself is deferred the same way."""
        left = self.pause_left()
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
            left = self.pause_left()
            if left is None:
                return
        if asked.sources - {POLL}:
            self._defer(monitor_id, asked, left)

    def pause_left(self) -> float | None:
        """Seconds until the rate-limit pause ends; None when checks are not paused."""
        until = self.checker.throttled_until
        if until is None:
            return None
        left = (until - self.checker.clock()).total_seconds()
        return left if left > 0 else None

    def _defer(self, monitor_id: int, asked: Request, seconds: float) -> None:
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
            self.check_as(monitor_id, asked)
