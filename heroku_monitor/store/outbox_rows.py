"""The alert log's statements outside `Outbox`: the statuses an alert goes through, the
prune of old alerts, the head-of-channel condition a sender claims by, and what a
monitor's change of channel or removal does to its alerts."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from heroku_monitor.store.database import rowcount
from heroku_monitor.store.models import Alert, AlertEvent, Monitor
from heroku_monitor.store.replay import REPLAY_AGE, Summary, sum_up

PENDING, SENT, LOGGED, FAILED = "pending", "sent", "logged", "failed"
MUTED = "muted"  # its app was snoozed: in the log, never sent


def prune_alerts(s: Session, cutoff: datetime, limit: int) -> int:
    """Delete at most `limit` alerts created before `cutoff`, with their event keys;
    returns how many went. Never one still pending (claimed ones are pending too), nor
    the parent of a pending reply or edit. (A reply to a message pruned meanwhile, in an
    incident open for 90 days, goes to the channel: delivery posts a reply without its
    parent there.)

    An old event key can go: the snapshot has long moved past the change it names, so
    no check can find that change again."""
    child = aliased(Alert)
    query = select(Alert.id).where(
        Alert.created_at < cutoff,
        Alert.status != PENDING,
        ~exists().where(child.parent_id == Alert.id, child.status == PENDING),
    )
    ids = list(s.execute(query.order_by(Alert.id).limit(limit)).scalars())
    if not ids:
        return 0
    s.execute(delete(AlertEvent).where(AlertEvent.alert_id.in_(ids)))
    return rowcount(s.execute(delete(Alert).where(Alert.id.in_(ids))))


@functools.cache  # built once: rebuilding its aliases cost ~13 ms of CPU a webhook check
def _head_of_channel() -> Any:
    """The first pending alert of its channel, whose message, when it replies to or edits
    one, is settled (sent, or failed for good).

    First: no pending alert of the channel goes before it, current ones (not `requeued`)
    before requeued ones, each oldest first. One waiting for its own message holds up
    no other (that message may be requeued, behind the current ones)."""
    older, parent, its_parent = aliased(Alert), aliased(Alert), aliased(Alert)
    before = or_(
        and_(older.requeued == Alert.requeued, older.id < Alert.id),
        and_(older.requeued.is_(False), Alert.requeued.is_(True)),
    )
    return and_(
        Alert.status == PENDING,
        ~exists().where(
            older.channel == Alert.channel,
            older.status == PENDING,
            before,
            ~exists().where(its_parent.id == older.parent_id, its_parent.status == PENDING),
        ),
        ~exists().where(parent.id == Alert.parent_id, parent.status == PENDING),
    )


def redirect_failed(
    s: Session, monitor_id: int, channel: str, now: datetime, *, summary: Summary | None = None
) -> None:
    """A monitor's channel changed: its failed alerts are queued again, to the new one
    (those of its changes channel, when set apart, stay there: SPEC §14). As after an
    outage (SPEC §16), only those younger than `REPLAY_AGE` are sent again; with
    `summary`, the older ones are summed up in one message to the new channel, without
    they stay failed."""
    monitor = s.get(Monitor, monitor_id)
    apart = monitor.changes_channel if monitor is not None else None
    if apart and monitor is not None and apart == monitor.slack_channel:
        apart = None
    which = [
        Alert.monitor_id == monitor_id,
        Alert.status == FAILED,
        Alert.channel != apart if apart else true(),
    ]
    cutoff = now - REPLAY_AGE
    if summary is not None:
        old = [*which, Alert.created_at < cutoff]
        s.execute(update(Alert).where(*old).values(channel=channel))
        sum_up(s, [*old, Alert.channel == channel], summary, now)
    s.execute(
        update(Alert)
        .where(*which, Alert.created_at >= cutoff)
        .values(
            status=PENDING,
            requeued=True,
            channel=channel,
            next_attempt_at=now,
            last_error=None,
            unknown_error_since=None,
        )
    )


def detach(s: Session, monitor_id: int) -> None:
    """A monitor is removed: its alerts stay in the log, belonging to no monitor."""
    s.execute(update(Alert).where(Alert.monitor_id == monitor_id).values(monitor_id=None))
