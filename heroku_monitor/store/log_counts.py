"""What apps' logs said, minute by minute, in the database: every process that takes a
drain batch adds to the same counters, so the counts of a storm split across web dynos add
up. A batch is recorded by its key: one Logplex sends again is not counted twice.

Taking a batch writes nothing (SPEC §12: 100,000 lines a second in one process, a 1 MB
batch answered in 50 ms). `LogCounts.take` keeps the batch's counters in memory, and a
flusher thread of the process writes what is pending at most once a second (`FLUSH_EVERY`)
in one transaction: the batches' keys first (one statement, `ON CONFLICT DO NOTHING
RETURNING`), then the counters of the batches whose key was new, summed per app, minute
and metric (one additive upsert per counter), then the response-time histograms (SPEC
§15: `log_latency`, one row an app and minute, added to bucket by bucket), then each app's
drain state. Every statement is one executemany of a cached statement. So a batch sent
again is counted once however the processes share the posts: the same process finds its
key pending (or flushed lately) and refuses it at once; another process's copy loses at
the flush, in the database, as both inserts of one key cannot succeed. Processes flushing
at once lock the rows in one order (keys, counters and apps sorted). Checks read only what
is flushed (`since`): the flusher asks for the log checks of the apps it wrote (`then`),
after writing. `close()` flushes what is left (a clean shutdown); a process killed loses
at most its last second of counts.

Memory is bounded (`MAX_PENDING`, counter rows and batches waiting): a batch that finds it
full flushes in the request, waiting for the database (said once in a log line, then
counted, `over_cap`); when even that cannot make room (the database is down) the batch is
refused (`PendingFull`: the endpoint answers 503 and Logplex drops it, as it drops what a
drain cannot take). A batch the database refuses (or a bug) never wedges the flush: the
batches are then written one by one and the refused one dropped (logged once, `dropped`).

At 50 apps posting twice a second an hour of batch keys is 360,000 rows, so a key row is
small (SPEC §16, under 100 MB): an 8-byte digest (a BIGINT key, `batch_key`) and when it
was taken, no other index (~75-80 bytes a row on PostgreSQL with its key's index, ~115
with the 22-character key it had before migration 0020; ~40 on SQLite). What
the dashboard says of an app's drain (its last batch, its lines of the last whole minute) is
one row an app instead, in `key_values` (`drain_state_key`), like its drain token."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from heroku_monitor.store.database import Database, in_pages
from heroku_monitor.store.drain_flush import Flushed as Flushed
from heroku_monitor.store.drain_flush import _add_counts as _add_counts
from heroku_monitor.store.drain_flush import _add_times as _add_times
from heroku_monitor.store.drain_flush import _note_drains as _note_drains
from heroku_monitor.store.drain_flush import _Taken as _Taken
from heroku_monitor.store.drain_flush import batch_key as batch_key
from heroku_monitor.store.drain_state import MINUTE as MINUTE
from heroku_monitor.store.drain_state import DrainState as DrainState
from heroku_monitor.store.drain_state import _advance as _advance
from heroku_monitor.store.drain_state import _drain_state as _drain_state
from heroku_monitor.store.drain_state import _minute as _minute
from heroku_monitor.store.drain_state import drain_state_key as drain_state_key
from heroku_monitor.store.log_rows import ACCEPTED_FUTURE as ACCEPTED_FUTURE
from heroku_monitor.store.log_rows import ACCEPTED_PAST as ACCEPTED_PAST
from heroku_monitor.store.log_rows import LATENCY_METRIC as LATENCY_METRIC
from heroku_monitor.store.log_rows import Row as Row
from heroku_monitor.store.log_rows import Times as Times
from heroku_monitor.store.log_rows import as_minutes as as_minutes
from heroku_monitor.store.log_rows import as_rows as as_rows
from heroku_monitor.store.log_rows import as_times as as_times
from heroku_monitor.store.models import LogBatch, LogCount, log_latency

log = logging.getLogger(__name__)

# How long minute counters and batch keys are kept (SPEC §16; detection looks back
# minutes, the dashboard a day): `retention.py` prunes them.
KEEP_COUNTS = timedelta(days=2)
KEEP_BATCHES = timedelta(hours=1)
KEEP_LATENCY = timedelta(days=1)  # slow responses look back minutes; a row an app-minute
# Seconds between two writes of the pending counts.
FLUSH_EVERY = 1.0
# What may wait in memory for the next write: counter rows plus batches (each batch counts
# one besides its rows). 100 apps at 10 batches a second are ~20,000 a second; a row or a
# batch is ~100-200 bytes, so the cap is ~20-40 MB at worst.
MAX_PENDING = 200_000
# Keys of batches flushed lately, kept to refuse a resend to this process at once.
RECENT_KEYS = 20_000
# How long a drain token read from the database is used before it is read again.
TOKEN_TTL = 5.0
TOKENS_KEPT = 10_000


class PendingFull(Exception):
    """No room for a batch in memory, and the database cannot take what waits."""


def drain_token_key(app: str) -> str:
    """Where the token Heroku gave the app's drain is kept (`register-drain` keeps it; the
    drain endpoint ignores batches of another drain)."""
    return f"drain_token:{app}"


class LogCounts:
    def __init__(self, db: Database, *, cap: int | None = None, every: float | None = None) -> None:
        self.db = db
        self.cap = MAX_PENDING if cap is None else cap
        self.every = FLUSH_EVERY if every is None else every
        self.over_cap = 0  # batches that found the pending counts full
        self.dropped = 0  # batches the database refused (a bug): each alone, then dropped
        self._lock = threading.Lock()  # the pending batches
        self._writing = threading.Lock()  # one flush at a time
        self._pending: list[_Taken] = []
        self._size = 0
        self._keys: set[int] = set()  # the pending batches' keys
        self._thens: dict[str, Callable[[], object]] = {}  # per app: after its next write
        self._recent: OrderedDict[int, None] = OrderedDict()  # keys flushed lately
        self._tokens: dict[str, tuple[str | None, float]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self._full_said = False
        self._failing = False  # the database was away at the latest write
        self._failed_at = 0.0

    # ---------------------------------------------------------------------------- taking

    def take(
        self,
        app: str,
        batch: str,
        rows: Sequence[Row],
        lines: int,
        now: datetime,
        *,
        then: Callable[[], object] | None = None,
        times: Sequence[Times] = (),
    ) -> bool:
        """Keep a batch's counters (and its minutes' response times, `times`) for the next
        flush, which adds them to `app`'s in the database and then calls `then` (once per
        app and flush); False (nothing kept) when this process took a batch of this key
        lately. A resend to another process is dropped at the flush. Raises PendingFull
        when there is no room and the database cannot make some."""
        taken = _Taken(batch_key(app, batch), app, rows, lines, now, times)
        with self._lock:
            if taken.key in self._keys or taken.key in self._recent:
                return False
            if then is not None:
                self._thens[app] = then  # bounded as the apps pending are
            if self._size + taken.size <= self.cap and not self._closed:
                self._keep(taken)
                return True
        return self._take_when_full(taken)

    def _keep(self, taken: _Taken) -> None:
        """Under the lock."""
        self._pending.append(taken)
        self._keys.add(taken.key)
        self._size += taken.size
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="log-counts-flusher", daemon=True
            )
            self._thread.start()

    def _take_when_full(self, taken: _Taken) -> bool:
        """No room (or closed): write what waits now, in this request, then keep the batch;
        one bigger than the cap alone is written at once."""
        if not self._closed:
            self.over_cap += 1
            if not self._full_said:
                self._full_said = True
                log.warning(
                    "log drains: %d counter rows wait for the database (the cap); a batch "
                    "that finds it full waits for the write (said once; counted in over_cap)",
                    self.cap,
                )
        if not (self._failing and time.monotonic() - self._failed_at < self.every):
            self.flush()  # (not again while the database was away a moment ago)
        with self._lock:
            if taken.key in self._keys or taken.key in self._recent:
                return False
            fits = self._size + taken.size <= self.cap
            if fits and not self._closed:
                self._keep(taken)
                return True
            if not fits and self._pending:
                raise PendingFull("the log counts cannot reach the database now")
            self._keys.add(taken.key)
        left: list[_Taken] = [taken]
        try:
            flushed, left = self._flush_batches([taken])
        finally:
            with self._lock:
                self._keys.discard(taken.key)
                if not left:
                    self._remember([taken])
        if left:
            raise PendingFull("the log counts cannot reach the database now")
        if not self._closed:
            self._ask(flushed.apps)
        return True

    @property
    def pending(self) -> int:
        """Counter rows and batches waiting for the next flush."""
        with self._lock:
            return self._size

    # --------------------------------------------------------------------------- writing

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()

    def flush(self, *, ask: bool = True) -> Flushed | None:
        """Write what is pending, in one transaction, then (`ask`) call the apps' `then`;
        None when the database could not take it (then it stays pending, for the next
        flush)."""
        with self._writing:
            with self._lock:
                batches, self._pending, self._size = self._pending, [], 0
            if not batches:
                return Flushed()
            flushed, left = self._flush_batches(batches)
            with self._lock:
                if left:  # back in front, in order
                    self._pending[:0] = left
                    self._size += sum(taken.size for taken in left)
                kept = {taken.key for taken in left}
                written = [taken for taken in batches if taken.key not in kept]
                for taken in written:
                    self._keys.discard(taken.key)
                self._remember(written)
        if ask:
            self._ask(flushed.apps)
        return flushed if not left else None

    def _remember(self, batches: Sequence[_Taken]) -> None:
        """Under the lock: the keys of batches written, the oldest forgotten first."""
        for taken in batches:
            self._recent[taken.key] = None
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)

    def _flush_batches(self, batches: Sequence[_Taken]) -> tuple[Flushed, list[_Taken]]:
        """Write the batches: what was written, and the batches left to write later (all
        of them while the database is away). A batch the database refuses (or a bug) must
        not wedge the drain: then each is written alone, and one refused alone is dropped,
        its traceback logged once."""
        try:
            flushed = self._write(batches)
        except (OperationalError, InterfaceError):  # a lost database: the counts wait
            self._said_failing("the database cannot be reached")
            return Flushed(), list(batches)
        except Exception:
            if len(batches) == 1:
                self._said_failing("the database refused a batch's counts; dropped", dropped=True)
                return Flushed(0, 0, frozenset(), 1), []
            flushed, left = Flushed(), list[_Taken]()
            for n, taken in enumerate(batches):
                alone, rest = self._flush_batches([taken])
                flushed = flushed.plus(alone)
                if rest:  # the database went away meanwhile: the rest waits
                    return flushed, [*rest, *batches[n + 1 :]]
            return flushed, left
        if self._failing:
            self._failing = False
            log.warning("log drains: the counts are written again")
        return flushed, []

    def _said_failing(self, why: str, *, dropped: bool = False) -> None:
        """Log a failed write once (an outage once, until a write goes through again; a
        refused batch once ever, then counted in `dropped`). In an `except` block."""
        if dropped:
            self.dropped += 1
            if self.dropped == 1:
                log.exception("log drains: %s (said once; counted in dropped)", why)
            return
        self._failed_at = time.monotonic()
        if not self._failing:
            self._failing = True
            log.exception("log drains: the counts could not be written (%s); kept", why)

    def _write(self, batches: Sequence[_Taken]) -> Flushed:
        with self.db.transaction() as s:
            new = self._insert_keys(s, batches)
            counted = [b for b in batches if b.key in new]
            _add_counts(self.db, s, counted)
            _add_times(self.db, s, counted)
            _note_drains(s, counted, self.db)
        apps = frozenset(taken.app for taken in counted)
        return Flushed(len(counted), len(batches) - len(counted), apps)

    def _ask(self, apps: frozenset[str]) -> None:
        """Call each app's `then` (its latest batch's), now that its counts are written."""
        with self._lock:
            thens = self._thens
            self._thens = {}
        for app in sorted(apps):
            then = thens.pop(app, None)
            if then is not None:
                try:
                    then()
                except Exception:
                    log.exception("log drains: asking for the log checks of %s failed", app)
        with self._lock:  # apps not written this time keep theirs, while they wait
            waiting = {taken.app for taken in self._pending}
            for app, then in thens.items():
                if app in waiting:
                    self._thens.setdefault(app, then)

    def _insert_keys(self, s: Session, batches: Sequence[_Taken]) -> set[int]:
        """Insert the batches' keys (sorted: one lock order for every process); the ones
        this statement inserted, not those another process took first. One cached
        statement, its rows sent as one executemany (pages of VALUES)."""
        seen_at = {b.key: b.at for b in batches}
        stmt = self.db.insert(LogBatch).on_conflict_do_nothing().returning(LogBatch.key)
        rows = [{"key": key, "seen_at": seen_at[key]} for key in sorted(seen_at)]
        return {key for page in in_pages(s, stmt, rows) for key in page.scalars()}

    def close(self) -> None:
        """Stop the flusher and write what is left (a clean shutdown)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.flush(ask=False)  # the process is going: its checks would not run

    # --------------------------------------------------------------------------- reading

    def since(self, app: str, since: datetime) -> list[Row]:
        """`app`'s counters from the minute `since` on, oldest first: every process's, as
        flushed (a batch taken here is in them once its flush is done); its response
        times among them, a row a bucket (`latency:<bucket>`)."""
        with self.db.reading() as s:
            found = s.execute(
                select(LogCount.minute, LogCount.metric, LogCount.n)
                .where(LogCount.app_name == app, LogCount.minute >= since)
                .order_by(LogCount.minute)
            ).all()
            rows = [(minute, metric, int(n)) for minute, metric, n in found]
            times = s.execute(
                select(log_latency)
                .where(log_latency.c.app_name == app, log_latency.c.minute >= since)
                .order_by(log_latency.c.minute)
            ).all()
        for row in times:
            minute = row.minute
            rows.extend(
                (minute, f"{LATENCY_METRIC}{i}", int(n)) for i, n in enumerate(row[2:]) if n
            )
        return sorted(rows, key=lambda row: row[0])

    def drain_token(self, app: str) -> str | None:
        """The token of `app`'s drain (`drain_token_key`), read from the database at most
        every TOKEN_TTL seconds."""
        now = time.monotonic()
        kept = self._tokens.get(app)
        if kept is not None and kept[1] > now:
            return kept[0]
        token = self.db.value(drain_token_key(app)) or None
        if len(self._tokens) >= TOKENS_KEPT:
            self._tokens.clear()
        self._tokens[app] = (token, now + TOKEN_TTL)
        return token

    def drain_state(self, app: str, now: datetime) -> tuple[datetime | None, int]:
        """When `app`'s drain last sent a batch, and how many lines it sent in the last
        minute (the dashboard's "connected" line): this minute's, and the share of the
        minute before's still within 60 seconds, rounded up (a sliding-window estimate).
        The batches of this process not yet flushed count too."""
        state = _drain_state(self.db.value(drain_state_key(app)))
        with self._lock:
            waiting = [(b.lines, b.at) for b in self._pending if b.app == app]
        for lines, at in waiting:
            state = _advance(state, lines, at)
        if state is None:
            return None, 0
        last, minute, lines, before = state
        if minute == _minute(now) - MINUTE:
            lines, before = 0, lines
        elif minute != _minute(now):
            return last, 0
        left = 1 - (now - _minute(now)) / MINUTE  # of the minute before, still in the window
        return last, lines + math.ceil(before * left)
