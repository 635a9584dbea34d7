"""What the dashboard reads, in a fixed number of statements whatever the number of apps
(SPEC §6): the overview's rows (every monitor with its state and team, its open incidents
and snooze: three statements, one session), the snapshots of the rows a page shows (one),
what /healthz needs (one), and one app's page (a few). Reads only: every write stays with
the table's own module (`monitors.py`, `incidents.py`, …).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from heroku_monitor.core.certificates import CertificateState
from heroku_monitor.core.incidents import Incident, Snooze
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.store import snapshots
from heroku_monitor.store.certificates import state_from_json
from heroku_monitor.store.database import Database
from heroku_monitor.store.incidents import incident_from_json
from heroku_monitor.store.models import (
    Alert,
    CertificateRead,
    IncidentRow,
    Monitor,
    MonitorState,
    SnoozeRow,
    TeamWatch,
)
from heroku_monitor.store.monitors import Monitors, MonitorView

# An app's page shows at most this many of its alerts (newest first) and marks at most
# this many on its timeline: a noisy app's week stays one page.
APP_ALERTS = 500


@dataclass(frozen=True)
class AppRow:
    """One monitor as the overview lists it: its settings and its last check, without its
    snapshot (read for the rows a page shows, `snapshots_of`)."""

    monitor_id: int
    app_name: str
    slack_channel: str
    check_interval: int
    paused: bool
    source: str
    team_watch_id: int | None
    team: str | None  # the team whose watch made it (None: a person or the environment)
    last_check_at: datetime | None
    last_ok: bool | None
    last_error: str | None
    failures: int
    delivery_error: str | None
    incidents: tuple[Incident, ...] = ()  # open ones, oldest first
    snooze: Snooze | None = None  # active at the time read


@dataclass(frozen=True)
class AppPage:
    """One app: its monitors (a person's and a team's may both watch it, each in its own
    channel), their incidents open now or opened since the window began, their snoozes,
    and the app's alerts in the window (newest first, at most `APP_ALERTS`)."""

    monitors: list[MonitorView]
    incidents: dict[int, list[Incident]] = field(default_factory=dict)  # by monitor
    snoozes: dict[int, Snooze] = field(default_factory=dict)  # by monitor, active ones
    alerts: list[Alert] = field(default_factory=list)
    certificates: CertificateState | None = None  # the last read of its domains (SPEC §15)


