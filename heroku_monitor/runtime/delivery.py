"""Sending the outbox to Slack: claim one alert, post it, settle it; oldest first.

Checks end by starting a delivery run; the scheduler starts one every few seconds too,
for retries. Whether a Slack error is worth retrying is decided in `slack/notifier.py`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from heroku_monitor.core.clock import Clock
from heroku_monitor.core.outbound import REPLY, UPDATE, Blocks, Receipt
from heroku_monitor.render.messages import undelivered
from heroku_monitor.slack.notifier import DeliveryError, Notifier
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import FAILED, LEASE_SECONDS, LOGGED, SENT, Outbox, OutboxItem
from heroku_monitor.store.replay import SUMMED

log = logging.getLogger(__name__)

RETRY = "retry"  # what `_send` says of a passing failure (SENT and FAILED: the outbox's)
# A message Slack's own trouble (5xx, `internal_error`) keeps refusing goes as plain text
# after this long, counted from the first refusal, and is failed after `TROUBLE_PATIENCE`:
# the channel's later alerts then go (SPEC §16). A 429 is Slack's Retry-After, not this.
PLAIN_TEXT_AFTER = timedelta(hours=1)
TROUBLE_PATIENCE = timedelta(hours=6)


class Delivery:
    def __init__(
        self,
        outbox: Outbox,
        monitors: Monitors,
        notifier: Notifier,
        clock: Clock,
        *,
        lease: float = LEASE_SECONDS,
    ) -> None:
        self.outbox = outbox
        self.monitors = monitors
        self.notifier = notifier
        self.clock = clock
        self.lease = lease
        # Called with the time a retry is due, so it goes then (the scheduler sets it).
        self.wake_at: Callable[[datetime], object] = lambda when: None
        self._lock = threading.Lock()
        self._more = threading.Event()  # set when alerts were queued during a run

    def run(self) -> int:
        """Send every due alert of the outbox, oldest first; returns how many went out.

        One delivery run at a time per process (it keeps a channel's alerts in order); a
        caller that finds a run going leaves its alerts to it instead of waiting, so a
        slow Slack never holds up checks. A passing failure (429, 5xx, timeout) holds up its
        own channel until the retry time (its alerts stay in order: `Outbox.claim_next`
        takes a channel's oldest only); the other channels' alerts go on. Never a busy loop.
        """
        self._more.set()
        delivered = 0
        # A caller that found the lock taken set `_more` first: the run holding the lock
        # sees it, before it lets go of the lock or just after (then it runs again).
        while self._more.is_set() and self._lock.acquire(blocking=False):
            try:
                while self._more.is_set():
                    self._more.clear()
                    delivered += self._send_due()
                due = self.outbox.next_due(self.clock())
                if due is not None:
                    self.wake_at(due)  # a retry, or a lease a dead process left behind
            finally:
                self._lock.release()
        return delivered

    def requeue_failed(self, channel: str | None = None, *, by_person: bool = False) -> int:
        """Queue failed alerts again (all, or `channel`'s: it works now), behind the current
        ones; those older than a day are summed up, one message per channel. `by_person`:
        "send again" was pressed, which sends what Slack's trouble refused too. Returns how
        many messages are queued."""
        return self.outbox.requeue_failed(
            self.clock(), channel=channel, summary=undelivered, refused_too=by_person
        )

    def _send_due(self) -> int:
        """Send every alert due now, each channel's oldest first (a channel whose alert
        waits for its retry is held back: `Outbox.claim_next` skips it)."""
        sent = 0
        while (item := self.outbox.claim_next(self.clock(), lease=self.lease)) is not None:
            sent += self._send(item) == SENT
        return sent

    def _send(self, item: OutboxItem) -> str:
        """Post one claimed alert: SENT, FAILED (for good), or RETRY (a passing failure:
        its channel waits for the retry time, the run goes on with the other channels)."""
        since = item.passing_error_since
        plain = since is not None and self.clock() - since >= PLAIN_TEXT_AFTER
        try:
            receipt = self._call(item, [] if plain else item.blocks)
        except DeliveryError as exc:
            now = self.clock()
            trouble_since = (since or now) if exc.slacks_trouble else since
            refused = (
                not exc.permanent
                and trouble_since is not None
                and now - trouble_since >= TROUBLE_PATIENCE
            )
            if exc.permanent or _given_up(item, exc, now) or refused:
                log.error("alert %s to %s not delivered: %s", item.id, item.channel, exc)
                settled, monitor_id = self.outbox.mark_failed(
                    item,
                    str(exc),
                    fixable=exc.fixable and not refused,
                    passing_since=trouble_since if refused else None,
                )
                if settled:
                    self.monitors.set_delivery_error(monitor_id, f"{item.channel}: {exc}")
                return FAILED
            # Slack's Retry-After to the second; else back-off, 15 s doubling up to 15 min.
            wait = (
                max(1.0, exc.retry_after) if exc.retry_after is not None else backoff(item.attempts)
            )
            due = now + timedelta(seconds=wait)
            log.warning(
                "alert %s to %s will be retried in %.0f s: %s", item.id, item.channel, wait, exc
            )
            unknown_since = (item.unknown_error_since or now) if exc.give_up_after else None
            self.outbox.mark_retry(
                item, str(exc), due, unknown_since=unknown_since, passing_since=trouble_since
            )
            return RETRY
        now = self.clock()
        settled, monitor_id = self.outbox.mark_sent(item, receipt, now)
        if settled:
            # The channel (or the token) works now: what failed there may go through too.
            self.monitors.set_delivery_error(monitor_id, None)
            self.requeue_failed(item.channel)
        return SENT

    def _call(self, item: OutboxItem, blocks: Blocks) -> Receipt:
        """Ask Slack what the alert asks: post it, reply in its message's thread, or edit
        that message. A reply or an edit of a message that failed fails with it (and goes
        after it, once it goes); a reply to a message Slack refused (or one summed up, too
        old to send again) goes to the channel. `blocks` empty: the text alone."""
        where = item.parent_channel_id
        if item.action == UPDATE:
            if item.parent_status == LOGGED:  # no Slack token then: the edit goes to the log too
                return self.notifier.update(item.channel, "", item.text, blocks)
            if not (where and item.parent_ts):
                # Failed with its message: sent again with it (after it) once that goes.
                # No message at all (pruned after 90 days, or never queued): nothing to edit.
                refused = item.parent_status in (None, SUMMED) or (
                    item.parent_status == FAILED and not item.parent_fixable
                )
                reason = "its_message_was_refused" if refused else "its_message_was_not_delivered"
                raise DeliveryError(reason, permanent=True)
            return self.notifier.update(where, item.parent_ts, item.text, blocks)
        if item.action == REPLY and where and item.parent_ts:
            return self.notifier.post(
                where, item.text, blocks, thread_ts=item.parent_ts, broadcast=item.broadcast
            )
        if item.action == REPLY and item.parent_status == FAILED and item.parent_fixable:
            # Its message failed, but may go once the channel works: then this goes too,
            # after it and in its thread (both are queued again together).
            raise DeliveryError("its_message_was_not_delivered", permanent=True)
        return self.notifier.post(item.channel, item.text, blocks)


def backoff(attempts: int) -> float:
    """Seconds before the next try of an alert that failed `attempts` times before."""
    return float(min(15 * 2**attempts, 900))


def _given_up(item: OutboxItem, exc: DeliveryError, now: datetime) -> bool:
    """An error Slack does not document has been retried for long enough (counted from
    when it first came, however old the alert)."""
    if exc.give_up_after is None or item.unknown_error_since is None:
        return False
    return (now - item.unknown_error_since).total_seconds() >= exc.give_up_after
