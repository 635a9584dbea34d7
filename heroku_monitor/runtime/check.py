"""One check of one monitor. The schedule, a webhook, the dashboard's "check now" and the
demo buttons all call `Checker.check`, so detection lives in one place.

A check reads top to bottom: claim the app's check (no other process checks it at once);
read the app from Heroku (all of it, or in a polling round only what moved, SPEC §13);
then, in one transaction, load the monitor's state, decide what changed (pure:
`detect.decide`), save the state and record the new alerts (`recording`); then deliver
them.

A polling round (`check_round`, SPEC §13) is `round_check.RoundChecks`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from heroku_monitor.core import budget
from heroku_monitor.core import thresholds as rule_thresholds
from heroku_monitor.core.clock import Clock, utcnow
from heroku_monitor.core.detect import CheckFailed, Event
from heroku_monitor.core.logs import rules as log_rules
from heroku_monitor.core.rounds import PartRead, RoundListing
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.heroku.client import HerokuClient
from heroku_monitor.heroku.errors import RateLimited
from heroku_monitor.heroku.transport import spending
from heroku_monitor.runtime.bugs import Bugs
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.runtime.limits import Limits
from heroku_monitor.runtime.recording import count_failure, record, record_events
from heroku_monitor.runtime.round_check import ASKED as ASKED
from heroku_monitor.runtime.round_check import POLL as POLL
from heroku_monitor.runtime.round_check import ROUND_ASK_STEP as ROUND_ASK_STEP
from heroku_monitor.runtime.round_check import WEBHOOK as WEBHOOK
from heroku_monitor.runtime.round_check import CheckResult as CheckResult
from heroku_monitor.runtime.round_check import LastCheck as LastCheck
from heroku_monitor.runtime.round_check import RoundChecks as RoundChecks
from heroku_monitor.store.claims import CheckClaims
from heroku_monitor.store.database import database_problem
from heroku_monitor.store.incidents import IncidentStore
from heroku_monitor.store.log_counts import LogCounts, as_minutes
from heroku_monitor.store.monitors import Monitors, MonitorView
from heroku_monitor.store.outbox import Outbox
from heroku_monitor.store.spend import Spend

log = logging.getLogger(__name__)
T = TypeVar("T")


THROTTLE_FIRST, THROTTLE_MAX = 120, 960  # seconds: doubled on each 429 in a row
# How far back a log check reads the counts (a 5-minute window and its run's start).
LOG_HISTORY = timedelta(minutes=15)
RESERVE_PAUSE = 60  # seconds: Heroku refills about 75 requests a minute
CLAIM_WAIT_STEP = 0.05  # seconds between two tries of a person's check for a busy app


class Checker(RoundChecks):
    def __init__(
        self,
        monitors: Monitors,
        outbox: Outbox,
        heroku: HerokuClient,
        delivery: Delivery,
        *,
        incident_store: IncidentStore,
        log_counts: LogCounts,
        claims: CheckClaims,
        spend: Spend,
        digest_key: bytes,
        clock: Clock = utcnow,
        mention: str = "here",
        limits: Limits | None = None,
        dashboard_url: str | None = None,
    ) -> None:
        self.monitors = monitors
        self.outbox = outbox
        self.heroku = heroku
        self.delivery = delivery
        self.digest_key = digest_key
        self.incident_store = incident_store
        self.log_counts = log_counts
        self.limits = limits  # SPEC §15: memory before R14, the database
        # Its `ttl` is how long a check's claim holds when its process dies mid-check.
        self.claims = claims
        self.spend = spend
        self.mention = mention  # who an escalation calls (ALERT_MENTION)
        self.dashboard_url = dashboard_url  # this service's address: alerts link the app's page
        self.clock = clock
        self.last_check = LastCheck()
        # Why the latest check could not use the database (None: it could).
        self.database_error: str | None = None
        self.database_failures = 0  # checks that failed on the database (a round's heartbeat)
        # After Heroku answers 429, every check waits until this time (then tries again):
        # a rate limit slows monitoring down, it never fails checks into alerts.
        self.throttled_until: datetime | None = None
        self.throttle_reason = ""
        self._throttle_seconds = THROTTLE_FIRST
        # The bugs checks met: each counts as a failed check, its traceback logged once.
        self.bugs = Bugs(log)

    @property
    def internal_errors(self) -> int:
        """How many checks of this process failed on a bug (for /healthz)."""
        return self.bugs.count

    def check(
        self,
        monitor_id: int,
        *,
        force: bool = False,
        source: str = ASKED,
        listing: RoundListing | None = None,
        deliver: bool = True,
    ) -> CheckResult | None:
        """Check one monitor now and deliver what it found; None if there is no such
        monitor, it is paused and not `force`d (another process may have paused it), or
        another check of it is in progress (a poll then skips it, a webhook's check makes
        that one run again; a person's check waits for it). In a polling round, `listing`
        holds the round's lists and only what moved is read.

        When the database fails (locked, read-only, unreachable), the check fails saying
        so, /healthz turns 503 with the cause, and the next check starts from fresh
        connections (a pooled one stays read-only after the file became writable).

        A check that hits a bug fails too, counted as any failed check (three in a row are
        monitoring trouble), its traceback logged once per bug (SPEC §16)."""
        now = self.clock()
        try:
            result = self._claimed(monitor_id, force, source, listing, deliver)
        except SQLAlchemyError as exc:
            return self._failed_on_the_database(monitor_id, exc, now)
        except Exception as exc:
            return self._failed_on_a_bug(monitor_id, exc, now, deliver)
        self.database_error = None
        return result

    def _failed_on_the_database(
        self, monitor_id: int | None, exc: SQLAlchemyError, now: datetime, app: str = ""
    ) -> CheckResult:
        """A check (None: a polling round's own claims or state) that failed on the
        database: /healthz says why, and the next one starts from fresh connections."""
        reason = database_problem(exc)
        what = "a polling round" if monitor_id is None else f"check of monitor {monitor_id}"
        log.warning("%s failed on the database: %s", what, reason)
        self.database_error = reason
        self.database_failures += 1
        self.last_check = LastCheck(now, False, f"the database failed: {reason}")
        self.monitors.db.engine.dispose()
        return CheckResult(monitor_id or 0, app, False, now, [], self.last_check.error)

    def _failed_on_a_bug(
        self, monitor_id: int, exc: Exception, now: datetime, deliver: bool
    ) -> CheckResult:
        """Count a check that hit a bug as a failed check of its monitor, in a transaction
        of its own: as a Heroku failure is (its third in a row alerts), or, when recording
        that fails too, by a count that does not read the kept snapshot (so /healthz still
        names the app, and the third in a row still alerts Monitoring Trouble)."""
        reason = self.bugs.met(exc, "check of monitor %s", monitor_id)
        self.last_check = LastCheck(now, False, reason)
        app = ""
        try:
            monitor = self.monitors.get(monitor_id)
            if monitor is None:
                return CheckResult(monitor_id, app, False, now, [], reason)
            app = monitor.app_name
            try:
                self._record(monitor_id, app, CheckFailed(reason), now, monitor.alert_mention)
            except SQLAlchemyError:
                raise
            except Exception:  # the bug is in recording itself: count the failure alone
                count_failure(
                    self.monitors,
                    self.outbox,
                    self.incident_store,
                    monitor_id,
                    app,
                    reason,
                    now,
                    mention=monitor.alert_mention or self.mention,
                    dashboard_url=self.dashboard_url,
                )
            if deliver:
                self._deliver()
        except SQLAlchemyError as db_exc:
            log.warning(
                "counting the failed check of monitor %s failed on the database: %s",
                monitor_id,
                database_problem(db_exc),
            )
        except Exception as again:
            self.bugs.met(again, "counting the failed check of monitor %s", monitor_id)
        return CheckResult(monitor_id, app, False, now, [], reason)

    def _deliver(self) -> None:
        """The check's delivery run. What goes wrong there is the delivery's, logged (a bug
        once), and never charged to the app: its check was recorded already."""
        try:
            self.delivery.run()
        except SQLAlchemyError as exc:
            log.warning("delivery after a check failed on the database: %s", database_problem(exc))
        except Exception as exc:
            self.bugs.met(exc, "delivery after a check")

    def _claimed(
        self,
        monitor_id: int,
        force: bool,
        source: str,
        listing: RoundListing | None,
        deliver: bool,
    ) -> CheckResult | None:
        """The check under the app's claim; again (a full check) when another process asked
        for one while ours ran."""
        result = None
        while True:
            token = self._claim(monitor_id, source)
            if token is None:
                return result
            done = False  # a check that raised answers no webhook's trigger
            try:
                with spending(source):
                    result = self._check(monitor_id, force=force, listing=listing, deliver=deliver)
                done = True
            finally:
                again = self.claims.release(monitor_id, token, answered=done)
            if not again:
                return result
            source, listing, force, deliver = WEBHOOK, None, False, True

    def _claim(self, monitor_id: int, source: str) -> str | None:
        token = self._on_fresh_connections(
            lambda: self.claims.claim(monitor_id, self.clock(), ask_again=source == WEBHOOK)
        )
        if token is not None or source != ASKED:
            return token
        deadline = time.monotonic() + self.claims.ttl.total_seconds()
        while token is None and time.monotonic() < deadline:
            time.sleep(CLAIM_WAIT_STEP)  # a person's check waits for the one in progress
            token = self.claims.claim(monitor_id, self.clock(), ask_again=False)
        return token

    def _on_fresh_connections(self, write: Callable[[], T]) -> T:
        """Run a write; if it fails on the connection, once more on fresh ones (a pooled
        connection may be stale: opened while the file was read-only, or before a
        failover). Its transaction rolled back, so nothing is done twice."""
        try:
            return write()
        except OperationalError:
            self.monitors.db.engine.dispose()
            return write()

    def flush_spend(self) -> None:
        """Add the Heroku requests this process made since the last flush to the account's
        spend in the database (the rate budget every process plans with)."""
        tally = self.heroku.take_tally()
        try:
            self.spend.add(tally, self.clock())
        except SQLAlchemyError:
            log.warning("counting %s Heroku requests in the budget failed", sum(tally.values()))

    def _check(
        self, monitor_id: int, *, force: bool, listing: RoundListing | None, deliver: bool
    ) -> CheckResult | None:
        monitor = self.monitors.get(monitor_id)
        if monitor is None or (monitor.paused and not force):
            return None
        app, now = monitor.app_name, self.clock()
        if self.throttled_until is not None and now < self.throttled_until:
            return CheckResult(monitor_id, app, False, now, [], self.throttle_note())
        try:
            seen = self._read(
                app, [monitor.snapshot], listing, now, interval=monitor.check_interval
            )
        except RateLimited:
            self.throttle(now)
            return CheckResult(monitor_id, app, False, now, [], self.throttle_note())
        return self._finish(monitor, seen, now, deliver)

    def _finish(
        self,
        monitor: MonitorView,
        seen: AppSnapshot | PartRead | CheckFailed,
        now: datetime,
        deliver: bool,
    ) -> CheckResult:
        """Record what the check saw (one transaction) and deliver what it found."""
        monitor_id, app = monitor.id, monitor.app_name
        fresh = self._on_fresh_connections(
            lambda: self._record(monitor_id, app, seen, now, monitor.alert_mention)
        )
        error = seen.reason if isinstance(seen, CheckFailed) else None
        if error is None:
            self._succeeded(now)
        self.last_check = LastCheck(now, error is None, error)
        if fresh:
            log.info("%s: %s", app, ", ".join(e.kind for e in fresh))
        if deliver:
            self._deliver()
        return CheckResult(monitor_id, app, error is None, now, fresh, error)

    def _succeeded(self, now: datetime) -> None:
        """Heroku answered a check: the rate-limit pause (if any) ends."""
        self.throttled_until, self._throttle_seconds = None, THROTTLE_FIRST
        self._mind_rate_limit(now)

    def _record(
        self,
        monitor_id: int,
        app: str,
        seen: AppSnapshot | PartRead | CheckFailed,
        now: datetime,
        mention: str | None,
    ) -> list[Event]:
        return record(
            self.monitors,
            self.outbox,
            self.incident_store,
            monitor_id,
            app,
            seen,
            now,
            mention=mention or self.mention,
            dashboard_url=self.dashboard_url,
        )

    def check_logs(self, monitor_id: int) -> list[Event]:
        """Read what the app's logs said in the last minutes (every process's counts) and
        alert on what crossed a threshold: router errors, the 5xx rate, memory, boot."""
        monitor = self.monitors.get(monitor_id)
        if monitor is None or monitor.paused:
            return []
        now = self.clock()
        rows = self.log_counts.since(monitor.app_name, now - LOG_HISTORY)
        thresholds, _ = rule_thresholds.parse(monitor.log_thresholds or "")
        events = log_rules.detect(
            monitor.app_name, as_minutes(rows), now, thresholds=thresholds or log_rules.Thresholds()
        )
        if self.limits is not None:
            events += self.limits.events(monitor, now)
        if not events:
            return []
        fresh = record_events(
            self.monitors,
            self.outbox,
            self.incident_store,
            monitor_id,
            monitor.app_name,
            events,
            now,
            mention=monitor.alert_mention or self.mention,
            dashboard_url=self.dashboard_url,
        )
        if fresh:
            log.info("%s: %s", monitor.app_name, ", ".join(e.kind for e in fresh))
            self.delivery.run()
        return fresh

    def throttle(self, now: datetime) -> None:
        """Heroku answered 429: every check waits, longer each time in a row."""
        self.throttled_until = now + timedelta(seconds=self._throttle_seconds)
        self._throttle_seconds = min(self._throttle_seconds * 2, THROTTLE_MAX)
        self.throttle_reason = "Heroku's rate limit was reached"
        log.warning("%s", self.throttle_note())

    def _mind_rate_limit(self, now: datetime) -> None:
        """Pause checks for a minute when the token's requests are nearly used up: the
        token is shared with the team's other tools, which need some left too."""
        remaining = self.heroku.rate_limit_remaining
        if remaining is not None and remaining < budget.RESERVE:
            self.throttled_until = now + timedelta(seconds=RESERVE_PAUSE)
            self.throttle_reason = (
                f"Heroku's rate limit is nearly used up ({remaining} requests left)"
            )
            log.warning("%s", self.throttle_note())

    def throttle_note(self, now: datetime | None = None) -> str:
        """One sentence on the rate-limit pause, for logs and the dashboard ("" when
        checks are not paused at `now`)."""
        if self.throttled_until is None or (now is not None and now >= self.throttled_until):
            return ""
        until = self.throttled_until.strftime("%H:%M:%S UTC")
        return f"{self.throttle_reason}: checks wait until {until}."