class Overview:
    def __init__(self, db: Database) -> None:
        self.db = db

    def rows(self, now: datetime) -> list[AppRow]:
        """Every monitor by id, with its open incidents and its snooze active at `now`:
        three statements in one session."""
        with self.db.reading() as s:
            found = s.execute(
                select(
                    Monitor.id,
                    Monitor.app_name,
                    Monitor.slack_channel,
                    Monitor.check_interval,
                    Monitor.paused,
                    Monitor.source,
                    Monitor.team_watch_id,
                    TeamWatch.team,
                    MonitorState.app_name,
                    MonitorState.last_check_at,
                    MonitorState.last_ok,
                    MonitorState.last_error,
                    MonitorState.failures,
                    MonitorState.delivery_error,
                )
                .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
                .outerjoin(TeamWatch, TeamWatch.id == Monitor.team_watch_id)
                .order_by(Monitor.id)
            ).all()
            apps = {int(r[0]): str(r[1]) for r in found}
            incidents = _open_incidents(s, apps)
            snoozes = _active_snoozes(s, apps, now)
        rows = []
        for r in found:
            mid, app = int(r[0]), str(r[1])
            state = r[8] is not None  # its state row (none before its first check)
            rows.append(
                AppRow(
                    monitor_id=mid,
                    app_name=app,
                    slack_channel=str(r[2]),
                    check_interval=int(r[3]),
                    paused=bool(r[4]),
                    source=str(r[5]),
                    team_watch_id=r[6],
                    team=r[7],
                    last_check_at=r[9] if state else None,
                    last_ok=r[10] if state else None,
                    last_error=r[11] if state else None,
                    failures=int(r[12] or 0) if state else 0,
                    delivery_error=r[13],
                    incidents=tuple(incidents.get(mid, ())),
                    snooze=snoozes.get(mid),
                )
            )
        return rows

    def first_id(self) -> int | None:
        """The first monitor's id (the one the PRD's form edits), or None: one statement."""
        with self.db.reading() as s:
            return s.execute(select(Monitor.id).order_by(Monitor.id).limit(1)).scalar()

    def snapshots_of(self, monitor_ids: Collection[int]) -> dict[int, AppSnapshot]:
        """The kept snapshot of each of `monitor_ids` that has one of its current app: one
        statement (the rows a page of the overview shows)."""
        with self.db.reading() as s:
            found = s.execute(
                select(MonitorState.monitor_id, MonitorState.snapshot)
                .join(Monitor, Monitor.id == MonitorState.monitor_id)
                .where(MonitorState.monitor_id.in_(list(monitor_ids)))
                .where(MonitorState.app_name == Monitor.app_name)
                .where(MonitorState.snapshot.is_not(None))
            ).all()
        return {int(mid): snapshots.from_json(text) for mid, text in found if text}

    def health(self) -> list[tuple[str, bool, int]]:
        """(app, paused, failed checks in a row) of every monitor, by id: one statement
        (what /healthz needs, without any snapshot)."""
        with self.db.reading() as s:
            found = s.execute(
                select(Monitor.app_name, Monitor.paused, MonitorState.failures)
                .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
                .order_by(Monitor.id)
            ).all()
        return [(str(app), bool(paused), int(failures or 0)) for app, paused, failures in found]

    def app(self, app: str, since: datetime, now: datetime) -> AppPage | None:
        """`app`'s page: its monitors, their incidents open now or opened since `since`,
        their snoozes active at `now`, its alerts since `since` and its certificates as last
        read; None when no monitor watches it. Five statements, and one per monitor of the
        app."""
        with self.db.reading() as s:
            ids = list(
                s.execute(
                    select(Monitor.id).where(Monitor.app_name == app).order_by(Monitor.id)
                ).scalars()
            )
            if not ids:
                return None
            incidents: dict[int, list[Incident]] = {}
            for mid, data in s.execute(
                select(IncidentRow.monitor_id, IncidentRow.data)
                .where(IncidentRow.monitor_id.in_(ids), IncidentRow.app_name == app)
                .where(or_(IncidentRow.opened_at >= since, IncidentRow.resolved_at.is_(None)))
                .order_by(IncidentRow.opened_at)
            ).all():
                incidents.setdefault(int(mid), []).append(incident_from_json(data))
            snoozes = _active_snoozes(s, {mid: app for mid in ids}, now, only_these=True)
            alerts = list(
                s.execute(
                    select(Alert)
                    .options(defer(Alert.blocks))  # the page shows the text, as Slack does
                    .where(Alert.app_name == app, Alert.created_at >= since)
                    .order_by(Alert.id.desc())
                    .limit(APP_ALERTS)
                ).scalars()
            )
            certificates = s.execute(
                select(CertificateRead.data).where(CertificateRead.app_name == app)
            ).scalar()
        # Each monitor as `Monitors.get` reads it (one statement each: an app has one or
        # two; a person's and a team's), so this page shows every setting it holds.
        views = [v for v in map(Monitors(self.db).get, ids) if v is not None]
        kept = state_from_json(certificates) if certificates else None
        return AppPage(views, incidents, snoozes, alerts, kept)


def _open_incidents(s: Session, apps: dict[int, str]) -> dict[int, list[Incident]]:
    """Every open incident, by monitor, of the app the monitor watches now."""
    out: dict[int, list[Incident]] = {}
    for mid, app, data in s.execute(
        select(IncidentRow.monitor_id, IncidentRow.app_name, IncidentRow.data)
        .where(IncidentRow.resolved_at.is_(None))
        .order_by(IncidentRow.opened_at)
    ).all():
        if apps.get(int(mid)) == app:
            out.setdefault(int(mid), []).append(incident_from_json(data))
    return out


def _active_snoozes(
    s: Session, apps: dict[int, str], now: datetime, *, only_these: bool = False
) -> dict[int, Snooze]:
    """The snooze active at `now` of each monitor in `apps`, of the app it watches now
    (`only_these`: the query names the monitors; else it reads every snooze)."""
    out: dict[int, Snooze] = {}
    query = select(SnoozeRow).where(SnoozeRow.until > now)
    if only_these:
        query = query.where(SnoozeRow.monitor_id.in_(list(apps)))
    for r in s.execute(query).scalars():
        if apps.get(r.monitor_id) == r.app_name:
            snooze = Snooze(r.app_name, r.since, r.until, r.by, ())
            if snooze.active(now):
                out[r.monitor_id] = snooze
    return out
