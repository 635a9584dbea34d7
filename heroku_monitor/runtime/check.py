"""One check of one monitor. The schedule, a webhook, the dashboard's "check now" and the
demo buttons all call `Checker.check`, so detection lives in one place.

A check reads top to bottom: claim the app's check (no other process checks it at once);
read the app from Heroku (all of it, or in a polling round only what moved, SPEC §13);
then, in one transaction, load the monitor's state, decide what changed (pure:
`detect.decide`), save the state and record the new alerts (`recording`); then deliver
them.

A polling round (`check_round`) costs what changed (SPEC §13): it claims all its apps in
one transaction, loads their state in one read, reads each app once for every monitor
watching it, and decides each monitor against the state it loaded. One whose read changes
nothing writes nothing of its own: the round stamps the time of all of those and releases
its claims in one transaction at its end. One that changed (or failed) is recorded as a
lone check is, in a transaction of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import CancelledError, Executor, Future, wait
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from heroku_monitor.core import budget, builds, rounds
from heroku_monitor.core import thresholds as rule_thresholds
from heroku_monitor.core.clock import Clock, utcnow
from heroku_monitor.core.detect import CheckFailed, CheckState, Event
from heroku_monitor.core.logs import rules as log_rules
from heroku_monitor.core.rounds import PartRead, RoundListing
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.heroku.client import HerokuClient
from heroku_monitor.heroku.errors import HerokuError, RateLimited
from heroku_monitor.heroku.mapping import key_id
from heroku_monitor.heroku.transport import spending
from heroku_monitor.runtime.bugs import Bugs
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.runtime.limits import Limits
from heroku_monitor.runtime.recording import count_failure, record, record_events
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
# Where a check comes from: the polling round, a webhook delivery, a person (or a
# settings change). A poll skips an app another check is reading; a webhook's check asks
# that one to run once more; a person's waits for it.
POLL, WEBHOOK, ASKED = "poll", "webhook", "asked"
CLAIM_WAIT_STEP = 0.05  # seconds between two tries of a person's check for a busy app
# How often a round looks for checks asked of the apps it holds (a webhook's, here or in
# another process): an app already checked is let go of then and checked again at once,
# instead of waiting for the round's end.
ROUND_ASK_STEP = 0.25  # seconds


@dataclass
class CheckResult:
    monitor_id: int
    app: str
    ok: bool
    at: datetime
    events: list[Event] = field(default_factory=list)
    error: str | None = None


@dataclass
class LastCheck:
    """The latest check this process made, of any monitor (for /healthz)."""

    at: datetime | None = None
    ok: bool | None = None
    error: str | None = None


class Checker:
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

    def _read(
        self,
        app: str,
        kept: Sequence[AppSnapshot | None],
        listing: RoundListing | None,
        now: datetime,
        *,
        interval: int,
    ) -> AppSnapshot | PartRead | CheckFailed:
        """What Heroku says of the app: all of it, or in a polling round its dynos (and its
        releases and config vars when something moved for one of the monitors watching it,
        `kept`: the snapshot each holds). A Heroku error is the check's failure; its rate
        limit is raised (`RateLimited`)."""
        try:
            listed = listing.apps.get(app) if listing is not None else None
            # The commits already known by slug: a release's slug is read once (SPEC §14).
            known = builds.known_commits(next((k for k in kept if k is not None), None))
            if listing is None or listing.error is not None or listed is None:
                # Not in the round's lists (deleted? no access?), or the lists could not be
                # read (SPEC §16): read it alone, and a 404 says why.
                return self.heroku.snapshot(app, now=now, digest_key=self.digest_key, known=known)
            details = rounds.any_needs_details(kept, listed, now, key_id=key_id(self.digest_key))
            # An add-on attached from an app the lists do not show: its add-ons are read too.
            unlisted = listed.id in listing.addons_unlisted
            dynos, got, addons = self.heroku.app_parts(
                app, details=details, addons=unlisted, digest_key=self.digest_key, known=known
            )
            if addons is None:
                addons = listing.addons.get(listed.id, ())
            # A failed build makes no release: its builds are read about one round in
            # BUILDS_EVERY (SPEC §14: at most 0.05 requests an app a round).
            found = None
            if rounds.builds_due(listed.id, kept, now, interval):
                found = self.heroku.builds_if_shown(app)
            return PartRead(listed, tuple(dynos), addons, got, builds=found)
        except RateLimited:
            raise
        except HerokuError as exc:
            log.warning("check of %s failed: %s", app, exc)
            return CheckFailed(str(exc))

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

    # -- a polling round ---------------------------------------------------------------

    def check_round(
        self,
        monitor_ids: Collection[int],
        listing: RoundListing,
        pool: Executor,
        *,
        asked: Callable[[], Collection[int]] = frozenset,
        let_go: Callable[[set[int], set[int]], None] | None = None,
    ) -> list[CheckResult]:
        """Check a polling round's monitors (the lists read, `listing`), each app on
        `pool`; returns the results (a monitor another check is reading, paused, or gone
        has none). Nothing is delivered: the round does that once, at its end.

        One transaction claims every app; one read loads their state; each app is read
        once for every monitor watching it (SPEC §14), and each monitor is decided against
        the state loaded: one whose read changes nothing costs no write of its own; one
        that changed or failed is recorded as a lone check is. One transaction at the end
        stamps the unchanged ones' check time and releases every claim; a monitor a
        webhook asked to check meanwhile is then checked again, whole.

        A check asked for while the round runs (in another process: the claim says so; in
        this one: `asked`, the monitors whose check waits in this process) need not wait
        for the round's end: once the round has checked that app, it lets go of it (one
        transaction) and tells `let_go` (the monitors let go of, and those of them another
        process asked to check again: to check now, whole, elsewhere than on `pool`, whose
        workers the round's apps hold). Without `let_go`, they wait for the round's end."""
        now = self.clock()
        if self.throttled_until is not None and now < self.throttled_until:
            return []  # the pause is on: the next interval comes
        try:
            token, claimed = self._on_fresh_connections(
                lambda: self.claims.claim_round(monitor_ids, now)
            )
        except SQLAlchemyError as exc:
            self._failed_on_the_database(None, exc, now)
            return []
        round_ = _Round(now, token, claimed, self.database_failures)
        meanwhile = None
        if let_go is not None:
            meanwhile = partial(self._let_go_early, round_, asked, let_go)
        try:
            self._round_checks(round_, listing, pool, meanwhile)
        except SQLAlchemyError as exc:  # loading the round's state failed
            self._failed_on_the_database(None, exc, now)
        finally:
            again = self._end_round(round_, round_.claimed - round_.let_go)
        results = list(round_.results)
        for monitor_id in sorted(again):  # asked for while the round held it: once more, whole
            result = self.check(monitor_id, source=WEBHOOK, deliver=False)
            if result is not None:
                results.append(result)
        return results

    def _let_go_early(
        self,
        round_: _Round,
        asked: Callable[[], Collection[int]],
        let_go: Callable[[set[int], set[int]], None],
    ) -> None:
        """Let go of the apps the round has checked that another check asked for: one read
        of the round's claims, and, when some are asked for, one transaction."""
        held = round_.claimed - round_.let_go
        try:
            wanted = (set(asked()) | self.claims.asked_during(round_.token)) & held
        except SQLAlchemyError as exc:
            log.warning("reading a round's claims failed: %s", database_problem(exc))
            return
        ready = wanted & round_.settled_now()
        if not ready:
            return
        again = self._end_round(round_, ready)
        round_.let_go |= ready
        let_go(ready, again)

    def _round_checks(
        self,
        round_: _Round,
        listing: RoundListing,
        pool: Executor,
        meanwhile: Callable[[], None] | None,
    ) -> None:
        views, busy = self.monitors.for_round(round_.claimed)
        by_app: dict[str, list[MonitorView]] = {}
        for monitor_id in sorted(views):
            view = views[monitor_id]
            if view.paused:
                round_.answered.add(monitor_id)  # as a lone check of a paused monitor
                continue
            by_app.setdefault(view.app_name, []).append(view)
        futures: dict[Future[None], list[MonitorView]] = {
            pool.submit(self._round_app, round_, app, watching, listing, busy): watching
            for app, watching in by_app.items()
        }
        pending = set(futures)
        renew_every = self.claims.ttl.total_seconds() / 3
        renewal = time.monotonic() + renew_every
        while pending:
            step = min(ROUND_ASK_STEP, max(0.0, renewal - time.monotonic()))
            _, pending = wait(pending, timeout=step)
            if not pending:
                break
            if meanwhile is not None:
                meanwhile()
            if time.monotonic() >= renewal:
                # A long round keeps its claims (slow Heroku, many apps).
                renewal = time.monotonic() + renew_every
                try:
                    held = round_.claimed - round_.let_go
                    self.claims.renew_round(round_.token, held, self.clock())
                except SQLAlchemyError as exc:
                    log.warning("renewing a round's claims failed: %s", database_problem(exc))
        for future in futures:
            with suppress(CancelledError):  # the pool shut down: they wait for the next round
                future.result()

    def _round_app(
        self,
        round_: _Round,
        app: str,
        watching: list[MonitorView],
        listing: RoundListing,
        busy: Collection[int],
    ) -> None:
        """One app of a round, for every monitor watching it: one read, then each monitor's
        decision (an unchanged one is only counted for the round's stamp)."""
        now = round_.now
        if self.throttled_until is not None and now < self.throttled_until:
            note = self.throttle_note()
            round_.add(*[(CheckResult(v.id, app, False, now, [], note), False) for v in watching])
            return
        try:
            with spending(POLL):
                kept = [v.snapshot for v in watching]
                interval = min(v.check_interval for v in watching)
                seen = self._read(app, kept, listing, now, interval=interval)
        except RateLimited:
            self.throttle(now)
            note = self.throttle_note()
            round_.add(*[(CheckResult(v.id, app, False, now, [], note), False) for v in watching])
            return
        except Exception as exc:  # a bug reading the app: each monitor's failed check
            round_.add(*[(self._failed_on_a_bug(v.id, exc, now, False), False) for v in watching])
            return
        for view in watching:
            if view.id not in busy and self._changes_nothing(view, seen, now):
                self._succeeded(now)
                self.last_check = LastCheck(now, True, None)
                round_.add((CheckResult(view.id, app, True, now), True), steady=view)
                continue
            try:
                result = self._finish(view, seen, now, deliver=False)
            except SQLAlchemyError as exc:
                round_.add((self._failed_on_the_database(view.id, exc, now, app), False))
            except Exception as exc:
                round_.add((self._failed_on_a_bug(view.id, exc, now, False), False))
            else:
                round_.add((result, True))

    @staticmethod
    def _changes_nothing(
        view: MonitorView, seen: AppSnapshot | PartRead | CheckFailed, now: datetime
    ) -> bool:
        """Whether the monitor's check changes nothing, decided against the state the
        round loaded. Whatever goes wrong deciding it is for the recording to meet (and
        count as a failed check): here it only means "record it"."""
        if isinstance(seen, CheckFailed) or view.last_ok is not True:
            return False
        try:
            state = CheckState(view.snapshot, view.failures)
            return rounds.changes_nothing(view.app_name, state, seen, now)
        except Exception:
            return False

    def _end_round(self, round_: _Round, monitor_ids: set[int]) -> set[int]:
        """Stamp the unchanged checks' time and release the round's claims of
        `monitor_ids`, in one transaction; the monitors a check was asked for meanwhile.
        Should it fail, the claims expire (or our next claim takes them back at once), and
        the unchanged checks' time stays the last one the database kept (so /healthz
        tells the truth)."""
        if not monitor_ids:
            return set()
        steady, answered = round_.ended_of(monitor_ids)

        def end() -> set[int]:
            with self.monitors.db.transaction() as s:
                self.monitors.stamp_checked(s, steady, round_.now)
                return self.claims.release_round(
                    s, round_.token, monitor_ids, began=round_.now, answered=answered
                )

        try:
            again = self._on_fresh_connections(end)
        except SQLAlchemyError as exc:
            self._failed_on_the_database(None, exc, round_.now)
            return set()
        if self.database_failures == round_.database_failures:
            self.database_error = None  # every write of the round went through
        return again

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


class _Round:
    """What one polling round's checks found, gathered from the round's pool."""

    def __init__(
        self, now: datetime, token: str, claimed: set[int], database_failures: int
    ) -> None:
        self.now = now
        self.token = token
        self.claimed = claimed
        self.database_failures = database_failures  # the checker's count as it began
        self.results: list[CheckResult] = []
        self.answered: set[int] = set()  # their checks ran to their end
        self.settled: set[int] = set()  # their checks ended, one way or another
        self.steady: dict[int, str] = {}  # unchanged: monitor id -> the app checked
        self.let_go: set[int] = set()  # released before the round's end (asked for)
        self._lock = threading.Lock()

    def settled_now(self) -> set[int]:
        with self._lock:
            return set(self.settled)

    def ended_of(self, monitor_ids: set[int]) -> tuple[dict[int, str], set[int]]:
        """Of `monitor_ids`: the unchanged ones (id -> app), and those whose check ran to
        its end."""
        with self._lock:
            steady = {i: app for i, app in self.steady.items() if i in monitor_ids}
            return steady, self.answered & monitor_ids

    def add(self, *outcomes: tuple[CheckResult, bool], steady: MonitorView | None = None) -> None:
        """Each (result, whether its check ran to its end); `steady`: the monitor whose
        check changed nothing."""
        with self._lock:
            if steady is not None:
                self.steady[steady.id] = steady.app_name
            for result, ended in outcomes:
                self.results.append(result)
                if ended:
                    self.answered.add(result.monitor_id)
                self.settled.add(result.monitor_id)
