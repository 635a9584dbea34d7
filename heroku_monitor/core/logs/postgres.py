"""The database (SPEC §15): a Heroku Postgres database whose connections reach `connections`
% of its limit, or whose size reaches `storage` % of its storage (defaults 80 % each),
opens an incident. Pure: `now` is passed in.

The samples are the database's metrics lines (`core.logs.metrics`: `active-connections`
and `db_size` per add-on and minute, the minute's highest). The limits, in this order: one
set on the dashboard (`DatabaseThresholds.max_connections`, `max_storage_gb`), the line's
own `db-max-size` (storage), the plan's (`PLANS`, by the add-on's plan in the app's
snapshot). A plan not in the table, without a limit set, is not guessed: `limits_near`
names it in `Finding.unknown`, for the caller to say once, and that limit is not alerted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from heroku_monitor.core.detect import Event
from heroku_monitor.core.logs.limits import DatabaseThresholds, Finding
from heroku_monitor.core.logs.metrics import CONNECTIONS, DB_MAX_SIZE, DB_SIZE, Sample
from heroku_monitor.core.quiet import QUIET_FOR
from heroku_monitor.core.snapshot import Addon, AppSnapshot

LOG_DATABASE_LIMITS = "log_database_limits"
DEFAULT = DatabaseThresholds()
SERVICE = "heroku-postgresql"
GB = 1024**3  # bytes: Heroku's sizes are pg_size_pretty's (1 GB = 1024 MB)
TB = 1024 * GB
MINUTE = timedelta(minutes=1)
# Heroku Postgres writes its metrics lines every few minutes: the latest sample counts
# while it is this fresh, and a run of samples over the threshold goes on across gaps
# shorter than QUIET_FOR (then it is one incident, its alert's key the same).
FRESH = QUIET_FOR
# A run that goes on is alerted again once every REPEAT (a reply in its thread, and the
# incident stays open).
REPEAT = timedelta(minutes=5)


@dataclass(frozen=True)
class Plan:
    connections: int
    storage: int  # bytes


# Connection and storage limits per plan, from Heroku Dev Center "Choosing the Right Heroku
# Postgres Plan", https://devcenter.heroku.com/articles/heroku-postgres-plans (the tiers'
# "Connection Limit" and "Storage Limit" columns; Essential:
# https://devcenter.heroku.com/articles/postgres-essential-tier), and for the legacy
# hobby/mini/basic plans "Heroku Postgres Legacy Plans"
# (https://devcenter.heroku.com/articles/heroku-postgres-legacy-plans). Private and Shield
# plans have the Premium plan's limits of the same number. A plan missing here (a newer one,
# the -l-/-xl- memory variants) is not guessed: its limits can be set on the dashboard.
_NUMBERED: Mapping[str, tuple[int, int]] = {  # number -> (connections, storage bytes)
    "0": (120, 64 * GB),
    "2": (400, 256 * GB),
    "3": (500, 512 * GB),
    "4": (500, 768 * GB),
    "5": (500, 1 * TB),
    "6": (500, 1536 * GB),
    "7": (500, 2 * TB),
    "8": (500, 3 * TB),
    "9": (500, 4 * TB),
}
PLANS: Mapping[str, Plan] = {
    "essential-0": Plan(20, 1 * GB),
    "essential-1": Plan(20, 10 * GB),
    "essential-2": Plan(40, 32 * GB),
    "mini": Plan(20, 1 * GB),
    "basic": Plan(20, 10 * GB),
    "hobby-dev": Plan(20, 1 * GB),
    "hobby-basic": Plan(20, 10 * GB),
    **{
        f"{tier}-{number}": Plan(connections, storage)
        for tier in ("standard", "premium", "private", "shield")
        for number, (connections, storage) in _NUMBERED.items()
    },
}


def plan_limits(plan: str) -> Plan | None:
    """A plan's limits by its name, with or without the service
    (`heroku-postgresql:standard-0`, `standard-0`, any case); None when not in the table."""
    name = plan.strip().lower()
    if ":" in name:
        name = name.split(":", 1)[1]
    return PLANS.get(name)


def databases(snapshot: AppSnapshot | None) -> dict[str, Addon]:
    """The app's Heroku Postgres add-ons, by add-on name."""
    if snapshot is None:
        return {}
    return {a.name: a for a in snapshot.addons if a.service == SERVICE}


