"""Log counters (SPEC section 12): a batch's lines counted per UTC minute: router requests,
5xx, and per code (H12, R14, …) the count with its top paths and dynos. Counts add up
(`merge`) across batches and processes (the store keeps them, one row per counter). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from heroku_monitor.core.logs.parse import LogLine, parse_router, parse_runtime

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
    __slots__ = ("codes", "errors_5xx", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors_5xx = 0
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
        host = line.hostname
        if token is not None and host != token and host.startswith("d."):
            continue
        if line.app_name != "heroku":
            continue
        stamp = line.timestamp
        key = stamp[:16] if stamp.endswith(("+00:00", "Z")) else _utc_minute(stamp)
        if key is None:
            continue
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally()
        message = line.message
        if line.procid == "router":
            tally.requests += 1
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
        elif message.startswith(("Error ", "- Error ")):
            runtime = parse_runtime(message, line.procid)
            if runtime is not None:
                tally.add(runtime.code, None, runtime.dyno)
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
        counted = MinuteCounts(minute, tally.requests, tally.errors_5xx, codes)
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
