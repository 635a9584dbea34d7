"""Log counters (SPEC section 12): a batch's lines counted per UTC minute: router requests,
5xx, and per code (H12, R14, …) the count with its top paths and dynos; and the router's
response times in fixed histogram buckets (SPEC §15, `latency`). Counts add up
(`merge`) across batches and processes (the store keeps them, one row per counter). Pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from heroku_monitor.core.logs import latency
from heroku_monitor.core.logs.latency import BOUNDS
from heroku_monitor.core.logs.parse import (
    LogLine,
    messages,
    parse_router,
    parse_runtime,
    service_ms,
)

KEPT = 10  # paths and dynos kept per code and minute (the most frequent); alerts show 5


@dataclass(frozen=True)
class CodeCount:
    """Lines of one code in one minute, with the most frequent paths and dynos (at most KEPT
    each, most frequent first; once more than KEPT differ, the tail is approximate)."""

    count: int = 0
    paths: tuple[tuple[str, int], ...] = ()
    dynos: tuple[tuple[str, int], ...] = ()

    def merge(self, other: CodeCount) -> CodeCount:
        return CodeCount(
            self.count + other.count,
            _top_sum(self.paths, other.paths),
            _top_sum(self.dynos, other.dynos),
        )


@dataclass(frozen=True)
class MinuteCounts:
    """One app's log counters for one UTC minute (`minute`: its start)."""

    minute: datetime
    requests: int = 0  # router lines
    errors_5xx: int = 0  # router lines with status >= 500
    codes: Mapping[str, CodeCount] = field(default_factory=dict)
    # Router lines' `service=` times in `latency.BOUNDS` buckets; () for none (SPEC §15).
    latency: latency.Histogram = ()

    def merge(self, other: MinuteCounts) -> MinuteCounts:
        if other.minute != self.minute:
            raise ValueError("only counts of the same minute add up")
        codes = dict(self.codes)
        for code, counted in other.codes.items():
            codes[code] = codes[code].merge(counted) if code in codes else counted
        return MinuteCounts(
            self.minute,
            self.requests + other.requests,
            self.errors_5xx + other.errors_5xx,
            dict(sorted(codes.items())),
            latency.add(self.latency, other.latency),
        )


@dataclass(frozen=True)
class Counts:
    """Per-minute counters of a batch (or several), by minute."""

    minutes: Mapping[datetime, MinuteCounts] = field(default_factory=dict)

    def merge(self, other: Counts) -> Counts:
        merged = dict(self.minutes)
        for minute, counted in other.minutes.items():
            merged[minute] = merged[minute].merge(counted) if minute in merged else counted
        return Counts(dict(sorted(merged.items())))

    def rows(self) -> list[MinuteCounts]:
        return [self.minutes[m] for m in sorted(self.minutes)]


