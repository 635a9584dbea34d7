"""What apps' logs said, minute by minute, in the database: every process that takes a
drain batch adds to the same counters, so the counts of a storm split across web dynos add
up. A batch is recorded by its key first: one Logplex sends again is not counted twice.

At 50 apps posting twice a second an hour of batch keys is 360,000 rows, so a key row is
small (SPEC §16, under 100 MB): a 16-byte digest and when it was taken, no other index. What
the dashboard says of an app's drain (its last batch, its lines of the last whole minute) is
one row an app instead, in `key_values` (`drain_state_key`), like its drain token."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from heroku_monitor.core.logs.count import CodeCount, Counts, MinuteCounts
from heroku_monitor.store.database import Database
from heroku_monitor.store.models import KeyValue, LogBatch, LogCount

# How long minute counters and batch keys are kept (SPEC §16; detection looks back
# minutes, the dashboard a day): `retention.py` prunes them.
KEEP_COUNTS = timedelta(days=2)
KEEP_BATCHES = timedelta(hours=1)
# The minutes a batch's lines may be stamped with, around now.
ACCEPTED_PAST, ACCEPTED_FUTURE = timedelta(hours=1), timedelta(minutes=5)
ROWS_PER_STATEMENT = 2000
MINUTE = timedelta(minutes=1)

Row = tuple[datetime, str, int]  # (minute, metric, how many)


def drain_token_key(app: str) -> str:
    """Where the token Heroku gave the app's drain is kept (`register-drain` keeps it; the
    drain endpoint ignores batches of another drain)."""
    return f"drain_token:{app}"


def drain_state_key(app: str) -> str:
    """Where an app's drain state is kept: "<last batch> <minute> <its lines> <the lines of
    the minute before>" (ISO times), updated by every batch taken."""
    return f"drain_state:{app}"


def batch_key(app: str, batch: str) -> str:
    """A batch's key: 22 characters, the URL-safe base64 of a 16-byte BLAKE2b digest of
    the app and the batch's id (Logplex's frame id, or an OTLP body's digest); the same in
    every process, so a batch sent again to any of them is found."""
    digest = hashlib.blake2b(f"{app}\0{batch}".encode(), digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class LogCounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def take(self, app: str, batch: str, rows: Sequence[Row], lines: int, now: datetime) -> bool:
        """Add a batch's counters to `app`'s, in one statement; False (nothing added) when a
        batch of this key was taken before, by any process."""
        with self.db.transaction() as s:
            key = batch_key(app, batch)
            if not self.db.insert_new(s, LogBatch, key=key, seen_at=now):
                return False
            self._note_drain(s, app, lines, now)
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
        minute (the dashboard's "connected" line): this minute's, and the share of the
        minute before's still within 60 seconds, rounded up (a sliding-window estimate)."""
        state = _drain_state(self.db.value(drain_state_key(app)))
        if state is None:
            return None, 0
        last, minute, lines, before = state
        if minute == _minute(now) - MINUTE:
            lines, before = 0, lines
        elif minute != _minute(now):
            return last, 0
        left = 1 - (now - _minute(now)) / MINUTE  # of the minute before, still in the window
        return last, lines + math.ceil(before * left)

    def _note_drain(self, s: Session, app: str, lines: int, now: datetime) -> None:
        """Add a batch to the app's drain state, its row locked (PostgreSQL; SQLite's
        transaction holds the write lock already): processes taking the app's batches at
        once add up."""
        key, minute = drain_state_key(app), _minute(now)
        self.db.insert_new(s, KeyValue, key=key, value="")
        found = s.execute(
            select(KeyValue.value).where(KeyValue.key == key).with_for_update()
        ).scalar_one()
        state = _drain_state(found)
        if state is None:
            state = (now, minute, lines, 0)
        else:
            last, at, n, before = state
            last = max(last, now)
            if minute == at:
                state = (last, at, n + lines, before)
            elif minute > at:
                state = (last, minute, lines, n if minute == at + MINUTE else 0)
            else:  # a late batch: the minute before counts it, an older one nothing
                state = (last, at, n, before + lines if minute == at - MINUTE else before)
        last, at, n, before = state
        value = f"{last.isoformat()} {at.isoformat()} {n} {before}"
        s.execute(update(KeyValue).where(KeyValue.key == key).values(value=value))


def _drain_state(value: str | None) -> tuple[datetime, datetime, int, int] | None:
    try:
        last, minute, lines, before = (value or "").split()
        return (
            datetime.fromisoformat(last),
            datetime.fromisoformat(minute),
            int(lines),
            int(before),
        )
    except ValueError:
        return None


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
