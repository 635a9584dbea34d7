"""The last read of each app's domains and SNI endpoints (`certificate_reads`, SPEC §15): when
it was and what it found (`certificates.CertificateState` as JSON, times as ISO 8601 text).
One row per app, whichever monitors watch it: an app is read once for all of them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heroku_monitor.core.certificates import CertificateState
from heroku_monitor.store.database import Database
from heroku_monitor.store.models import CertificateRead, Monitor

# A row not read again for this long belongs to an app no monitor watches any more (a
# watched one is read every 6 hours): `retention.py` prunes it.
KEEP_DAYS = 7


def state_to_json(state: CertificateState) -> str:
    def pairs(items: Iterable[tuple[str, datetime | None]]) -> list[list[str | None]]:
        return [[name, at.isoformat() if at else None] for name, at in items]

    return json.dumps(
        {
            "read_at": state.read_at.isoformat() if state.read_at else None,
            "expiring": pairs(state.expiring),
            "failed": pairs(state.failed),
            "certificates": pairs(state.certificates),
        },
        sort_keys=True,
    )


def state_from_json(text: str) -> CertificateState:
    data: dict[str, Any] = json.loads(text)

    def time(value: Any) -> datetime | None:
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) and value else None
        except ValueError:
            return None

    def pairs(name: str) -> tuple[tuple[str, datetime], ...]:
        found = ((str(k), time(v)) for k, v in data.get(name, ()))
        return tuple((k, v) for k, v in found if v is not None)

    return CertificateState(
        read_at=time(data.get("read_at")),
        expiring=pairs("expiring"),
        failed=pairs("failed"),
        certificates=tuple((str(k), time(v)) for k, v in data.get("certificates", ())),
    )


class CertificateReads:
    def __init__(self, db: Database) -> None:
        self.db = db

    def last_reads(self, apps: Iterable[str]) -> dict[str, datetime | None]:
        """When each of `apps` was last read (None: never). One query."""
        wanted = sorted(set(apps))
        found: dict[str, datetime | None] = dict.fromkeys(wanted)
        if not wanted:
            return found
        with self.db.reading() as s:
            rows = s.execute(
                select(CertificateRead.app_name, CertificateRead.read_at).where(
                    CertificateRead.app_name.in_(wanted)
                )
            ).all()
        found.update({str(app): at for app, at in rows})
        return found

    def watched_apps(self) -> dict[str, list[int]]:
        """Each app an active monitor watches, with those monitors' ids. One query."""
        with self.db.reading() as s:
            rows = s.execute(
                select(Monitor.app_name, Monitor.id)
                .where(Monitor.paused.is_(False))
                .order_by(Monitor.app_name, Monitor.id)
            ).all()
        found: dict[str, list[int]] = {}
        for app, monitor_id in rows:
            found.setdefault(str(app), []).append(int(monitor_id))
        return found

    def lock(self, s: Session, app: str) -> CertificateState | None:
        """The app's kept state, its row locked (PostgreSQL) until the transaction ends, so
        two processes reading the app at once decide one after the other."""
        row = s.execute(
            select(CertificateRead).where(CertificateRead.app_name == app).with_for_update()
        ).scalar_one_or_none()
        return state_from_json(row.data) if row is not None else None

    def save(self, s: Session, app: str, state: CertificateState, now: datetime) -> None:
        values = {"read_at": state.read_at or now, "data": state_to_json(state)}
        stmt = self.db.insert(CertificateRead).values(app_name=app, **values)
        s.execute(stmt.on_conflict_do_update(index_elements=["app_name"], set_=values))

    def state(self, app: str) -> CertificateState | None:
        """What the last read of `app` found (the app's page), or None."""
        with self.db.reading() as s:
            row = s.get(CertificateRead, app)
            return state_from_json(row.data) if row is not None else None
