"""Team watches (SPEC §13): "every app of team X", as a monitor per app that the polling
rounds make when an app joins the team and drop, with one note in the channel, when it
leaves or is deleted. Each app's monitor then works like any other (its own state,
incidents and alerts); the watch holds the channel and interval they share."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from heroku_monitor.core import rounds
from heroku_monitor.core.outbound import Message
from heroku_monitor.core.validation import DEFAULT_CHANNEL
from heroku_monitor.store.database import Database, rowcount
from heroku_monitor.store.models import KeyValue, Monitor, TeamWatch
from heroku_monitor.store.monitors import lock_monitor, new_monitor, remove
from heroku_monitor.store.outbox import Outbox

TEAM_SOURCE = "team"  # the `source` of a monitor a team watch made


@dataclass(frozen=True)
class TeamView:
    id: int
    team: str
    slack_channel: str
    check_interval: int
    paused: bool
    source: str
    last_error: str | None
    apps: tuple[str, ...]  # the apps it watches now


@dataclass(frozen=True)
class TeamSync:
    """What one round changed of a watch: monitors made (id, app) and apps dropped."""

    added: tuple[tuple[int, str], ...] = ()
    dropped: tuple[str, ...] = ()


class TeamWatches:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox  # where a farewell note to an app that left is queued

    def seed(self, team: str | None, channel: str | None, interval: int, now: datetime) -> bool:
        """Watch `MONITORED_TEAM`, once per database ever (the dashboard's choice wins)."""
        if not team:
            return False
        with self.db.transaction() as s:
            if not self.db.insert_new(s, KeyValue, key="team_seeded", value=now.isoformat()):
                return False
            channel = channel or DEFAULT_CHANNEL
            s.add(_new_watch(team, channel, interval, now, source="environment"))
        return True

    def add(self, team: str, channel: str, interval: int, now: datetime) -> int | None:
        """Watch a team; None when it is watched already."""
        with self.db.transaction() as s:
            if s.execute(select(TeamWatch.id).where(TeamWatch.team == team)).first():
                return None
            watch = _new_watch(team, channel, interval, now, source="dashboard")
            s.add(watch)
            s.flush()
            return watch.id

    def set_paused(self, watch_id: int, paused: bool, now: datetime) -> bool:
        """Pause or resume the watch and every monitor it made."""
        with self.db.transaction() as s:
            done = s.execute(
                update(TeamWatch)
                .where(TeamWatch.id == watch_id)
                .values(paused=paused, updated_at=now)
            )
            s.execute(
                update(Monitor)
                .where(Monitor.team_watch_id == watch_id)
                .values(paused=paused, updated_at=now)
            )
            return bool(rowcount(done))

    def delete(self, watch_id: int) -> bool:
        """Stop watching the team: its monitors go too (their alerts stay in the log)."""
        with self.db.transaction() as s:
            # The watch first, as a round's sync locks it (store/database.py's lock order).
            watch = s.get(TeamWatch, watch_id, with_for_update=True)
            if watch is None:
                return False
            ids = s.execute(select(Monitor.id).where(Monitor.team_watch_id == watch_id)).scalars()
            for monitor_id in list(ids):
                remove(s, monitor_id)
            s.delete(watch)
            return True

    def get(self, watch_id: int) -> TeamView | None:
        with self.db.reading() as s:
            watch = s.get(TeamWatch, watch_id)
            if watch is None:
                return None
            apps = s.execute(
                select(Monitor.app_name)
                .where(Monitor.team_watch_id == watch_id)
                .order_by(Monitor.app_name)
            ).scalars()
            return _view(watch, tuple(apps))

    def all(self) -> list[TeamView]:
        with self.db.reading() as s:
            watches = s.execute(select(TeamWatch).order_by(TeamWatch.id)).scalars().all()
            members = s.execute(
                select(Monitor.team_watch_id, Monitor.app_name)
                .where(Monitor.team_watch_id.is_not(None))
                .order_by(Monitor.app_name)
            ).all()
        apps: dict[int, list[str]] = {}
        for watch_id, app in members:
            apps.setdefault(int(watch_id or 0), []).append(str(app))
        return [_view(w, tuple(apps.get(w.id, ()))) for w in watches]

    def sync(
        self,
        watch_id: int,
        team_apps: Iterable[str] | None,
        now: datetime,
        *,
        error: str = "",
        farewells: Mapping[str, Message] | None = None,
        gone: Collection[str] = (),
    ) -> TeamSync:
        """Follow the team's app list as a round read it: a monitor for each new app (its
        first check, this round, is a baseline), unless a person's monitor watches that
        app in the watch's channel already (SPEC §14: one alert per channel). A monitor
        whose app the list lacks is kept (its state and incidents too) until Heroku
        confirmed the app `gone` from the team (404, or another team's) or it has been
        missing three rounds in a row (SPEC §16); then it is dropped with its note from
        `farewells` (rendered by the caller) queued in the channel. `team_apps` None: the
        list could not be read (`error` says why; nothing changes)."""
        with self.db.transaction() as s:
            watch = s.get(TeamWatch, watch_id, with_for_update=True)
            if watch is None:
                return TeamSync()
            if team_apps is None:
                watch.last_error = error or "the team's apps could not be read"
                return TeamSync()
            watch.last_error = None
            mine = s.execute(select(Monitor).where(Monitor.team_watch_id == watch_id)).scalars()
            monitors = {m.id: m for m in mine}
            own = set(
                s.execute(
                    select(Monitor.app_name).where(
                        Monitor.team_watch_id.is_(None),
                        Monitor.slack_channel == watch.slack_channel,
                        # A paused one posts nothing: the team's own monitor keeps watching.
                        Monitor.paused.is_(False),
                    )
                ).scalars()
            )
            listed = [app for app in team_apps if app not in own]
            # A person's monitor of the app in this channel posts its alerts: ours goes, quietly.
            doubles = sorted((i, m.app_name) for i, m in monitors.items() if m.app_name in own)
            watched = {i: m.app_name for i, m in monitors.items() if m.app_name not in own}
            change = rounds.team_change(listed, watched)
            held = rounds.absence(
                change.drop, {i: m.missing_rounds or 0 for i, m in monitors.items()}, gone
            )
            for monitor_id, rounds_missing in held.kept:
                monitors[monitor_id].missing_rounds = rounds_missing
            for monitor in monitors.values():
                if monitor.missing_rounds and monitor.app_name in listed:
                    monitor.missing_rounds = 0  # seen again: it kept its state meanwhile
            added: list[tuple[int, str]] = []
            for app in change.add:
                monitor = new_monitor(
                    app,
                    watch.slack_channel,
                    watch.check_interval,
                    now,
                    source=TEAM_SOURCE,
                    paused=watch.paused,
                    team_watch_id=watch_id,
                )
                s.add(monitor)
                s.flush()
                added.append((monitor.id, app))
            for monitor_id, app in [*held.drop, *doubles]:
                lock_monitor(s, monitor_id)  # the monitor before its alerts (the lock order)
                note = (farewells or {}).get(app) if app not in own else None
                if note is not None:
                    self.outbox.enqueue(s, monitor_id, [note], now)
                remove(s, monitor_id)
            return TeamSync(tuple(added), tuple(app for _, app in held.drop))


def _view(w: TeamWatch, apps: tuple[str, ...]) -> TeamView:
    return TeamView(
        w.id, w.team, w.slack_channel, w.check_interval, w.paused, w.source, w.last_error, apps
    )


def _new_watch(team: str, channel: str, interval: int, now: datetime, *, source: str) -> TeamWatch:
    return TeamWatch(
        team=team,
        slack_channel=channel,
        check_interval=interval,
        paused=False,
        source=source,
        created_at=now,
        updated_at=now,
    )
