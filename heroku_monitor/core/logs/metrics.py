"""Metrics lines of a log drain (SPEC §15) as samples: a dyno's memory from Heroku's
`log-runtime-metrics` lines, a Heroku Postgres database's connections and size from its
metrics lines. Each kept per app, kind, source and UTC minute as the minute's HIGHEST value
(`Sample`), so what several processes saw combines by max() and storage is one row per
source and minute whatever the traffic. Pure.

Shapes (Heroku Dev Center):
- "Heroku Labs: log-runtime-metrics", https://devcenter.heroku.com/articles/log-runtime-metrics
  (about every 20 seconds per dyno, from `heroku[web.1]`)::

    source=web.1 dyno=heroku.2808254.d97d0ea7-… sample#memory_total=21.00MB
    sample#memory_rss=21.22MB sample#memory_cache=0.00MB sample#memory_swap=0.00MB
    sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages sample#memory_quota=512.00MB

  `memory_total` is RSS plus swap, what R14 is about; newer lines carry the dyno's
  `memory_quota` itself, preferred to the quota of its size when given.
- "Heroku Postgres Metrics Logs", https://devcenter.heroku.com/articles/heroku-postgres-metrics-logs
  (from `app[heroku-postgres]`, Standard and Premium plans and up)::

    source=HEROKU_POSTGRESQL_SILVER addon=postgresql-devcenter-123456
    sample#current_transaction=54017686 sample#db_size=16012956319bytes sample#tables=97
    sample#active-connections=7 sample#waiting-connections=0 sample#index-cache-hit-rate=0.9239 …

  `active-connections` is the connections established on the database, what its plan's
  connection limit counts (`waiting-connections` are among them, waiting on a lock, so they
  are not added again); `db_size` is the data, indexes and bloat, what its plan's storage
  limit counts. "Monitoring Heroku Postgres"
  (https://devcenter.heroku.com/articles/monitoring-heroku-postgres) names `db-max-size`,
  the plan's maximum size, on newer lines: preferred to the plan table when given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from heroku_monitor.core.logs.parse import LogLine, fields

# Sample kinds.
MEMORY = "memory"  # MB: a dyno's memory_total
MEMORY_QUOTA = "memory_quota"  # MB: a dyno's memory_quota, when its lines carry it
CONNECTIONS = "pg_connections"  # a database's active-connections
DB_SIZE = "pg_db_size"  # bytes: a database's db_size
DB_MAX_SIZE = "pg_db_max_size"  # bytes: a database's db-max-size, when its lines carry it
KINDS = (MEMORY, MEMORY_QUOTA, CONNECTIONS, DB_SIZE, DB_MAX_SIZE)

POSTGRES_PROCID = "heroku-postgres"
MAX_SOURCE = 100  # characters of a source (a dyno, an add-on name) kept
# Sources one batch may name (dynos, databases): a batch of made-up names adds no more.
MAX_SOURCES = 200

_SAMPLE = re.compile(r"sample#([a-z_\-]{1,40})=([0-9]{1,20}(?:\.[0-9]{1,6})?)(MB|bytes)?(?=\s|$)")
_SOURCE = re.compile(r"^source=(\S{1,200})")
_ADDON = re.compile(r"\baddon=(\S{1,200})")
_DYNO = re.compile(r"^[A-Za-z0-9_\-]{1,50}\.[0-9]{1,6}$")  # web.1, worker.12, run.1234
_NEEDLE = b"sample#"


@dataclass(frozen=True, slots=True)
class Sample:
    """The highest value of one kind from one source in one UTC minute (its start)."""

    minute: datetime
    kind: str
    source: str  # the dyno (web.1), or the database's add-on (postgresql-curved-12345)
    value: float

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.kind, self.source, self.minute)


def from_message(app_name: str, procid: str, stamp: str, message: str) -> list[Sample]:
    """The samples of one line (its RFC 5424 app name, procid, timestamp and message):
    a runtime-metrics line of a dyno (`heroku[web.1]`), or a Heroku Postgres metrics line
    (`app[heroku-postgres]`); [] for any other line, or one without a usable time."""
    if "sample#" not in message:
        return []
    if app_name == "heroku" and procid != "router":
        return _memory(procid, stamp, message)
    if app_name == "app" and procid == POSTGRES_PROCID:
        return _postgres(stamp, message)
    return []


def from_lines(lines: Iterable[LogLine], token: str | None = None) -> list[Sample]:
    """The samples of some lines, highest per kind, source and minute. With `token`, a
    line another drain's token names (`d.…`) is ignored, as `count.count` does."""
    found: list[Sample] = []
    for line in lines:
        if token is not None and line.hostname != token and line.hostname.startswith("d."):
            continue
        found.extend(from_message(line.app_name, line.procid, line.timestamp, line.message))
    return highest(found)


