"""The pending counts' flush writers: a batch taken (`_Taken`, keyed by `batch_key`) and
what one transaction of the flusher writes of the batches waiting (their keys, counters,
response times and drain states; `Flushed`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from heroku_monitor.core.logs import latency
from heroku_monitor.store.database import Database, in_pages
from heroku_monitor.store.drain_state import _advance, _drain_state, drain_state_key
from heroku_monitor.store.log_rows import Row, Times
from heroku_monitor.store.models import KeyValue, LogCount, log_latency


def batch_key(app: str, batch: str) -> int:
    """A batch's key: a signed 64-bit integer (a BIGINT), an 8-byte BLAKE2b digest of the
    app and the batch's id (Logplex's frame id, or an OTLP body's digest);
    the same in every process, so a batch sent again to any of them is found.

    Two different batches share a key with a chance that is negligible: at most ~420,000
    keys are kept at once (an hour at 50 apps posting twice a second, and the 10 minutes
    until the next prune), so a new batch meets one of them with a chance of 420,000 / 2^64
    (2.3e-14); over the 360,000 batches of an hour, 8e-9 (the birthday bound of the hour's
    keys, n^2 / 2^65, says the same); once in ~14,000 years of such a load. And then one
    batch (half a second of one app's logs) is not counted."""
    digest = hashlib.blake2b(f"{app}\0{batch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True, slots=True)
class _Taken:
    """A batch taken, waiting for the next flush."""

    key: int
    app: str
    rows: Sequence[Row]
    lines: int
    at: datetime
    times: Sequence[Times] = ()

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.times) + 1


@dataclass(frozen=True)
class Flushed:
    """What a flush wrote: batches counted, batches another process had taken first, the
    apps written, and batches the database refused (dropped)."""

    counted: int = 0
    resent: int = 0
    apps: frozenset[str] = frozenset()
    dropped: int = 0

    def plus(self, other: Flushed) -> Flushed:
        return Flushed(
            self.counted + other.counted,
            self.resent + other.resent,
            self.apps | other.apps,
            self.dropped + other.dropped,
        )


def _add_counts(db: Database, s: Session, batches: Sequence[_Taken]) -> None:
    """Add the batches' counters, summed per app, minute and metric, to the database's:
    one additive upsert per counter (one cached statement, executemany), in the primary
    key's order, minute first (processes flushing at once lock the rows in the same order,
    and the rows of a flush are appended at the key's end)."""
    merged: dict[tuple[str, datetime, str], int] = {}
    for taken in batches:
        app = taken.app
        for minute, metric, n in taken.rows:
            key = (app, minute, metric[:200])
            merged[key] = merged.get(key, 0) + n
    if not merged:
        return
    values = [  # in the primary key's order, minute first: appended at its index's end
        {"app_name": app, "minute": minute, "metric": metric, "n": n}
        for (app, minute, metric), n in sorted(merged.items(), key=lambda kv: _by_minute(kv[0]))
    ]
    stmt = db.insert(LogCount)
    stmt = stmt.on_conflict_do_update(
        index_elements=["minute", "app_name", "metric"],
        set_={"n": LogCount.n + stmt.excluded.n},
    )
    in_pages(s, stmt, values)


def _by_minute(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """An (app, minute, ...) key in the tables' primary key order: (minute, app, ...)."""
    return (key[1], key[0], *key[2:])


def _add_times(db: Database, s: Session, batches: Sequence[_Taken]) -> None:
    """Add the batches' response times to their apps' minutes, bucket by bucket: one
    additive upsert per app and minute (executemany), in key order."""
    merged: dict[tuple[str, datetime], list[int]] = {}
    for taken in batches:
        for minute, counts in taken.times:
            into = merged.get((taken.app, minute))
            if into is None:
                into = merged[(taken.app, minute)] = [0] * latency.BUCKETS
            for i, n in enumerate(counts):
                into[i] += n
    if not merged:
        return
    buckets = [f"b{i}" for i in range(latency.BUCKETS)]
    values = [
        {"app_name": app, "minute": minute, **dict(zip(buckets, counts, strict=True))}
        for (app, minute), counts in sorted(merged.items(), key=lambda kv: _by_minute(kv[0]))
    ]
    stmt = db.insert(log_latency)
    stmt = stmt.on_conflict_do_update(
        index_elements=["minute", "app_name"],
        set_={b: log_latency.c[b] + stmt.excluded[b] for b in buckets},
    )
    in_pages(s, stmt, values)


def _note_drains(s: Session, batches: Sequence[_Taken], db: Database) -> None:
    """Add the batches to their apps' drain states: the rows locked in key order
    (PostgreSQL; SQLite's transaction holds the write lock already), so processes taking
    an app's batches at once add up; one UPDATE statement for all of them."""
    by_app: dict[str, list[_Taken]] = {}
    for taken in batches:
        by_app.setdefault(taken.app, []).append(taken)
    if not by_app:
        return
    keys = {drain_state_key(app): app for app in by_app}
    ordered = sorted(keys)
    s.connection().execute(
        db.insert(KeyValue).on_conflict_do_nothing(), [{"key": key, "value": ""} for key in ordered]
    )
    found = dict(
        s.execute(
            select(KeyValue.key, KeyValue.value)
            .where(KeyValue.key.in_(ordered))
            .order_by(KeyValue.key)
            .with_for_update()
        ).all()
    )
    changes = []
    for key in ordered:
        state = _drain_state(found.get(key))
        for taken in by_app[keys[key]]:
            state = _advance(state, taken.lines, taken.at)
        assert state is not None
        last, at, n, before = state
        changes.append({"k": key, "v": f"{last.isoformat()} {at.isoformat()} {n} {before}"})
    s.connection().execute(
        update(KeyValue).where(KeyValue.key == bindparam("k")).values(value=bindparam("v")),
        changes,
    )
