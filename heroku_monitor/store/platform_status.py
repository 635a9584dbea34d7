"""Heroku's own incidents as the status API showed them (`platform_incidents`, SPEC §15),
each kept whole as JSON (`platform_status.Tracked`), times as ISO 8601 text.

Open ones are few (Heroku has a handful a month); resolved ones are kept 90 days, like the
alert log their messages are in (`retention.py`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from heroku_monitor.core import platform_status
from heroku_monitor.core.platform_status import SystemStatus, Tracked
from heroku_monitor.store.database import Database
from heroku_monitor.store.models import Monitor, PlatformIncidentRow

# Open incidents, and resolved ones this recent, are what a read is decided against (a
# resolved one still in the current status must not be posted again as new).
RECENT = timedelta(days=2)


def to_json(incident: Tracked) -> str:
    def iso(value: object) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"{type(value).__name__} is not JSON")

    return json.dumps(asdict(incident), default=iso, sort_keys=True)


def from_json(text: str) -> Tracked:
    data: dict[str, Any] = json.loads(text)

    def time(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None

    opened = time(data["opened_at"])
    assert opened is not None
    return Tracked(
        id=str(data["id"]),
        title=str(data["title"]),
        url=str(data.get("url", "")),
        systems=tuple(SystemStatus(**s) for s in data.get("systems", ())),
        opened_at=opened,
        first_seen=time(data.get("first_seen")) or opened,
        last_seen=time(data.get("last_seen")) or opened,
        channels=tuple(data.get("channels", ())),
        updates=tuple(str(u) for u in data.get("updates", ())),
        resolved_at=time(data.get("resolved_at")),
        revision=int(data.get("revision", 0)),
    )


class PlatformIncidents:
    def __init__(self, db: Database) -> None:
        self.db = db

    def lock_recent(self, s: Session, now: datetime) -> list[Tracked]:
        """The open incidents and those resolved lately, locked (PostgreSQL) until the
        transaction ends: two processes deciding one read at once take turns."""
        rows = s.execute(
            select(PlatformIncidentRow.data)
            .where(
                or_(
                    PlatformIncidentRow.resolved_at.is_(None),
                    PlatformIncidentRow.resolved_at >= now - RECENT,
                )
            )
            .order_by(PlatformIncidentRow.id)
            .with_for_update()
        ).scalars()
        return [from_json(data) for data in rows]

    def save(self, s: Session, incidents: Sequence[Tracked]) -> None:
        for incident in incidents:
            values = {
                "last_seen": incident.last_seen,
                "resolved_at": incident.resolved_at,
                "data": to_json(incident),
            }
            stmt = self.db.insert(PlatformIncidentRow).values(id=incident.id, **values)
            s.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))

    def alert_channels(self) -> list[str]:
        """Every active monitor's alert channel, each once (HEROKU_STATUS_CHANNEL unset)."""
        with self.db.reading() as s:
            rows = s.execute(
                select(Monitor.slack_channel)
                .where(Monitor.paused.is_(False))
                .group_by(Monitor.slack_channel)
                .order_by(Monitor.slack_channel)
            ).scalars()
            return [str(c) for c in rows]

    def recent(self, now: datetime) -> list[Tracked]:
        """Open incidents and those resolved lately (the dashboard)."""
        with self.db.reading() as s:
            rows = s.execute(
                select(PlatformIncidentRow.data).where(
                    or_(
                        PlatformIncidentRow.resolved_at.is_(None),
                        PlatformIncidentRow.resolved_at >= now - RECENT,
                    )
                )
            ).scalars()
            return [from_json(d) for d in rows]


def open_title(s: Session, now: datetime) -> str:
    """The title of the platform incident open at `now` (and confirmed lately by a read),
    "" when none: what an app incident opening now names (SPEC §15). Read in the transaction
    that records the app's events (`recording`): one small query on a table of a few rows."""
    rows = s.execute(
        select(PlatformIncidentRow.data).where(
            PlatformIncidentRow.resolved_at.is_(None),
            PlatformIncidentRow.last_seen >= now - platform_status.FRESH_FOR,
        )
    ).scalars()
    return platform_status.open_title([from_json(d) for d in rows], now)
