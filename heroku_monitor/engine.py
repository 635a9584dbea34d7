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

from heroku_monitor import detect
from heroku_monitor.detect import Event
from heroku_monitor.heroku import HerokuClient, HerokuError, RateLimited
from heroku_monitor.slack import DeliveryError, LogNotifier, Notifier
from heroku_monitor.snapshot import AppSnapshot
from heroku_monitor.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

THROTTLE_FIRST, THROTTLE_MAX = 120, 960  # seconds: doubled on each 429 in a row


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
        # After Heroku answers 429, every check waits until this time (then tries again):
        # a rate limit slows monitoring down, it never fails checks into alerts.
        self.throttled_until: datetime | None = None
        self._throttle_seconds = THROTTLE_FIRST

    def check(self, monitor_id: int) -> CheckResult | None:
        """Check one monitor now and deliver what it found; None if there is no such monitor."""
        monitor = self.store.monitor(monitor_id)
        if monitor is None:
            return None
        app, now = monitor.app_name, self.clock()
        if self.throttled_until is not None and now < self.throttled_until:
            return CheckResult(monitor_id, app, False, now, [], self.throttle_note())
        try:
            snapshot = self.heroku.snapshot(app, now=now, digest_key=self.digest_key)
        except RateLimited:
            self.throttled_until = now + timedelta(seconds=self._throttle_seconds)
            self._throttle_seconds = min(self._throttle_seconds * 2, THROTTLE_MAX)
            log.warning("Heroku's rate limit is reached: %s", self.throttle_note())
            return CheckResult(monitor_id, app, False, now, [], self.throttle_note())
        except HerokuError as exc:
            reason = str(exc)
            log.warning("check of %s failed: %s", app, reason)
            events = self.store.record_failure(monitor_id, app, reason, now)
            result = CheckResult(monitor_id, app, False, now, events, reason)
        else:

            def events_for(
                previous: AppSnapshot | None, failures: int, episode: int
            ) -> list[Event]:
                found = detect.diff(previous, snapshot)
                return found + detect.check_succeeded(app, failures, episode)

            events = self.store.record_success(monitor_id, snapshot, events_for, now)
            result = CheckResult(monitor_id, app, True, now, events)
            self.throttled_until, self._throttle_seconds = None, THROTTLE_FIRST
        self.health = Health(now, result.ok, result.error)
        if events:
            log.info("%s: %s", app, ", ".join(e.kind for e in events))
        self.deliver()
        return result

    def throttle_note(self) -> str:
        """One sentence on the rate-limit pause, for logs and the dashboard."""
        if self.throttled_until is None:
            return ""
        until = self.throttled_until.strftime("%H:%M:%S UTC")
        return f"Heroku's rate limit was reached: checks wait until {until}."

    def deliver(self) -> int:
        """Send every due alert of the outbox; returns how many were delivered.

        One delivery run at a time per process keeps a channel's alerts in order; a
        second process claims different rows. A passing failure (429, 5xx, timeout) ends
        the run: what is left waits for its retry time or the next run, never a busy loop.
        """
        delivered = 0
        with self._deliver_lock:
            while True:
                now = self.clock()
                batch = self.store.claim_due(now)
                if not batch:
                    return delivered
                for index, item in enumerate(batch):
                    try:
                        ts = self.notifier.post(item.channel, item.text, item.blocks)
                    except DeliveryError as exc:
                        if exc.permanent:
                            log.error(
                                "alert %s to %s not delivered: %s", item.id, item.channel, exc
                            )
                            self.store.mark_failed(item.id, str(exc))
                            continue
                        wait = exc.retry_after or min(15 * 2**item.attempts, 900)
                        log.warning(
                            "alert %s to %s will be retried in %.0f s: %s",
                            item.id,
                            item.channel,
                            wait,
                            exc,
                        )
                        self.store.mark_retry(item.id, str(exc), now + timedelta(seconds=wait))
                        self.store.release([i.id for i in batch[index + 1 :]])
                        return delivered
                    logged = isinstance(self.notifier, LogNotifier)
                    self.store.mark_sent(item.id, ts, self.clock(), logged=logged)
                    delivered += 1
