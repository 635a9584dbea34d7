"""The drains' metrics samples in the database (SPEC §15, memory before R14 and the
database): per app, kind, source and minute, the highest value seen (`log_samples`, one
row each). Writing is an upsert that keeps the max() of what is there and what comes, so
several processes taking the same app's batches combine, and a batch Logplex sends again
changes nothing (max is idempotent): no batch key is needed.

Taking samples writes nothing (the drain answers without waiting on the database, SPEC
§12): `Samples.take` keeps them in memory, merged by max(), and a flusher thread writes
what is pending at most once a second (`FLUSH_EVERY`) in one transaction (one
executemany of one cached statement, in key order so processes lock rows alike). Memory
is bounded (`MAX_PENDING` rows: past it a batch's samples are dropped, said once and
counted in `dropped`; a dyno's sample every 20 seconds makes that a far-off cap). A write
the database refuses keeps the rows for the next try, while they fit. `close()` writes
what is left. Rows are kept 2 days (`KEEP_SAMPLES`, `prune`), as the log counts are.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, tuple_
from sqlalchemy.orm import Session

from heroku_monitor.core.logs.metrics import Sample
from heroku_monitor.store.database import Database, in_pages, rowcount
from heroku_monitor.store.models import LogSample

log = logging.getLogger(__name__)

KEEP_SAMPLES = timedelta(days=2)
FLUSH_EVERY = 1.0  # seconds
MAX_PENDING = 50_000  # rows waiting for the next write (~100 B each)
# The minutes a sample may be stamped with, around now (as `log_counts` accepts).
ACCEPTED_PAST, ACCEPTED_FUTURE = timedelta(hours=1), timedelta(minutes=5)

Key = tuple[str, str, str, datetime]  # app, kind, source, minute


class Samples:
    def __init__(self, db: Database, *, cap: int | None = None, every: float | None = None) -> None:
        self.db = db
        self.cap = MAX_PENDING if cap is None else cap
        self.every = FLUSH_EVERY if every is None else every
        self.dropped = 0  # samples that found the pending rows full
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._pending: dict[Key, float] = {}
        self._thens: dict[str, Callable[[], object]] = {}  # per app: after its next write
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self._failing = False

    def take(
        self,
        app: str,
        samples: Sequence[Sample],
        now: datetime,
        *,
        then: Callable[[], object] | None = None,
    ) -> int:
        """Keep `app`'s samples for the next write (the highest per key), which then calls
        `then` (once per app and write: a log check of its monitors); how many were kept.
        Samples stamped over an hour ago or minutes ahead are not."""
        if not samples:
            return 0
        kept = 0
        with self._lock:
            for s in samples:
                if not now - ACCEPTED_PAST <= s.minute <= now + ACCEPTED_FUTURE:
                    continue
                key = (app[:30], s.kind[:20], s.source[:100], s.minute)
                before = self._pending.get(key)
                if before is None:
                    if len(self._pending) >= self.cap:
                        self.dropped += 1
                        if self.dropped == 1:
                            log.warning(
                                "drain samples: %d rows wait for the database (the cap); "
                                "more are dropped (said once; counted in dropped)",
                                self.cap,
                            )
                        continue
                    self._pending[key] = s.value
                elif s.value > before:
                    self._pending[key] = s.value
                kept += 1
            if kept and then is not None:
                self._thens[app] = then  # bounded as the apps pending are
            if kept and not self._closed:
                self._start()
        return kept

    def _start(self) -> None:
        """Under the lock: the flusher, once."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="samples-flusher", daemon=True)
            self._thread.start()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()

    def flush(self) -> bool:
        """Write what is pending in one transaction; False when the database refused it
        (then it stays pending, merged with what comes meanwhile)."""
        with self._writing:
            with self._lock:
                rows, self._pending = self._pending, {}
                thens, self._thens = self._thens, {}
            if not rows:
                return True
            try:
                with self.db.transaction() as s:
                    write(self.db, s, rows)
            except Exception:
                if not self._failing:
                    self._failing = True
                    log.exception("drain samples: the write failed; kept for the next")
                with self._lock:
                    for key, value in rows.items():
                        came = self._pending.get(key)
                        room = len(self._pending) < self.cap
                        if (came is None and room) or (came is not None and value > came):
                            self._pending[key] = value
                    for app, waiting in thens.items():
                        self._thens.setdefault(app, waiting)
                return False
            if self._failing:
                self._failing = False
                log.warning("drain samples: written again")
        if not self._closed:
            for app in sorted({key[0] for key in rows}):
                then = thens.get(app)
                if then is not None:
                    try:
                        then()
                    except Exception:
                        log.exception("drain samples: asking for the log checks of %s failed", app)
        return True

    def close(self) -> None:
        """Stop the flusher and write what is left (a clean shutdown)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.flush()

    def since(self, app: str, since: datetime, *kinds: str) -> list[Sample]:
        """`app`'s samples from the minute `since` on (of `kinds`, or all), as flushed by
        every process, oldest first."""
        query = select(LogSample.minute, LogSample.kind, LogSample.source, LogSample.value).where(
            LogSample.app_name == app, LogSample.minute >= since
        )
        if kinds:
            query = query.where(LogSample.kind.in_(kinds))
        with self.db.reading() as s:
            found = s.execute(query.order_by(LogSample.minute)).all()
        return [Sample(minute, kind, source, float(value)) for minute, kind, source, value in found]


def write(db: Database, s: Session, rows: dict[Key, float]) -> None:
    """Raise each row to the max() of its value and the one given (inserting it when new):
    one cached statement, executemany, in key order."""
    if not rows:
        return
    values = [
        {"app_name": app, "kind": kind, "source": source, "minute": minute, "value": value}
        for (app, kind, source, minute), value in sorted(rows.items())
    ]
    stmt = db.insert(LogSample)
    stmt = stmt.on_conflict_do_update(
        index_elements=["app_name", "kind", "source", "minute"],
        set_={
            "value": case(
                (stmt.excluded.value > LogSample.value, stmt.excluded.value),
                else_=LogSample.value,
            )
        },
    )
    in_pages(s, stmt, values)


def prune(s: Session, now: datetime, limit: int) -> int:
    """Delete at most `limit` samples older than KEEP_SAMPLES (a retention slice)."""
    columns = (LogSample.app_name, LogSample.kind, LogSample.source, LogSample.minute)
    chosen = select(*columns).where(LogSample.minute < now - KEEP_SAMPLES).limit(limit)
    return rowcount(s.execute(delete(LogSample).where(tuple_(*columns).in_(chosen))))
