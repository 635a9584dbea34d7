"""Each monitor's changes channel and repository (SPEC section 14): their reads and writes.

`seed` puts SLACK_CHANGES_CHANNEL and MONITORED_APP_REPOSITORY on the first monitor once per
database (as the other settings are seeded: after that the dashboard's values win);
`set_routing` is the dashboard's change of them; `repository` is what a check renders
commit links with.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from heroku_monitor.store.database import Database, rowcount
from heroku_monitor.store.models import KeyValue, Monitor

SEEDED = "seeded_changes"  # the key-value row that says the seed was made


def seed(db: Database, channel: str | None, repository: str | None, now: datetime) -> bool:
    """Set the first monitor's changes channel and repository from the environment, once
    per database ever (the first time either is given, after its first monitor exists).
    Returns whether it did."""
    if not channel and not repository:
        return False
    with db.transaction() as s:
        first = s.execute(select(Monitor).order_by(Monitor.id).limit(1)).scalar()
        if first is None:
            return False
        if not db.insert_new(s, KeyValue, key=SEEDED, value=now.isoformat()):
            return False
        first.changes_channel = channel or None
        first.repository = repository or None
    return True


def set_routing(
    db: Database,
    monitor_id: int,
    *,
    changes_channel: str | None,
    repository: str | None,
    now: datetime,
) -> bool:
    """The monitor's changes channel (None or its alert channel: the same one) and its
    repository (None: no links); False when there is no such monitor."""
    with db.transaction() as s:
        result = s.execute(
            update(Monitor)
            .where(Monitor.id == monitor_id)
            .values(
                changes_channel=changes_channel or None,
                repository=repository or None,
                updated_at=now,
                source="dashboard",
            )
        )
        return bool(rowcount(result))


def repository(s: Session, monitor_id: int) -> str | None:
    """The monitor's GitHub repository (`owner/name`), inside a check's transaction."""
    return s.execute(select(Monitor.repository).where(Monitor.id == monitor_id)).scalar()
