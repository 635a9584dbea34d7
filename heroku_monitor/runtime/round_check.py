"""A polling round of `Checker` (the mixin `RoundChecks`), and what a check returns.

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
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from heroku_monitor.core import builds, rounds
from heroku_monitor.core.clock import Clock
from heroku_monitor.core.detect import CheckFailed, CheckState, Event
from heroku_monitor.core.rounds import PartRead, RoundListing
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.heroku.client import HerokuClient
from heroku_monitor.heroku.errors import HerokuError, RateLimited
from heroku_monitor.heroku.mapping import key_id
from heroku_monitor.heroku.transport import spending
from heroku_monitor.store.claims import CheckClaims
from heroku_monitor.store.database import database_problem
from heroku_monitor.store.monitors import Monitors, MonitorView

log = logging.getLogger("heroku_monitor.runtime.check")
T = TypeVar("T")

# Where a check comes from: the polling round, a webhook delivery, a person (or a
# settings change). A poll skips an app another check is reading; a webhook's check asks
# that one to run once more; a person's waits for it.
POLL, WEBHOOK, ASKED = "poll", "webhook", "asked"
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


class RoundChecks:
    """`Checker`'s polling round: its claims, its apps on the pool, and its end."""

    monitors: Monitors
    claims: CheckClaims
    clock: Clock
    throttled_until: datetime | None
    database_failures: int
    database_error: str | None
    last_check: LastCheck
    heroku: HerokuClient
    digest_key: bytes

    if TYPE_CHECKING:  # what `Checker` defines

        def check(
            self,
            monitor_id: int,
            *,
            force: bool = False,
            source: str = ...,
            listing: RoundListing | None = None,
            deliver: bool = True,
        ) -> CheckResult | None: ...

        def _on_fresh_connections(self, write: Callable[[], T]) -> T: ...

        def _failed_on_the_database(
            self, monitor_id: int | None, exc: SQLAlchemyError, now: datetime, app: str = ""
        ) -> CheckResult: ...

        def _failed_on_a_bug(
            self, monitor_id: int, exc: Exception, now: datetime, deliver: bool
        ) -> CheckResult: ...

        def _finish(
            self,
            monitor: MonitorView,
            seen: AppSnapshot | PartRead | CheckFailed,
            now: datetime,
            deliver: bool,
        ) -> CheckResult: ...

        def _succeeded(self, now: datetime) -> None: ...

        def throttle(self, now: datetime) -> None: ...

        def throttle_note(self, now: datetime | None = None) -> str: ...

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
