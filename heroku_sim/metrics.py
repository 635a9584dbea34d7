"""Metrics lines a simulated app writes to its log drains (SPEC §15): Heroku's
`log-runtime-metrics` lines of its dynos (`heroku[web.1]`) and Heroku Postgres's metrics
lines of its databases (`app[heroku-postgres]`), as Logplex posts them.

Shapes: https://devcenter.heroku.com/articles/log-runtime-metrics and
https://devcenter.heroku.com/articles/heroku-postgres-metrics-logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from heroku_sim import logs

if TYPE_CHECKING:
    from heroku_sim.model import Simulator

GB = 1024**3
Line = tuple[str, str, str]  # (app name, procid, message): `heroku`/`app`, `web.1`, …


def runtime_metrics(dyno: str, memory_mb: float, quota_mb: float | None = None) -> Line:
    """A dyno's memory line of `log-runtime-metrics` (with `memory_quota` when given, as
    newer lines carry it)."""
    swap = 0.0
    message = (
        f"source={dyno} dyno=heroku.{uuid.uuid4().int % 10**8}.{uuid.uuid4()} "
        f"sample#memory_total={memory_mb:.2f}MB sample#memory_rss={memory_mb - swap:.2f}MB "
        f"sample#memory_cache=0.00MB sample#memory_swap={swap:.2f}MB "
        "sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages"
    )
    if quota_mb is not None:
        message += f" sample#memory_quota={quota_mb:.2f}MB"
    return ("heroku", dyno, message)


def postgres_metrics(
    addon: str, connections: int, db_size: int, attachment: str = "DATABASE"
) -> Line:
    """A Heroku Postgres metrics line of the add-on `addon` (its attachment `attachment`)."""
    return (
        "app",
        "heroku-postgres",
        f"source={attachment} addon={addon} sample#current_transaction=54017686 "
        f"sample#db_size={db_size}bytes sample#tables=97 "
        f"sample#active-connections={connections} sample#waiting-connections=0 "
        "sample#index-cache-hit-rate=0.9239 sample#table-cache-hit-rate=0.93609 "
        "sample#load-avg-1m=0.11 sample#load-avg-5m=0.1 sample#load-avg-15m=0.095 "
        "sample#read-iops=0 sample#write-iops=0.13333 sample#memory-total=15665184kB "
        "sample#memory-free=343472kB sample#memory-cached=13798764kB "
        "sample#memory-postgres=232240kB",
    )


def logplex_body(lines: Sequence[tuple[datetime, Line]]) -> bytes:
    """Octet-counted RFC 5424 frames of lines, each at its own time."""
    return b"".join(logs.frame(at, *line) for at, line in lines)


def post(url: str, token: str, lines: Sequence[tuple[datetime, Line]], timeout: float = 5) -> int:
    """POST one batch of lines to a drain URL as Logplex does; the HTTP status."""
    return logs.post_body(url, token, logplex_body(lines), len(lines), timeout)


def write(sim: Simulator, app: str, lines: Sequence[tuple[datetime, Line]]) -> list[int]:
    """The app writes `lines` to each of its log drains (one batch each); the statuses."""
    drains = [(d["url"], d["token"]) for d in sim.log_drains_json(app)]
    return [post(url, token, lines) for url, token in drains]


def memory_climb(
    dyno: str, quota_mb: float, now: datetime, *, minutes: int = 6, share: float = 0.93
) -> list[tuple[datetime, Line]]:
    """A dyno at `share` of its quota for the last `minutes` minutes, three samples a minute
    (every 20 seconds, as Heroku writes them), the last at `now`."""
    start = now - timedelta(minutes=minutes)
    return [
        (start + timedelta(seconds=20 * n), runtime_metrics(dyno, quota_mb * share))
        for n in range(3 * minutes + 1)
    ]


def memory_near_quota(sim: Simulator, app: str, dyno: str = "web.1") -> list[int]:
    """Demo: `dyno` of `app` at 93 % of its size's quota for six minutes."""
    from heroku_monitor.core.logs.memory import quota_mb

    size = next((d["size"] for d in sim.dynos_json(app) if d["name"] == dyno), "standard-1X")
    quota = quota_mb(size) or 512
    return write(sim, app, memory_climb(dyno, quota, datetime.now(UTC)))


def database_near_limits(sim: Simulator, app: str) -> list[int]:
    """Demo: the app's Heroku Postgres database at 90 % of its plan's connections and 85 %
    of its storage."""
    from heroku_monitor.core.logs.postgres import plan_limits

    addon = next((a for a in sim.addons_json(app) if a["addon_service"]["name"]
                  == "heroku-postgresql"), None)  # fmt: skip
    if addon is None:
        return []
    limits = plan_limits(addon["plan"]["name"])
    connections = int(0.9 * (limits.connections if limits else 20))
    size = int(0.85 * (limits.storage if limits else GB))
    now = datetime.now(UTC)
    line = postgres_metrics(addon["name"], connections, size)
    return write(sim, app, [(now - timedelta(seconds=30), line), (now, line)])
