"""Small builders for snapshots, so each rule's test reads as the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from heroku_monitor.core.snapshot import Addon, AppSnapshot, Dyno, Release
from heroku_monitor.heroku.mapping import config_digests, key_id, moment

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
KEY = b"test-digest-key"


# Moments some tests name by a label rather than a time: each its own, after T0.
LABELS = {
    "t1": T0 + timedelta(seconds=1),
    "t2": T0 + timedelta(seconds=2),
    "t3": T0 + timedelta(seconds=3),
    "later": T0 + timedelta(hours=1),
}


def when(stamp: datetime | str | None) -> datetime | None:
    """A time as a snapshot holds it: text is one of `LABELS`, or Heroku's text
    (`2026-11-27T11:00:00Z`) read the way the client reads it."""
    if isinstance(stamp, str):
        return LABELS[stamp] if stamp in LABELS else moment(stamp)
    return stamp


def dyno(
    name: str, state: str = "up", updated_at: datetime | str | None = "2026-11-27T11:00:00Z"
) -> Dyno:
    return Dyno(name=name, type=name.split(".")[0], state=state, updated_at=when(updated_at))


def release(
    version: int,
    description: str | None = None,
    *,
    status: str = "succeeded",
    user: str = "dev@example.com",
    slug: str | None = None,
) -> Release:
    return Release(
        version=version,
        status=status,
        description=description if description is not None else f"Deploy {version:07x}",
        user=user,
        created_at=when("2026-11-27T11:00:00Z"),
        slug_id=slug if slug is not None else f"slug-{version}",
    )


def addon(
    name: str = "postgresql-round-12345",
    service: str = "heroku-postgresql",
    plan: str = "heroku-postgresql:essential-0",
    state: str = "provisioned",
) -> Addon:
    return Addon(id=f"id-{name}", name=name, service=service, plan=plan, state=state)


def snap(
    *,
    app: str = "my-app",
    dynos: tuple[Dyno, ...] = (dyno("web.1"), dyno("worker.1")),
    releases: tuple[Release, ...] = (release(3), release(2), release(1, "Initial release")),
    addons: tuple[Addon, ...] = (addon(),),
    config: dict[str, str] | None = None,
    maintenance: bool = False,
    minutes: int = 0,
    app_updated_at: datetime | str | None = "2026-11-27T10:00:00Z",
) -> AppSnapshot:
    values = config if config is not None else {"DATABASE_URL": "postgres://secret", "TZ": "UTC"}
    return AppSnapshot(
        app=app,
        taken_at=T0 + timedelta(minutes=minutes),
        maintenance=maintenance,
        app_updated_at=when(app_updated_at),
        dynos=dynos,
        releases=tuple(sorted(releases, key=lambda r: r.version, reverse=True)),
        addons=addons,
        config=config_digests(values, KEY),
        config_key_id=key_id(KEY),
    )


# web.1 crashed, five minutes after `snap()`'s default.
CRASHED = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1")), minutes=5)