@dataclass(frozen=True)
class NearLimits:
    """A database at or over a threshold: which (`connections`, `storage`), the values and
    limits, since when."""

    app: str
    addon: str
    plan: str  # "" when the snapshot does not know the add-on
    since: datetime
    until: datetime
    key: str
    connections: int | None = None  # set when connections crossed
    max_connections: int | None = None
    size: float | None = None  # bytes; set when storage crossed
    max_size: float | None = None

    @property
    def which(self) -> tuple[str, ...]:
        found = []
        if self.connections is not None:
            found.append("connections")
        if self.size is not None:
            found.append("storage")
        return tuple(found)

    @property
    def summary(self) -> str:
        """`Connections: 97 of 120 (80 %)`, `Storage: 52.3 of 64 GB (81 %)`, then the
        database (its add-on and plan)."""
        lines = []
        if self.connections is not None and self.max_connections:
            share = int(100 * self.connections / self.max_connections)
            lines.append(f"Connections: {self.connections} of {self.max_connections} ({share} %)")
        if self.size is not None and self.max_size:
            share = int(100 * self.size / self.max_size)
            lines.append(f"Storage: {_gb(self.size)} of {_gb(self.max_size)} GB ({share} %)")
        plan = f" ({self.plan.split(':', 1)[-1]})" if self.plan else ""
        lines.append(f"Database: {self.addon}{plan}")
        return "\n".join(lines)

    def event(self) -> Event:
        return Event(LOG_DATABASE_LIMITS, self.app, self.key, summary=self.summary)


def history() -> timedelta:
    """How far back the samples must go (a run's start and the latest sample's freshness)."""
    return FRESH + QUIET_FOR + REPEAT


def limits_near(
    app: str,
    samples: Sequence[Sample],
    addons: Mapping[str, Addon],
    now: datetime,
    thresholds: DatabaseThresholds = DEFAULT,
) -> Finding[NearLimits]:
    """Each database of `app` whose latest connections or size (within FRESH of `now`) is
    at or over its threshold of the limit. `samples`: the app's database samples of at
    least `history()`; `addons`: `databases` of its snapshot. Its `unknown`: each database
    whose plan has no limits in the table (and no limit set), as "postgresql-… (plan)"."""
    if not thresholds.on:
        return Finding()
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    by_source: dict[str, dict[str, dict[datetime, float]]] = {}
    for s in samples:
        if s.kind in (CONNECTIONS, DB_SIZE, DB_MAX_SIZE) and s.minute <= current:
            by_source.setdefault(s.source, {}).setdefault(s.kind, {})[s.minute] = s.value
    alerts: list[NearLimits] = []
    unknown: list[str] = []
    for source in sorted(by_source):
        kinds = by_source[source]
        addon = addons.get(source) or _only(addons)
        plan_name = addon.plan if addon is not None else ""
        plan = plan_limits(plan_name) if plan_name else None
        max_connections = thresholds.max_connections or (plan.connections if plan else None)
        max_size: float | None = None
        if thresholds.max_storage_gb:
            max_size = float(thresholds.max_storage_gb * GB)
        elif kinds.get(DB_MAX_SIZE):
            max_size = kinds[DB_MAX_SIZE][max(kinds[DB_MAX_SIZE])]
        elif plan is not None:
            max_size = float(plan.storage)
        if (max_connections is None or max_size is None) and plan is None:
            unknown.append(f"{source} ({plan_name.split(':', 1)[-1] or 'unknown plan'})")
        over: dict[str, datetime] = {}  # which -> the start of its run
        latest: dict[str, float] = {}
        for which, kind, limit, percent in (
            ("connections", CONNECTIONS, max_connections, thresholds.connections),
            ("storage", DB_SIZE, max_size, thresholds.storage),
        ):
            values = kinds.get(kind)
            if not values or not limit:
                continue
            last = max(values)
            if current - last >= FRESH:
                continue
            start = _run_start(values, last, limit * percent / 100)
            if start is not None:
                over[which] = start
                latest[which] = values[last]
        if not over:
            continue
        since = min(over.values())
        until = current + MINUTE
        rounds = int((until - since) / REPEAT)
        key = (
            f"{app}:log:database:{source}:{'+'.join(sorted(over))}:{since:%Y-%m-%dT%H:%M}:{rounds}"
        )
        alerts.append(
            NearLimits(
                app,
                source,
                plan_name,
                since,
                until,
                key,
                connections=int(latest["connections"]) if "connections" in over else None,
                max_connections=max_connections if "connections" in over else None,
                size=latest["storage"] if "storage" in over else None,
                max_size=max_size if "storage" in over else None,
            )
        )
    return Finding(tuple(alerts), tuple(unknown))


def _only(addons: Mapping[str, Addon]) -> Addon | None:
    """The app's one database, for a line that names its attachment (DATABASE) only."""
    return next(iter(addons.values())) if len(addons) == 1 else None


def _run_start(values: Mapping[datetime, float], last: datetime, limit: float) -> datetime | None:
    """The first minute of the run of samples at or over `limit` that ends with `last`,
    across gaps shorter than QUIET_FOR; None when `last` is under it."""
    if values[last] < limit:
        return None
    start = last
    for minute in sorted((m for m in values if m < last), reverse=True):
        if start - minute >= QUIET_FOR or values[minute] < limit:
            break
        start = minute
    return start


def _gb(size: float) -> str:
    """Bytes as GB with one decimal (`52.3`), whole when it is whole (`64`)."""
    value = size / GB
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"
