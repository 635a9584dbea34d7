"""After a long outage (SPEC §16): failed alerts older than a day are not sent again; each
channel's are summed up in one message instead, and marked SUMMED (`Outbox.requeue_failed`
sends the younger ones again, behind what is current). The store does not render: the
message comes from `summary`, which runtime passes in."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from heroku_monitor.core.outbound import Message
from heroku_monitor.store.database import rowcount
from heroku_monitor.store.models import Alert

SUMMED = "summed"  # failed, and too old to send again: summed up in one message instead
# Failed alerts younger than this are sent again; older ones are summed up.
REPLAY_AGE = timedelta(days=1)
# The message that sums up `count` alerts made from `first` to `last`.
Summary = Callable[[int, datetime, datetime], Message]


def sum_up(s: Session, old: list[Any], summary: Summary, now: datetime) -> int:
    """Mark the alerts `old` selects SUMMED and queue, per channel, the one message
    `summary` makes of them (a new alert: ahead of the requeued ones, behind what is
    pending). Returns how many messages were queued."""
    groups = s.execute(
        select(
            Alert.channel,
            func.min(Alert.created_at),
            func.max(Alert.created_at),
            func.max(Alert.id),
        )
        .where(*old)
        .group_by(Alert.channel)
    ).all()
    written = 0
    for channel, first, last, last_id in groups:
        summed = rowcount(
            s.execute(
                update(Alert)
                .where(*old, Alert.channel == channel, Alert.id <= last_id)
                .values(status=SUMMED)
                .execution_options(synchronize_session=False)
            )
        )
        if summed == 0:
            continue  # another process summed them up meanwhile (its summary stands)
        message = summary(summed, first, last)
        written += 1
        s.add(
            Alert(  # pending, the column's default
                key=f"undelivered:{channel}:{last_id}",  # each alert is summed up once
                app_name=message.app,
                kind=message.kind,
                channel=channel,
                text=message.text,
                blocks=json.dumps(message.blocks),
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )
    return written