class _Tally:
    __slots__ = ("codes", "errors_5xx", "latency", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors_5xx = 0
        self.latency = [0] * latency.BUCKETS
        # code -> [count, {path: n}, {dyno: n}]
        self.codes: dict[str, tuple[list[int], dict[str, int], dict[str, int]]] = {}

    def add(self, code: str, path: str | None, dyno: str | None) -> None:
        entry = self.codes.get(code)
        if entry is None:
            entry = self.codes[code] = ([0], {}, {})
        entry[0][0] += 1
        if path:
            entry[1][path] = entry[1].get(path, 0) + 1
        if dyno:
            entry[2][dyno] = entry[2].get(dyno, 0) + 1


def count(lines: Iterable[LogLine], token: str | None = None) -> Counts:
    """Count router requests, 5xx and error codes per minute. With `token`, a line whose
    hostname is another drain's token (`d.…`) is ignored. 5xx lines without an H code (the
    app's own 500s) are also tallied under the code `5xx`, for their paths and dynos."""
    tallies: dict[str, _Tally] = {}
    for line in lines:
        _tally(tallies, token, line.hostname, line.app_name, line.procid, line.timestamp,
               line.message)  # fmt: skip
    return _counts(tallies)


@dataclass(frozen=True)
class Counted:
    """A Logplex body counted: its counts, its lines, and the frames skipped as malformed."""

    counts: Counts
    lines: int
    malformed: int


def count_logplex(body: bytes, token: str | None = None) -> Counted:
    """`count(parse_logplex(body).lines, token)`, with the body's lines and malformed
    frames, in one pass that makes no `LogLine`s: the drain's hot path (SPEC §12: 100,000
    lines a second), the same result. A router line stamped in UTC is counted here, inline;
    any other line of the platform as `count` does."""
    tallies: dict[str, _Tally] = {}
    lines = malformed = 0
    for parts, _ in messages(body):
        if parts is None:
            malformed += 1
            continue
        lines += 1
        if parts[3] != "heroku":
            continue
        host, stamp, message = parts[2], parts[1], parts[6]
        if (
            parts[4] != "router"
            or not stamp.endswith("+00:00")
            or (token is not None and host != token and host.startswith("d."))
        ):
            _tally(tallies, token, host, "heroku", parts[4], stamp, message)
            continue
        key = stamp[:16]
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally()
        _count_router(tally, message)
    return Counted(_counts(tallies), lines, malformed)


def _tally(
    tallies: dict[str, _Tally],
    token: str | None,
    host: str,
    app_name: str,
    procid: str,
    stamp: str,
    message: str,
) -> None:
    """Count one line into its minute's tally."""
    if token is not None and host != token and host.startswith("d."):
        return
    if app_name != "heroku":
        return
    key = stamp[:16] if stamp.endswith(("+00:00", "Z")) else _utc_minute(stamp)
    if key is None:
        return
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = _Tally()
    if procid == "router":
        _count_router(tally, message)
    elif message.startswith(("Error ", "- Error ")):
        runtime = parse_runtime(message, procid)
        if runtime is not None:
            tally.add(runtime.code, None, runtime.dyno)


def _count_router(tally: _Tally, message: str) -> None:
    """Count one router line into its minute's tally: a request, its response time, a 5xx,
    and its code (`5xx` for a 5xx without an H code) with its path and dyno."""
    tally.requests += 1
    ms = service_ms(message)
    if ms is not None:
        tally.latency[bisect_right(BOUNDS, ms)] += 1
    at = message.find("status=")
    end = message.find(" ", at)
    status = message[at + 7 : end if end > 0 else None] if at >= 0 else ""
    is_5xx = len(status) == 3 and status[0] == "5" and status.isdigit()
    if is_5xx:
        tally.errors_5xx += 1
    if is_5xx or "at=error" in message:
        router = parse_router(message)
        if router is not None:
            tally.add(router.code or "5xx", router.path, router.dyno)


def _counts(tallies: Mapping[str, _Tally]) -> Counts:
    minutes: dict[datetime, MinuteCounts] = {}
    for key, tally in tallies.items():
        try:
            minute = datetime.fromisoformat(key + ":00+00:00")
        except ValueError:
            continue
        codes = {
            code: CodeCount(n[0], _top(paths), _top(dynos))
            for code, (n, paths, dynos) in sorted(tally.codes.items())
        }
        times = tuple(tally.latency) if any(tally.latency) else ()
        counted = MinuteCounts(minute, tally.requests, tally.errors_5xx, codes, times)
        minutes[minute] = minutes[minute].merge(counted) if minute in minutes else counted
    return Counts(dict(sorted(minutes.items())))


def _utc_minute(stamp: str) -> str | None:
    try:
        when = datetime.fromisoformat(stamp)
        if when.tzinfo is None:
            return None
        return when.astimezone(UTC).isoformat()[:16]
    except (ValueError, OverflowError):  # year 1 an hour east of UTC, and the like
        return None


def _top(counted: Mapping[str, int], keep: int = KEPT) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:keep])


def _top_sum(*parts: Iterable[tuple[str, int]], keep: int = KEPT) -> tuple[tuple[str, int], ...]:
    summed: dict[str, int] = {}
    for part in parts:
        for name, n in part:
            summed[name] = summed.get(name, 0) + n
    return _top(summed, keep)
