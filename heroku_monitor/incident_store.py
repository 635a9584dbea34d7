"""Incidents and snoozes in the database, read and written inside a check's transaction
(under the monitor's state lock, so two processes never number one incident's edits alike)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from heroku_monitor.db import Database, IncidentRow, SnoozeRow
from heroku_monitor.incidents import Incident, Snooze


class IncidentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open_incidents(self, s: Session, monitor_id: int) -> list[Incident]:
        rows = s.execute(
            select(IncidentRow.data)
            .where(IncidentRow.monitor_id == monitor_id, IncidentRow.resolved_at.is_(None))
            .order_by(IncidentRow.opened_at)
        ).scalars()
        return [Incident.from_json(data) for data in rows]

    def save(self, s: Session, monitor_id: int, incidents: Sequence[Incident]) -> None:
        for incident in incidents:
            values = {
                "app_name": incident.app,
                "family": incident.family,
                "opened_at": incident.opened_at,
                "resolved_at": incident.resolved_at,
                "data": incident.to_json(),
            }
            stmt = self.db.insert(IncidentRow).values(
                monitor_id=monitor_id, id=incident.id, **values
            )
            s.execute(stmt.on_conflict_do_update(index_elements=["monitor_id", "id"], set_=values))

    def snoozes(self, s: Session, app: str) -> list[Snooze]:
        row = s.get(SnoozeRow, app)
        if row is None:
            return []
        return [Snooze(row.app_name, row.since, row.until, row.by, tuple(json.loads(row.muted)))]

    def save_snoozes(self, s: Session, app: str, snoozes: Sequence[Snooze]) -> None:
        """Keep `snoozes` (at most one per app); none means the app's snooze ended."""
        s.execute(delete(SnoozeRow).where(SnoozeRow.app_name == app))
        for held in snoozes:
            s.add(
                SnoozeRow(
                    app_name=held.app,
                    since=held.since,
                    until=held.until,
                    by=held.by,
                    muted=json.dumps(list(held.muted)),
                )
            )

    def monitors_of(self, incident_id: str) -> list[int]:
        """The monitors that hold an incident of this id (a button names only the id)."""
        with self.db.reading() as s:
            return list(
                s.execute(
                    select(IncidentRow.monitor_id).where(IncidentRow.id == incident_id)
                ).scalars()
            )

    def all_snoozes(self) -> dict[str, Snooze]:
        """Every app's snooze, by app (for the dashboard)."""
        with self.db.reading() as s:
            rows = s.execute(select(SnoozeRow)).scalars().all()
            return {
                r.app_name: Snooze(r.app_name, r.since, r.until, r.by, tuple(json.loads(r.muted)))
                for r in rows
            }

    def recent(self, since: object) -> list[Incident]:
        """Every incident opened since `since` (a datetime), for the dashboard."""
        with self.db.reading() as s:
            rows = s.execute(
                select(IncidentRow.data)
                .where(IncidentRow.opened_at >= since)
                .order_by(IncidentRow.opened_at)
            ).scalars()
            return [Incident.from_json(data) for data in rows]
