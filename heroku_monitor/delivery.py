"""Sending the outbox to Slack: claim one alert, post it, settle it; oldest first.

Checks end by starting a delivery run; the scheduler starts one every few seconds too,
for retries. Whether a Slack error is worth retrying is decided in `slack.py`.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from heroku_monitor.clock import Clock
from heroku_monitor.monitors import Monitors
from heroku_monitor.outbox import FAILED, SENT, Outbox, OutboxItem
from heroku_monitor.slack import DeliveryError, Notifier

log = logging.getLogger(__name__)

RETRY = "retry"  # what `_send` says of a passing failure (SENT and FAILED: the outbox's)


class Delivery:
    def __init__(self, outbox: Outbox, monitors: Monitors, notifier: Notifier, clock: Clock):
        self.outbox = outbox
        self.monitors = monitors
        self.notifier = notifier
        self.clock = clock
        self._lock = threading.Lock()
        self._more = threading.Event()  # set when alerts were queued during a run

    def run(self) -> int:
        """Send every due alert of the outbox, oldest first; returns how many went out.

        One delivery run at a time per process (it keeps a channel's alerts in order); a
        caller that finds a run going leaves its alerts to it instead of waiting, so a
        slow Slack never holds up checks. A passing failure (429, 5xx, timeout) ends the
        run: what is left waits for its retry time or the next run, never a busy loop.
        """
        self._more.set()
        if not self._lock.acquire(blocking=False):
            return 0
        delivered = 0
        try:
            while self._more.is_set():
                self._more.clear()
                while (item := self.outbox.claim_next(self.clock())) is not None:
                    outcome = self._send(item)
                    if outcome == RETRY:
                        return delivered
                    delivered += outcome == SENT
            return delivered
        finally:
            self._lock.release()

    def _send(self, item: OutboxItem) -> str:
        """Post one claimed alert: SENT, FAILED (for good), or RETRY (a passing failure,
        which ends the run)."""
        try:
            receipt = self.notifier.post(item.channel, item.text, item.blocks)
        except DeliveryError as exc:
            if exc.permanent:
                log.error("alert %s to %s not delivered: %s", item.id, item.channel, exc)
                settled, monitor_id = self.outbox.mark_failed(item, str(exc), fixable=exc.fixable)
                if settled:
                    self.monitors.set_delivery_error(monitor_id, f"{item.channel}: {exc}")
                return FAILED
            wait = exc.retry_after or min(15 * 2**item.attempts, 900)
            log.warning(
                "alert %s to %s will be retried in %.0f s: %s", item.id, item.channel, wait, exc
            )
            self.outbox.mark_retry(item, str(exc), self.clock() + timedelta(seconds=wait))
            return RETRY
        now = self.clock()
        settled, monitor_id = self.outbox.mark_sent(item, receipt, now)
        if settled:
            # The channel (or the token) works now: what failed there may go through too.
            self.monitors.set_delivery_error(monitor_id, None)
            self.outbox.requeue_failed(now, channel=item.channel)
        return SENT
