"""Many monitored apps in a database, made directly through the store (no Heroku, no
checks): for the tests of the dashboard's overview at hundreds of apps and for
bench/dashboard_bench.py.

`populate` writes every app's monitor and last state (a snapshot of its dynos and
releases) in one transaction, then records a few checks the way the checker does
(`runtime.recording.record`): a deploy on some apps (an alert each) and a crash on others
(an open incident and its alert), so the page has alert history and incidents to show.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select

from heroku_monitor import service as service_module
from heroku_monitor.core.snapshot import AppSnapshot, Dyno, Release
from heroku_monitor.runtime import recording
from heroku_monitor.service import Service
from heroku_monitor.settings import Settings
from heroku_monitor.store import snapshots
from heroku_monitor.store.models import Monitor, MonitorState, TeamWatch
from heroku_monitor.store.monitors import new_monitor

TEAMS = ("acme", "globex")


@contextmanager
def offline_service(database_url: str) -> Iterator[Service]:
    """A service on `database_url` that watches no app of its own and never reaches Heroku
    (nothing is checked: `populate` writes what the pages show); stopped after."""
    settings = Settings(
        heroku_api_key="unused",
        monitored_app_name=None,
        database_url=database_url,
        heroku_api_url="http://127.0.0.1:9",  # never called: nothing is checked here
    )
    built = service_module.build(settings)
    try:
        yield built
    finally:
        built.stop()


@dataclass
class Herd:
    """What `populate` made: every app's name and monitor id, and which were changed."""

    apps: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    deployed: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)


def app_name(i: int) -> str:
    return f"herd-app-{i:04d}"


def snapshot(app: str, at: datetime, *, version: int = 41, crashed: bool = False) -> AppSnapshot:
    """An app with two web dynos and a worker, and its three newest releases."""
    web1 = "crashed" if crashed else "up"
    return AppSnapshot(
        app=app,
        taken_at=at,
        app_updated_at=at - timedelta(days=3),
        dynos=(
            Dyno("web.1", "web", web1, at - timedelta(minutes=30), "standard-1x"),
            Dyno("web.2", "web", "up", at - timedelta(hours=5), "standard-1x"),
            Dyno("worker.1", "worker", "up", at - timedelta(hours=5), "standard-1x"),
        ),
        releases=tuple(
            Release(
                version=v,
                status="succeeded",
                description=f"Deploy {v:07x}",
                user="ann@example.com" if v % 2 else "bob@example.com",
                created_at=at - timedelta(days=2, hours=version - v),
                slug_id=f"slug-{v}",
                current=v == version,
            )
            for v in range(version, version - 3, -1)
        ),
        released_at=at - timedelta(days=2),
        details_at=at,
    )


def populate(
    service: Service,
    count: int,
    now: datetime,
    *,
    deploy_every: int = 4,
    crash_every: int = 50,
    crash_first: int | None = None,
    start: int = 0,
) -> Herd:
    """`count` more monitored apps, named `app_name(i)` from `i` = `start`: every third
    belongs to a team watch (`TEAMS`, made by the first call), the others were added by a
    person. Every `deploy_every`th app had a deploy an hour ago (an alert), every
    `crash_every`th app has web.1 crashed since 20 minutes ago (an open incident), from
    `crash_first` on when given (else the last of each group of `crash_every`). 0 turns
    either off."""
    herd = Herd()
    checked = now - timedelta(hours=2)
    with service.db.transaction() as s:
        watches = []
        for team in TEAMS:
            watch = s.execute(select(TeamWatch).where(TeamWatch.team == team)).scalar()
            if watch is None:
                watch = TeamWatch(
                    team=team,
                    slack_channel=f"#{team}-alerts",
                    check_interval=5,
                    paused=False,
                    source="dashboard",
                    created_at=checked,
                    updated_at=checked,
                )
                s.add(watch)
            watches.append(watch)
        s.flush()
        rows = []
        for i in range(start, start + count):
            app = app_name(i)
            watch_id = watches[i // 3 % len(watches)].id if i % 3 == 2 else None
            channel = f"#{TEAMS[i // 3 % len(TEAMS)]}-alerts" if watch_id else "#alerts"
            monitor: Monitor = new_monitor(app, channel, 5, checked, team_watch_id=watch_id)
            s.add(monitor)
            rows.append((app, monitor))
        s.flush()
        for app, monitor in rows:
            s.add(
                MonitorState(
                    monitor_id=monitor.id,
                    app_name=app,
                    snapshot=snapshots.to_json(snapshot(app, checked)),
                    taken_at=checked,
                    last_check_at=checked,
                    last_ok=True,
                    failures=0,
                )
            )
            herd.apps.append(app)
            herd.ids[app] = monitor.id
    stores = (service.monitors, service.outbox, service.checker.incident_store)
    for i, app in enumerate(herd.apps, start):
        mid = herd.ids[app]
        if deploy_every and i % deploy_every == 0:
            seen = replace(snapshot(app, now - timedelta(hours=1), version=42))
            seen = replace(seen, releases=_fresh(seen.releases, now - timedelta(hours=1)))
            recording.record(*stores, mid, app, seen, now - timedelta(hours=1))
            herd.deployed.append(app)
        crash = crash_every and (
            (crash_first is not None and i >= crash_first and (i - crash_first) % crash_every == 0)
            or (crash_first is None and i % crash_every == crash_every - 1)
        )
        if crash:
            at = now - timedelta(minutes=20)
            version = 42 if app in herd.deployed else 41
            seen = snapshot(app, at, version=version, crashed=True)
            if app in herd.deployed:
                seen = replace(seen, releases=_fresh(seen.releases, now - timedelta(hours=1)))
            recording.record(*stores, mid, app, seen, at)
            herd.crashed.append(app)
    return herd


def _fresh(releases: tuple[Release, ...], at: datetime) -> tuple[Release, ...]:
    """The newest release made at `at` (a deploy an hour ago), the others as they were."""
    newest, *rest = releases
    return (replace(newest, created_at=at), *rest)
