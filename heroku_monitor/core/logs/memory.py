"""Memory before R14 (SPEC §15): a dyno at `percent` % or more of its memory quota for
`window` minutes (defaults 90 % and 5) opens an incident before Heroku's R14 says the quota
is exceeded; an R14 (or R15) of the app while it is open joins it, and it joins an R14's
open incident (one family, `FAMILIES`). Pure: `now` is passed in.

The samples are `log-runtime-metrics` lines' `memory_total` per dyno and minute, the
minute's highest (`core.logs.metrics`). The quota is the line's own `memory_quota` when it
carries one, else the memory of the dyno's size (`QUOTA_MB`, from the app's snapshot). A
size not in the table is not guessed: `near_quota` names it in `Finding.unknown`, for the
caller to say once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from heroku_monitor.core.detect import Event
from heroku_monitor.core.logs.limits import Finding, MemoryThresholds
from heroku_monitor.core.logs.metrics import MEMORY, MEMORY_QUOTA, Sample
from heroku_monitor.core.logs.rules import LOG_MEMORY
from heroku_monitor.core.quiet import QUIET_FOR
from heroku_monitor.core.snapshot import AppSnapshot, Dyno

LOG_MEMORY_NEAR_QUOTA = "log_memory_near_quota"
DEFAULT = MemoryThresholds()
# The incident family each kind joins (an R14's incident and a near-quota one are one).
FAMILIES: Mapping[str, str] = {LOG_MEMORY_NEAR_QUOTA: LOG_MEMORY}

MINUTE = timedelta(minutes=1)
# A run of minutes at or over the threshold may miss one minute's sample (a batch late, a
# dyno's 20-second sample falling just so) and go on; two missing end it.
MAX_GAP = 2 * MINUTE
# The latest sample must be this fresh (the current minute or the one before).
FRESH = 2 * MINUTE

# Memory (RAM) per dyno size, in MB (1 GB = 1024 MB: Heroku's cgroup limits say so, e.g.
# performance-m 2684354560 bytes, https://help.heroku.com/Q386NUGG). Sources:
# - https://devcenter.heroku.com/articles/dyno-types (the "Memory (RAM)" column: Eco, Basic,
#   Standard-1X 512 MB; Standard-2X 1 GB; Private/Shield-S 1 GB; Performance/Private/
#   Shield-M 2.5 GB, -L 14 GB, -L-RAM 30 GB, -XL 62 GB, -2XL 126 GB)
# - https://devcenter.heroku.com/articles/dyno-memory-behavior (the same quotas, restated)
# - legacy sizes: https://devcenter.heroku.com/articles/dyno-size (1X 512 MB, 2X 1024 MB,
#   PX 6 GB) and the 2015-2022 dyno types page (free, hobby 512 MB).
QUOTA_MB: Mapping[str, int] = {
    "eco": 512,
    "basic": 512,
    "standard-1x": 512,
    "standard-2x": 1024,
    "performance-m": 2560,
    "performance-l": 14336,
    "performance-l-ram": 30720,
    "performance-xl": 63488,
    "performance-2xl": 129024,
    **{
        f"{tier}-{size}": mb
        for tier in ("private", "shield")
        for size, mb in (
            ("s", 1024),
            ("m", 2560),
            ("l", 14336),
            ("l-ram", 30720),
            ("xl", 63488),
            ("2xl", 129024),
        )
    },
    # Legacy sizes, still named by old apps' formations.
    "free": 512,
    "hobby": 512,
    "1x": 512,
    "2x": 1024,
    "px": 6144,
    "performance": 6144,
}
# Fir's dyno sizes say their memory in their name (`dyno-2c-4gb`: 2 vCPUs, 4 GB).
_FIR_SIZE = re.compile(r"^dyno-[0-9]{1,3}c-([0-9]{1,4}(?:\.[0-9]{1,2})?)gb$")


def quota_mb(size: str) -> int | None:
    """The memory quota of a dyno size (any case: `Standard-1X`), in MB; None when Heroku's
    tables do not name it."""
    name = size.strip().lower()
    known = QUOTA_MB.get(name)
    if known is not None:
        return known
    fir = _FIR_SIZE.fullmatch(name)
    if fir is not None:
        return round(float(fir[1]) * 1024)
    return None


def dyno_sizes(snapshot: AppSnapshot | None) -> dict[str, str]:
    """Each dyno's size as the app's snapshot has it, by dyno name and by process type
    (`web`: the size of its dynos, for a dyno the snapshot has not seen yet)."""
    sizes: dict[str, str] = {}
    if snapshot is None:
        return sizes
    for dyno in snapshot.dynos:
        if dyno.size:
            sizes[dyno.name] = dyno.size
            sizes.setdefault(dyno.type or dyno.name.split(".")[0], dyno.size)
    return sizes


@dataclass(frozen=True)
class NearQuota:
    """A dyno at or over the threshold for the window: the window's highest memory, the
    quota (and where it came from), since when."""

    app: str
    dyno: str
    used_mb: float
    quota_mb: float
    since: datetime  # the first minute of its run at or over the threshold
    until: datetime  # the end of its latest minute
    threshold: int  # percent
    key: str
    quota_from: str = "size"  # "size" (the dyno's size) or "line" (its memory_quota)

    @property
    def percent(self) -> int:
        return int(100 * self.used_mb / self.quota_mb) if self.quota_mb else 0

    @property
    def summary(self) -> str:
        """`471 of 512 MB` (SPEC §15), then the share, how long and the threshold."""
        minutes = int((self.until - self.since) / MINUTE)
        return (
            f"{round(self.used_mb)} of {round(self.quota_mb)} MB\n"
            f"{self.percent} % of its quota for {minutes} min, since "
            f"{self.since:%H:%M} UTC (threshold {self.threshold} %)"
        )

    def event(self) -> Event:
        return Event(
            LOG_MEMORY_NEAR_QUOTA,
            self.app,
            self.key,
            dyno=Dyno(self.dyno, self.dyno.split(".")[0], "up"),
            summary=self.summary,
        )


def history(thresholds: MemoryThresholds) -> timedelta:
    """How far back the samples must go: the window, a gap, and QUIET_FOR (the run's start
    keeps the alert's key while it goes on)."""
    return timedelta(minutes=thresholds.window) + QUIET_FOR + MAX_GAP


def near_quota(
    app: str,
    samples: Sequence[Sample],
    sizes: Mapping[str, str],
    now: datetime,
    thresholds: MemoryThresholds = DEFAULT,
) -> Finding[NearQuota]:
    """The dynos of `app` at or over `thresholds.percent` % of their quota for at least
    `thresholds.window` minutes up to their latest sample, which is of the last two minutes.
    `samples`: the app's memory samples (other kinds are ignored) of at least `history`;
    `sizes`: `dyno_sizes` of its snapshot. A run that goes on is alerted again once a
    window (a new key), so its incident hears of it and stays open. Its `unknown`: each
    dyno whose size Heroku's tables do not name, as "web.1 (size)" ("web.1 (unknown size)"
    when the snapshot does not know the dyno)."""
    if not thresholds.on:
        return Finding()
    used: dict[str, dict[datetime, float]] = {}
    quotas: dict[str, tuple[datetime, float]] = {}
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    for s in samples:
        if s.minute > current:  # stamped ahead of `now`: not yet
            continue
        if s.kind == MEMORY:
            used.setdefault(s.source, {})[s.minute] = s.value
        elif s.kind == MEMORY_QUOTA:
            kept = quotas.get(s.source)
            if kept is None or s.minute >= kept[0]:
                quotas[s.source] = (s.minute, s.value)
    window = timedelta(minutes=thresholds.window)
    alerts: list[NearQuota] = []
    unknown: list[str] = []
    for dyno in sorted(used):
        minutes = used[dyno]
        last = max(minutes)
        if current - last >= FRESH:
            continue
        quota, quota_from = _quota(dyno, quotas, sizes)
        if quota is None:
            size = sizes.get(dyno) or sizes.get(dyno.split(".")[0]) or ""
            unknown.append(f"{dyno} ({size or 'unknown size'})")
            continue
        limit = quota * thresholds.percent / 100
        start = _run_start(minutes, last, limit)
        if start is None:
            continue
        until = last + MINUTE
        if until - start < window:
            continue
        top = max(v for m, v in minutes.items() if until - window <= m <= last)
        rounds = max(0, int((until - start) / window) - 1)
        key = f"{app}:log:memory_quota:{dyno}:{start:%Y-%m-%dT%H:%M}:{rounds}"
        alerts.append(
            NearQuota(app, dyno, top, quota, start, until, thresholds.percent, key, quota_from)
        )
    return Finding(tuple(alerts), tuple(unknown))


def _quota(
    dyno: str, quotas: Mapping[str, tuple[datetime, float]], sizes: Mapping[str, str]
) -> tuple[float | None, str]:
    """The dyno's quota in MB: its lines' own, else its size's (its own size, or its
    process type's); None when neither is known."""
    own = quotas.get(dyno)
    if own is not None:
        return own[1], "line"
    size = sizes.get(dyno) or sizes.get(dyno.split(".")[0])
    if not size:
        return None, "size"
    mb = quota_mb(size)
    return (float(mb), "size") if mb is not None else (None, "size")


def _run_start(minutes: Mapping[datetime, float], last: datetime, limit: float) -> datetime | None:
    """The first minute of the run at or over `limit` that ends with `last` (a gap of one
    minute without a sample does not end it); None when `last` is under it."""
    if minutes[last] < limit:
        return None
    start = last
    for minute in sorted((m for m in minutes if m < last), reverse=True):
        if start - minute > MAX_GAP or minutes[minute] < limit:
            break
        start = minute
    return start