def from_logplex(body: bytes, token: str | None = None) -> list[Sample]:
    """The samples of an `application/logplex-1` body (`from_lines` of its lines), found
    without walking its frames: each "sample#" in it is traced back to the header of the
    frame that holds it, and that frame alone is read, when its octet count says it
    holds the "sample#" (so a line of the app's own that writes a frame's look-alike is
    never read as one). A body without "sample#" costs one substring search. Never raises."""
    found: list[Sample] = []
    pos = body.find(_NEEDLE)
    while pos >= 0:
        raw, end = _frame_around(body, pos)
        if raw is not None:
            parts = fields(raw.decode(errors="replace"))
            host = parts[2] if parts is not None else ""
            if parts is not None and not (
                token is not None and host != token and host.startswith("d.")
            ):
                found.extend(from_message(parts[3], parts[4], parts[1], parts[6]))
        pos = body.find(_NEEDLE, end)
    return highest(found)


def _frame_around(body: bytes, pos: int) -> tuple[bytes | None, int]:
    """The frame (its bytes after the octet count) that holds `body[pos]`, and where to
    look on from; None when no frame found so holds it. A frame begins at the body's start
    or after a newline (the one Logplex ends each message with) with `<count> <pri>`; its
    count must reach past `pos`."""
    line_start = body.rfind(b"\n", 0, pos) + 1
    line_end = body.find(b"\n", pos)
    after = len(body) if line_end < 0 else line_end + 1
    space = body.find(b" ", line_start, line_start + 9)
    digits = body[line_start:space] if space > 0 else b""
    if not digits.isdigit() or body[space + 1 : space + 2] != b"<":
        return None, after
    end = space + 1 + int(digits)
    if end <= pos or end > len(body):
        return None, after
    return body[space + 1 : end], max(end, pos + 1)


def highest(samples: Iterable[Sample]) -> list[Sample]:
    """One sample per kind, source and minute, the highest; sorted by key. At most
    MAX_SOURCES sources (the first met) are kept."""
    best: dict[tuple[str, str, datetime], Sample] = {}
    sources: set[str] = set()
    for sample in samples:
        if sample.source not in sources:
            if len(sources) >= MAX_SOURCES:
                continue
            sources.add(sample.source)
        kept = best.get(sample.key)
        if kept is None or sample.value > kept.value:
            best[sample.key] = sample
    return [best[key] for key in sorted(best)]


def _memory(procid: str, stamp: str, message: str) -> list[Sample]:
    """`source=web.1 dyno=… sample#memory_total=…MB …` of `heroku[web.1]`."""
    if not message.startswith("source=") or not _DYNO.fullmatch(procid):
        return []
    minute = utc_minute(stamp)
    if minute is None:
        return []
    values = _samples(message)
    found = []
    total = values.get("memory_total")
    if total is not None and total[1] in ("MB", ""):
        found.append(Sample(minute, MEMORY, procid, total[0]))
    quota = values.get("memory_quota")
    if quota is not None and quota[1] in ("MB", "") and quota[0] > 0:
        found.append(Sample(minute, MEMORY_QUOTA, procid, quota[0]))
    return found


def _postgres(stamp: str, message: str) -> list[Sample]:
    """`source=HEROKU_POSTGRESQL_… addon=postgresql-… sample#active-connections=… …`."""
    source = _SOURCE.match(message)
    if source is None:
        return []
    minute = utc_minute(stamp)
    if minute is None:
        return []
    addon = _ADDON.search(message)
    name = (addon[1] if addon else source[1])[:MAX_SOURCE]
    values = _samples(message)
    found = []
    for key, kind in (
        ("active-connections", CONNECTIONS),
        ("db_size", DB_SIZE),
        ("db-max-size", DB_MAX_SIZE),
    ):
        value = values.get(key)
        if value is not None and value[1] in ("", "bytes"):
            found.append(Sample(minute, kind, name, value[0]))
    return found


def _samples(message: str) -> dict[str, tuple[float, str]]:
    return {name: (float(value), unit or "") for name, value, unit in _SAMPLE.findall(message)}


def utc_minute(stamp: str) -> datetime | None:
    """The UTC minute of an RFC 3339 time (`2026-12-08T02:10:39.000000+00:00`); None when it
    is not one."""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    try:
        return when.astimezone(UTC).replace(second=0, microsecond=0)
    except (ValueError, OverflowError):
        return None


def of_kind(samples: Sequence[Sample], *kinds: str) -> list[Sample]:
    return [s for s in samples if s.kind in kinds]
