"""One check of one monitor: fetch, diff, record, deliver. Every trigger calls `Engine.check`.

The scheduler, a webhook delivery, the dashboard's "check now" and the demo buttons all
end here, so detection lives in one place.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from heroku_monitor import budget, detect
from heroku_monitor.detect import Event
from heroku_monitor.heroku import HerokuClient, HerokuError, RateLimited
from heroku_monitor.slack import DeliveryError, LogNotifier, Notifier
from heroku_monitor.snapshot import AppSnapshot
from heroku_monitor.store import OutboxItem, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

THROTTLE_FIRST, THROTTLE_MAX = 120, 960  # seconds: doubled on each 429 in a row
RESERVE_PAUSE = 60  # seconds: Heroku refills about 75 requests a minute


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class CheckResult:
    monitor_id: int
    app: str
    ok: bool
    at: datetime
    events: list[Event] = field(default_factory=list)
    error: str | None = None


@dataclass
class Health:
    """What /healthz and the dashboard say about the last check of any monitor."""

    last_check_at: datetime | None = None
    last_ok: bool | None = None
    last_error: str | None = None


class Engine:
    def __init__(
        self,
        store: Store,
        heroku: HerokuClient,
        notifier: Notifier,
        *,
        digest_key: bytes,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.heroku = heroku
        self.notifier = notifier
        self.digest_key = digest_key
        self.clock = clock
        self.health = Health()
        self._deliver_lock = threading.Lock()
        self._more = threading.Event()  # set when alerts were queued during a run
        # After Heroku answers 429, every check waits until this time (then tries again):
        # a rate limit slows monitoring down, it never fails checks into alerts.
        self.throttled_until: datetime | None = None
        self.throttle_reason = ""
        self._throttle_seconds = THROTTLE_FIRST

    def check(self, monitor_id: int, *, force: bool = False) -> CheckResult | None:
        """Check one monitor now and deliver what it found; None if there is no such
        monitor, or it is paused and not `force`d (another process may have paused it)."""
        monitor = self.store.monitor(monitor_id)
        if monitor is None or (monitor.paused and not force):
            return None
        app, now = monitor.app_name, self.clock()
        if self.throttled_until is not None and now < self.throttled_until:
            return CheckResult(monitor_id, app, False, now, [], self.throttle_note())
        try:
            snapshot = self.heroku.snapshot(app, now=now, digest_key=self.digest_key)
        except RateLimited:
            self.throttled_until = now + timedelta(seconds=self._throttle_seconds)
            self._throttle_seconds = min(self._throttle_seconds * 2, THROTTLE_MAX)
            self.throttle_reason = "Heroku's rate limit was reached"
            log.warning("%s", self.throttle_note())
            return CheckResult(monitor_id, app, False, now, [], self.throttle_note())
        except HerokuError as exc:
            reason = str(exc)
            log.warning("check of %s failed: %s", app, reason)
            events = self.store.record_failure(monitor_id, app, reason, now)
            result = CheckResult(monitor_id, app, False, now, events, reason)
        else:

            def events_for(
                previous: AppSnapshot | None, failures: int
            ) -> tuple[list[Event], AppSnapshot]:
                found, kept = detect.observe(previous, snapshot)
                return found + detect.check_succeeded(app, failures, now), kept

            events = self.store.record_success(monitor_id, snapshot, events_for, now)
            result = CheckResult(monitor_id, app, True, now, events)
            self.throttled_until, self._throttle_seconds = None, THROTTLE_FIRST
            self._mind_rate_limit(now)
        self.health = Health(now, result.ok, result.error)
        if events:
            log.info("%s: %s", app, ", ".join(e.kind for e in events))
        self.deliver()
        return result

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

    def throttle_note(self) -> str:
        """One sentence on the rate-limit pause, for logs and the dashboard."""
        if self.throttled_until is None:
            return ""
        until = self.throttled_until.strftime("%H:%M:%S UTC")
        return f"{self.throttle_reason}: checks wait until {until}."

    def deliver(self) -> int:
        """Send every due alert of the outbox, oldest first; returns how many went out.

        One delivery run at a time per process (it keeps a channel's alerts in order); a
        caller that finds a run going leaves its alerts to it instead of waiting, so a
        slow Slack never holds up checks. A passing failure (429, 5xx, timeout) ends the
        run: what is left waits for its retry time or the next run, never a busy loop.
        """
        self._more.set()
        if not self._deliver_lock.acquire(blocking=False):
            return 0
        delivered = 0
        try:
            while self._more.is_set():
                self._more.clear()
                while (item := self.store.claim_next(self.clock())) is not None:
                    if not self._send(item):
                        return delivered
                    delivered += 1
            return delivered
        finally:
            self._deliver_lock.release()

    def _send(self, item: OutboxItem) -> bool:
        """Post one claimed alert; False when the run should stop (a passing failure)."""
        try:
            ts = self.notifier.post(item.channel, item.text, item.blocks)
        except DeliveryError as exc:
            if exc.permanent:
                log.error("alert %s to %s not delivered: %s", item.id, item.channel, exc)
                self.store.mark_failed(item, str(exc))
                return True
            wait = exc.retry_after or min(15 * 2**item.attempts, 900)
            log.warning(
                "alert %s to %s will be retried in %.0f s: %s", item.id, item.channel, wait, exc
            )
            self.store.mark_retry(item, str(exc), self.clock() + timedelta(seconds=wait))
            return False
        logged = isinstance(self.notifier, LogNotifier)
        self.store.mark_sent(item, ts, self.clock(), logged=logged)
        return True
