"""The alert log, which is also the outbox: each message recorded once, then sent once.

Every event is recorded under a unique key in the transaction that saves the snapshot
it was found in, so an event is alerted once: not again on the next check, after a
restart, or by a second process on the same database. Unsent alerts are the outbox; a
sender claims one with a conditional UPDATE (healthchecks' pattern), never with a lock
held while talking to Slack.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from heroku_monitor.core import routing
from heroku_monitor.core.detect import Event
from heroku_monitor.core.outbound import POST, Message, Receipt
from heroku_monitor.store.database import Database, rowcount
from heroku_monitor.store.models import Alert, AlertEvent, Monitor
from heroku_monitor.store.outbox_rows import FAILED as FAILED
from heroku_monitor.store.outbox_rows import LOGGED as LOGGED
from heroku_monitor.store.outbox_rows import MUTED as MUTED
from heroku_monitor.store.outbox_rows import PENDING as PENDING
from heroku_monitor.store.outbox_rows import SENT as SENT
from heroku_monitor.store.outbox_rows import _head_of_channel as _head_of_channel
from heroku_monitor.store.outbox_rows import detach as detach
from heroku_monitor.store.outbox_rows import prune_alerts as prune_alerts
from heroku_monitor.store.outbox_rows import redirect_failed as redirect_failed
from heroku_monitor.store.replay import REPLAY_AGE, Summary, sum_up

# How long a claim holds by default; the service passes its own (`service.Patience.lease`):
# just longer than the longest post, so no other process takes an alert while it is being
# sent, and one whose sender died is taken again within seconds.
LEASE_SECONDS = 30.0
KEEP_DAYS = 90  # the alert log's (SPEC §16)
PRUNE_SLICE = 500  # alerts one transaction of the prune deletes


def scoped(monitor_id: int, key: str) -> str:
    """The stored key of a message or event key of one monitor (the one place it is made):
    two monitors of one app keep their own alert log."""
    return f"m{monitor_id}:{key}"


def for_channel(channel: str, key: str) -> str:
    """The stored key of a message that belongs to no monitor, sent to `channel` (Heroku's
    own incidents: one per channel)."""
    return f"c:{channel}:{key}"


@dataclass(frozen=True)
class OutboxItem:
    """A claimed alert; `token` proves the claim when it is settled."""

    id: int
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    attempts: int
    token: str = ""
    created_at: datetime | None = None
    unknown_error_since: datetime | None = None
    passing_error_since: datetime | None = None
    action: str = POST
    broadcast: bool = False
    # The message a reply or an edit is about, as Slack knows it (None: it was never
    # delivered, or it only went to the log).
    parent_channel_id: str | None = None
    parent_ts: str | None = None
    parent_status: str | None = None
    parent_fixable: bool = True


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- recording, inside the checker's transaction -----------------------------------

    def first_seen(
        self, s: Session, monitor_id: int, events: Sequence[Event], now: datetime
    ) -> list[Event]:
        """Record each event's key; returns the events not recorded before."""
        return [
            e
            for e in events
            if self.db.insert_new(s, AlertEvent, key=scoped(monitor_id, e.key), created_at=now)
        ]

    def enqueue(
        self, s: Session, monitor_id: int, messages: Sequence[Message], now: datetime
    ) -> None:
        """Add `messages` to the outbox, each tied to its events: a change to the monitor's
        changes channel, anything else to its alert channel, a reply or an edit where the
        message it belongs to went (SPEC §14, `core.routing`)."""
        monitor = s.get(Monitor, monitor_id)
        if monitor is None:
            return
        for message in messages:
            parent_id = None
            channel = routing.channel_for(
                message.kind, monitor.slack_channel, monitor.changes_channel
            )
            if message.parent_key is not None:
                parent = s.execute(
                    select(Alert.id, Alert.channel).where(
                        Alert.key == scoped(monitor_id, message.parent_key)
                    )
                ).first()
                if parent is not None:
                    parent_id, channel = parent[0], parent[1]
            alert = Alert(
                key=scoped(monitor_id, message.key),
                action=message.action,
                parent_id=parent_id,
                broadcast=message.broadcast,
                monitor_id=monitor_id,
                app_name=message.app,
                kind=message.kind,
                channel=channel,
                text=message.text,
                blocks=json.dumps(message.blocks),
                status=MUTED if message.muted else PENDING,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            s.add(alert)
            s.flush()
            s.execute(
                update(AlertEvent)
                .where(AlertEvent.key.in_([scoped(monitor_id, k) for k in message.event_keys]))
                .values(alert_id=alert.id)
            )

    def enqueue_to_channel(
        self, s: Session, channel: str, messages: Sequence[Message], now: datetime
    ) -> int:
        """Add `messages` to the outbox for `channel`, belonging to no monitor (Heroku's own
        incidents, SPEC §15): each under `for_channel(channel, key)`, a reply or an edit tied
        to its message in the same channel. A message queued before (another process, the
        same read) is not queued again. Returns how many were queued."""
        queued = 0
        for message in messages:
            parent_id = None
            if message.parent_key is not None:
                parent_id = s.execute(
                    select(Alert.id).where(Alert.key == for_channel(channel, message.parent_key))
                ).scalar()
            values = {
                "key": for_channel(channel, message.key),
                "action": message.action,
                "parent_id": parent_id,
                "broadcast": message.broadcast,
                "monitor_id": None,
                "app_name": message.app,
                "kind": message.kind,
                "channel": channel,
                "text": message.text,
                "blocks": json.dumps(message.blocks),
                "status": MUTED if message.muted else PENDING,
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
                "requeued": False,
                "fixable": True,
            }
            stmt = self.db.insert(Alert).values(**values).on_conflict_do_nothing()
            queued += s.connection().execute(stmt.returning(Alert.id)).first() is not None
        return queued

    # -- sending -----------------------------------------------------------------------

    def claim_next(self, now: datetime, *, lease: float = LEASE_SECONDS) -> OutboxItem | None:
        """Claim the oldest due alert for `lease` seconds, or None when none is due.

        Only the oldest pending alert of each channel can be claimed: a channel's alerts go
        out in order, one at a time across every process, and one waiting for its retry
        (Slack's Retry-After) holds up its own channel only. A claim is a conditional
        UPDATE that only one process can win, made right before the alert is posted.
        """
        with self.db.transaction() as s:
            query = (
                select(Alert)
                .where(_head_of_channel(), Alert.next_attempt_at <= now)
                .where((Alert.claimed_until.is_(None)) | (Alert.claimed_until < now))
            )
            candidates = s.execute(query.order_by(Alert.id).limit(5)).scalars().all()
            for alert in candidates:
                token = secrets.token_hex(8)
                won = s.execute(
                    update(Alert)
                    .where(Alert.id == alert.id, Alert.status == PENDING)
                    .where((Alert.claimed_until.is_(None)) | (Alert.claimed_until < now))
                    .values(claimed_until=now + timedelta(seconds=lease), claim_token=token)
                    .execution_options(synchronize_session=False)
                )
                if rowcount(won) == 1:
                    parent = s.get(Alert, alert.parent_id) if alert.parent_id else None
                    return OutboxItem(
                        alert.id,
                        alert.channel,
                        alert.text,
                        json.loads(alert.blocks),
                        alert.attempts,
                        token,
                        alert.created_at,
                        alert.unknown_error_since,
                        alert.passing_error_since,
                        action=alert.action,
                        broadcast=alert.broadcast,
                        parent_channel_id=parent.channel_id if parent else None,
                        parent_ts=parent.slack_ts if parent else None,
                        parent_status=parent.status if parent else None,
                        parent_fixable=parent.fixable if parent else True,
                    )
            return None

    def next_due(self, now: datetime) -> datetime | None:
        """When the next alert can be claimed: a channel's oldest's retry time, or the end of
        the claim another process holds (one that died leaves its alert claimed until then)."""
        with self.db.reading() as s:
            rows = s.execute(
                select(Alert.next_attempt_at, Alert.claimed_until).where(_head_of_channel())
            ).all()
        times = [max(due, claimed or due) for due, claimed in rows]
        return min(times) if times else None

    def _settle(self, item: OutboxItem, **values: Any) -> tuple[bool, int | None]:
        """Settle a claimed alert in a transaction of its own, first: nothing that follows
        can undo it (which would send the alert again when its claim lapses). Returns
        (whether our claim still held, the alert's monitor)."""
        with self.db.transaction() as s:
            result = s.execute(
                update(Alert)
                .where(Alert.id == item.id, Alert.claim_token == item.token)
                .values(claimed_until=None, claim_token=None, attempts=Alert.attempts + 1, **values)
            )
            if not rowcount(result):
                return False, None  # our claim had lapsed; whoever holds it settles the row
            return True, s.execute(select(Alert.monitor_id).where(Alert.id == item.id)).scalar()

    def mark_sent(
        self, item: OutboxItem, receipt: Receipt, now: datetime
    ) -> tuple[bool, int | None]:
        """Record a delivery; returns (settled by us, the alert's monitor)."""
        return self._settle(
            item,
            status=LOGGED if receipt.logged else SENT,
            slack_ts=receipt.ts or None,
            channel_id=receipt.channel_id or None,
            sent_at=now,
            last_error=None,
            passing_error_since=None,
        )

    def mark_retry(
        self,
        item: OutboxItem,
        error: str,
        next_attempt_at: datetime,
        *,
        unknown_since: Any,
        passing_since: datetime | None = None,
    ) -> None:
        """Try again at `next_attempt_at`; `unknown_since` is when an error nobody
        documented first came (kept while it lasts, None once another error comes);
        `passing_since` when Slack's passing trouble first refused it (kept till it goes)."""
        self._settle(
            item,
            last_error=error,
            next_attempt_at=next_attempt_at,
            unknown_error_since=unknown_since,
            passing_error_since=passing_since,
        )

    def mark_failed(
        self, item: OutboxItem, error: str, *, fixable: bool, passing_since: Any = None
    ) -> tuple[bool, int | None]:
        """A permanent failure: kept with its reason for the dashboard; a `fixable` one is
        queued again once the channel or the token works (`requeue_failed`). With
        `passing_since`, Slack's passing trouble refused it too long: sent again only when a
        person asks."""
        return self._settle(
            item,
            status=FAILED,
            last_error=error,
            fixable=fixable,
            passing_error_since=passing_since,
        )

    def requeue_failed(
        self,
        now: datetime,
        *,
        channel: str | None = None,
        summary: Summary | None = None,
        refused_too: bool = False,
    ) -> int:
        """Queue the fixable failed alerts again (all, or `channel`'s: it works now), behind
        what is pending (what is current goes first); `refused_too`: also those Slack's
        passing trouble refused too long (a person pressed "send again").

        Only those younger than `REPLAY_AGE` are sent again. With `summary`, each channel's
        older ones are summed up in the one message it makes (queued ahead of the replay)
        and marked SUMMED; without, they stay failed. Returns how many messages are queued.
        """
        which = [Alert.status == FAILED]
        if refused_too:
            which.append(or_(Alert.fixable.is_(True), Alert.passing_error_since.is_not(None)))
        else:
            which.append(Alert.fixable.is_(True))
        if channel is not None:
            which.append(Alert.channel == channel)
        cutoff = now - REPLAY_AGE
        with self.db.transaction() as s:
            old = [*which, Alert.created_at < cutoff]
            queued = 0 if summary is None else sum_up(s, old, summary, now)
            result = s.execute(
                update(Alert)
                .where(*which, Alert.created_at >= cutoff)
                .values(
                    status=PENDING,
                    requeued=True,
                    next_attempt_at=now,
                    last_error=None,
                    unknown_error_since=None,
                    passing_error_since=None,
                )
            )
            return queued + rowcount(result)

    # -- the log -----------------------------------------------------------------------

    def prune(self, now: datetime, *, keep_days: int = KEEP_DAYS) -> int:
        """Forget delivered or failed alerts (and their event keys) older than `keep_days`,
        in slices of `PRUNE_SLICE`; returns how many alerts went. What `prune_alerts`
        keeps is never pruned. (The prune job runs it through `retention.Retention`.)"""
        cutoff, gone = now - timedelta(days=keep_days), 0
        while True:
            with self.db.transaction() as s:
                n = prune_alerts(s, cutoff, PRUNE_SLICE)
            gone += n
            if n < PRUNE_SLICE:
                return gone

    def recent(self, *, limit: int = 50, status: str | None = None) -> list[Alert]:
        with self.db.reading() as s:
            query = select(Alert).order_by(Alert.id.desc()).limit(limit)
            if status:
                query = query.where(Alert.status == status)
            return list(s.execute(query).scalars().all())

    def of_app(self, app: str, since: datetime) -> list[Alert]:
        """The app's alerts since `since`, oldest first (the dashboard's timeline)."""
        with self.db.reading() as s:
            query = (
                select(Alert)
                .where(Alert.app_name == app, Alert.created_at >= since)
                .order_by(Alert.id)
            )
            return list(s.execute(query).scalars().all())

    def count(self, status: str | None = None) -> int:
        with self.db.reading() as s:
            query = select(func.count()).select_from(Alert)
            if status:
                query = query.where(Alert.status == status)
            return int(s.execute(query).scalar_one())
