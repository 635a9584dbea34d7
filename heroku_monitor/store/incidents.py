"""Incidents and snoozes in the database, read and written inside a transaction that holds
the monitor's state lock (so two processes never number one incident's edits alike).

Both belong to a monitor and the app it watches: a monitor moved to another app leaves its
old app's incidents closed, and a snooze is the monitor's (its channel's) own. An incident
is kept whole as JSON (`incident_to_json`), times as ISO 8601 text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from heroku_monitor.core.detect import Event
from heroku_monitor.core.incidents import Incident, Snooze
from heroku_monitor.core.logs.rules import is_log_kind
from heroku_monitor.core.quiet import STABLE_FOR
from heroku_monitor.core.releases import SuspectDeploy
from heroku_monitor.core.snapshot import Addon, Build, Dyno, Release
from heroku_monitor.store.database import Database
from heroku_monitor.store.models import IncidentRow, Monitor, SnoozeRow


class IncidentStore:
    def __init__(self, db: Database, *, resolve_after: timedelta = STABLE_FOR) -> None:
        self.db = db
        # RESOLVE_AFTER_MINUTES: the resolve hold of a monitor that sets none of its own.
        self.resolve_after = resolve_after

    def resolve_hold(self, s: Session, monitor_id: int) -> timedelta:
        """How long the monitor's dyno incidents must stay up before they are resolved: its
        own `resolve_after_minutes`, else RESOLVE_AFTER_MINUTES. Read in the transaction
        that locked the monitor (its row is already loaded there: no extra query)."""
        monitor = s.get(Monitor, monitor_id)
        if monitor is None or monitor.resolve_after_minutes is None:
            return self.resolve_after
        return timedelta(minutes=monitor.resolve_after_minutes)

    def open_incidents(self, s: Session, monitor_id: int, app: str) -> list[Incident]:
        rows = s.execute(
            select(IncidentRow.data)
            .where(IncidentRow.monitor_id == monitor_id, IncidentRow.app_name == app)
            .where(IncidentRow.resolved_at.is_(None))
            .order_by(IncidentRow.opened_at)
        ).scalars()
        return [incident_from_json(data) for data in rows]

    def save(self, s: Session, monitor_id: int, incidents: Sequence[Incident]) -> None:
        for incident in incidents:
            values = {
                "app_name": incident.app,
                "family": incident.family,
                "opened_at": incident.opened_at,
                "resolved_at": incident.resolved_at,
                "data": incident_to_json(incident),
            }
            stmt = self.db.insert(IncidentRow).values(
                monitor_id=monitor_id, id=incident.id, **values
            )
            s.execute(stmt.on_conflict_do_update(index_elements=["monitor_id", "id"], set_=values))

    def snoozes(self, s: Session, monitor_id: int, app: str) -> list[Snooze]:
        row = s.get(SnoozeRow, monitor_id)
        if row is None or row.app_name != app:
            return []
        return [Snooze(row.app_name, row.since, row.until, row.by, tuple(json.loads(row.muted)))]

    def save_snoozes(self, s: Session, monitor_id: int, snoozes: Sequence[Snooze]) -> None:
        """Keep `snoozes` (at most one: the monitor's); none means its snooze ended."""
        s.execute(delete(SnoozeRow).where(SnoozeRow.monitor_id == monitor_id))
        for held in snoozes[:1]:
            s.add(
                SnoozeRow(
                    monitor_id=monitor_id,
                    app_name=held.app,
                    since=held.since,
                    until=held.until,
                    by=held.by,
                    muted=json.dumps(list(held.muted)),
                )
            )

    def owners(self, incident_id: str) -> list[tuple[int, str]]:
        """(monitor, app) of each incident of this id (a button names only the id)."""
        with self.db.reading() as s:
            rows = s.execute(
                select(IncidentRow.monitor_id, IncidentRow.app_name).where(
                    IncidentRow.id == incident_id
                )
            ).all()
            return [(int(m), str(a)) for m, a in rows]

    def all_snoozes(self) -> dict[int, Snooze]:
        """Every monitor's snooze, by monitor (for the dashboard)."""
        with self.db.reading() as s:
            rows = s.execute(select(SnoozeRow)).scalars().all()
            return {
                r.monitor_id: Snooze(r.app_name, r.since, r.until, r.by, tuple(json.loads(r.muted)))
                for r in rows
            }

    def recent(self, since: datetime) -> list[Incident]:
        """Every incident open now or opened since `since` (the dashboard's 7 days)."""
        with self.db.reading() as s:
            rows = s.execute(
                select(IncidentRow.data)
                .where(or_(IncidentRow.opened_at >= since, IncidentRow.resolved_at.is_(None)))
                .order_by(IncidentRow.opened_at)
            ).scalars()
            return [incident_from_json(data) for data in rows]


# ---------------------------------------------------------------------- JSON


def incident_to_json(incident: Incident) -> str:
    return json.dumps(asdict(incident), default=_iso, sort_keys=True)


def incident_from_json(text: str) -> Incident:
    data: dict[str, Any] = json.loads(text)
    suspect = data.get("suspect")
    return Incident(
        **{
            **data,
            "opened_at": _time(data["opened_at"]),
            "last_seen": _time(data["last_seen"]),
            "recovering_since": _time(data.get("recovering_since")),
            "acknowledged_at": _time(data.get("acknowledged_at")),
            "snoozed_until": _time(data.get("snoozed_until")),
            "resolved_at": _time(data.get("resolved_at")),
            "recent_crashes": tuple(
                datetime.fromisoformat(t) for t in data.get("recent_crashes", ())
            ),
            "opening": tuple(_event(e) for e in data["opening"]),
            "dynos": tuple(data.get("dynos", ())),
            "down": tuple(data.get("down", ())),
            "suspect": (
                SuspectDeploy(**{**suspect, "created_at": _time(suspect["created_at"])})
                if suspect
                else None
            ),
        }
    )


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _event(data: dict[str, Any]) -> Event:
    def maybe(cls: type[Any], value: dict[str, Any] | None, time: str = "") -> Any:
        if not value:
            return None
        return cls(**({**value, time: _time(value.get(time))} if time else value))

    if is_log_kind(str(data["kind"])) and "summary" not in data:
        # Kept before log alerts had fields of their own: `reason` held their text and
        # `failures` their count of lines.
        moved = {"summary": data.get("reason", ""), "lines": data.get("failures", 0)}
        data = {**data, **moved, "reason": "", "failures": 0}
    return Event(
        **{
            **data,
            "dyno": maybe(Dyno, data.get("dyno"), "updated_at"),
            "release": _release(data.get("release")),
            "build": _build(data.get("build")),
            "addon": maybe(Addon, data.get("addon")),
            "previous_addon": maybe(Addon, data.get("previous_addon")),
            "added": tuple(data.get("added", ())),
            "removed": tuple(data.get("removed", ())),
            "changed": tuple(data.get("changed", ())),
            "hostnames": tuple(data.get("hostnames", ())),
            "expires_at": _time(data.get("expires_at")),
        }
    )


def _release(value: dict[str, Any] | None) -> Release | None:
    if not value:
        return None
    output = tuple(value.get("output", ()))
    return Release(**{**value, "created_at": _time(value.get("created_at")), "output": output})


def _build(value: dict[str, Any] | None) -> Build | None:
    """A build event's build (SPEC §14), kept with the incident it opened."""
    if not value:
        return None
    return Build(
        **{
            **value,
            "created_at": _time(value.get("created_at")),
            "updated_at": _time(value.get("updated_at")),
            "output": tuple(value.get("output", ())),
        }
    )


def forget_app(s: Session, monitor_id: int, now: datetime) -> None:
    """The monitor no longer watches its app: its open incidents end quietly (nothing is
    posted about them) and its snooze is dropped."""
    rows = s.execute(
        select(IncidentRow).where(
            IncidentRow.monitor_id == monitor_id, IncidentRow.resolved_at.is_(None)
        )
    ).scalars()
    for row in rows:
        row.resolved_at = now
        row.data = incident_to_json(replace(incident_from_json(row.data), resolved_at=now))
    s.execute(delete(SnoozeRow).where(SnoozeRow.monitor_id == monitor_id))
