"""Counter rows, the way log counts are kept: a batch's counts as rows (`as_rows`,
`as_times`) and the rows of every process as the minutes detection reads (`as_minutes`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from heroku_monitor.core.logs import latency
from heroku_monitor.core.logs.count import CodeCount, Counts, MinuteCounts
from heroku_monitor.core.logs.latency import Histogram

# The minutes a batch's lines may be stamped with, around now.
ACCEPTED_PAST, ACCEPTED_FUTURE = timedelta(hours=1), timedelta(minutes=5)

Row = tuple[datetime, str, int]  # (minute, metric, how many)
Times = tuple[datetime, Histogram]  # a minute's router response times (latency buckets)
# A minute's response times in `since`'s rows: one row a bucket, "latency:<bucket>".
LATENCY_METRIC = "latency:"


def as_rows(counts: Counts, now: datetime) -> list[Row]:
    """A batch's counts as counter rows: requests, 5xx, and per code its lines, paths and
    dynos (`code:H12`, `path:H12:/slow`, `dyno:H12:web.1`). Only minutes from an hour ago
    to a few minutes ahead count (a line stamped in 1970 or 2999 would never be pruned)."""
    rows: list[Row] = []
    for m in counts.rows():
        if not now - ACCEPTED_PAST <= m.minute <= now + ACCEPTED_FUTURE:
            continue
        if m.requests:
            rows.append((m.minute, "requests", m.requests))
        if m.errors_5xx:
            rows.append((m.minute, "5xx", m.errors_5xx))
        for code, counted in m.codes.items():
            rows.append((m.minute, f"code:{code}", counted.count))
            rows.extend((m.minute, f"path:{code}:{path}", n) for path, n in counted.paths)
            rows.extend((m.minute, f"dyno:{code}:{dyno}", n) for dyno, n in counted.dynos)
    # No NUL in a counter's name: PostgreSQL refuses it in text.
    return [(minute, metric.replace("\x00", ""), n) for minute, metric, n in rows]


def as_times(counts: Counts, now: datetime) -> list[Times]:
    """A batch's response times, per minute, for the latency rows; the minutes `as_rows`
    keeps."""
    return [
        (m.minute, m.latency)
        for m in counts.rows()
        if m.latency and now - ACCEPTED_PAST <= m.minute <= now + ACCEPTED_FUTURE
    ]


def as_minutes(rows: Sequence[Row]) -> list[MinuteCounts]:
    """Counter rows (every process's, added up) as the minutes `log_rules.detect` reads."""
    minutes: dict[datetime, dict[str, int]] = {}
    for minute, metric, n in rows:
        minutes.setdefault(minute, {})[metric] = n
    out: list[MinuteCounts] = []
    for minute in sorted(minutes):
        metrics = minutes[minute]
        codes: dict[str, CodeCount] = {}
        times = [0] * latency.BUCKETS
        for metric, n in metrics.items():
            if metric.startswith("code:"):
                code = metric.split(":", 1)[1]
                codes[code] = CodeCount(
                    n, _top(metrics, f"path:{code}:"), _top(metrics, f"dyno:{code}:")
                )
            elif metric.startswith(LATENCY_METRIC):
                bucket = metric[len(LATENCY_METRIC) :]
                if bucket.isdecimal() and int(bucket) < latency.BUCKETS:
                    times[int(bucket)] += n
        out.append(
            MinuteCounts(
                minute,
                metrics.get("requests", 0),
                metrics.get("5xx", 0),
                dict(sorted(codes.items())),
                tuple(times) if any(times) else (),
            )
        )
    return out


def _top(metrics: dict[str, int], prefix: str) -> tuple[tuple[str, int], ...]:
    found = [
        (metric[len(prefix) :], n) for metric, n in metrics.items() if metric.startswith(prefix)
    ]
    return tuple(sorted(found, key=lambda item: (-item[1], item[0]))[:10])
