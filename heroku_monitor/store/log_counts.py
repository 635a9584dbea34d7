"""What apps' logs said, minute by minute, in the database: every process that takes a
drain batch adds to the same counters, so the counts of a storm split across web dynos add
up. A batch is recorded by its key first: one Logplex sends again is not counted twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select

from heroku_monitor.core.logs.count import CodeCount, Counts, MinuteCounts
from heroku_monitor.store.database import Database
from heroku_monitor.store.models import LogBatch, LogCount

# How long minute counters and batch keys are kept (SPEC §16; detection looks back
# minutes, the dashboard a day): `retention.py` prunes them.
KEEP_COUNTS = timedelta(days=2)
KEEP_BATCHES = timedelta(hours=1)
# The minutes a batch's lines may be stamped with, around now.
ACCEPTED_PAST, ACCEPTED_FUTURE = timedelta(hours=1), timedelta(minutes=5)
ROWS_PER_STATEMENT = 2000

Row = tuple[datetime, str, int]  # (minute, metric, how many)


def drain_token_key(app: str) -> str:
    """Where the token Heroku gave the app's drain is kept (`register-drain` keeps it; the
    drain endpoint ignores batches of another drain)."""
    return f"drain_token:{app}"


class LogCounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def take(self, app: str, batch: str, rows: Sequence[Row], lines: int, now: datetime) -> bool:
        """Add a batch's counters to `app`'s, in one statement; False (nothing added) when a
        batch of this key was taken before, by any process."""
        with self.db.transaction() as s:
            key = f"{app}:{batch}"[:200]
            if not self.db.insert_new(s, LogBatch, key=key, app_name=app, seen_at=now, lines=lines):
                return False
            if rows:
                merged: dict[tuple[datetime, str], int] = {}
                for minute, metric, n in rows:
                    merged[(minute, metric[:200])] = merged.get((minute, metric[:200]), 0) + n
                values = [
                    {"app_name": app, "minute": minute, "metric": metric, "n": n}
                    for (minute, metric), n in merged.items()
                ]
                # One statement for any real batch; a huge one in parts (the databases
                # bound how many values one statement may carry).
                for start in range(0, len(values), ROWS_PER_STATEMENT):
                    stmt = self.db.insert(LogCount).values(
                        values[start : start + ROWS_PER_STATEMENT]
                    )
                    s.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["app_name", "minute", "metric"],
                            set_={"n": LogCount.n + stmt.excluded.n},
                        )
                    )
        return True

    def since(self, app: str, since: datetime) -> list[Row]:
        """`app`'s counters from the minute `since` on, oldest first."""
        with self.db.reading() as s:
            found = s.execute(
                select(LogCount.minute, LogCount.metric, LogCount.n)
                .where(LogCount.app_name == app, LogCount.minute >= since)
                .order_by(LogCount.minute)
            ).all()
            return [(minute, metric, int(n)) for minute, metric, n in found]

    def drain_state(self, app: str, now: datetime) -> tuple[datetime | None, int]:
        """When `app`'s drain last sent a batch, and how many lines it sent in the last
        minute (the dashboard's "connected" line)."""
        with self.db.reading() as s:
            last = s.execute(
                select(func.max(LogBatch.seen_at)).where(LogBatch.app_name == app)
            ).scalar()
            lines = s.execute(
                select(func.coalesce(func.sum(LogBatch.lines), 0)).where(
                    LogBatch.app_name == app, LogBatch.seen_at >= now - timedelta(minutes=1)
                )
            ).scalar()
            return last, int(lines or 0)


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


def as_minutes(rows: Sequence[Row]) -> list[MinuteCounts]:
    """Counter rows (every process's, added up) as the minutes `log_rules.detect` reads."""
    minutes: dict[datetime, dict[str, int]] = {}
    for minute, metric, n in rows:
        minutes.setdefault(minute, {})[metric] = n
    out: list[MinuteCounts] = []
    for minute in sorted(minutes):
        metrics = minutes[minute]
        codes: dict[str, CodeCount] = {}
        for metric, n in metrics.items():
            if metric.startswith("code:"):
                code = metric.split(":", 1)[1]
                codes[code] = CodeCount(
                    n, _top(metrics, f"path:{code}:"), _top(metrics, f"dyno:{code}:")
                )
        out.append(
            MinuteCounts(
                minute,
                metrics.get("requests", 0),
                metrics.get("5xx", 0),
                dict(sorted(codes.items())),
            )
        )
    return out


def _top(metrics: dict[str, int], prefix: str) -> tuple[tuple[str, int], ...]:
    found = [
        (metric[len(prefix) :], n) for metric, n in metrics.items() if metric.startswith(prefix)
    ]
    return tuple(sorted(found, key=lambda item: (-item[1], item[0]))[:10])
