"""The database: the connection (SQLAlchemy 2 on SQLite, the embedded default, tuned for
several threads and processes; or PostgreSQL, when several processes share one database),
its transactions, and the health probe.

`Database` opens it, brings its schema to the newest migration (`migrate.py`), and hands
out transactions; the tables are in `models.py`, their queries in the store's other modules.

Lock order (SPEC §16: on PostgreSQL a dashboard edit during a check never deadlocks). A
transaction that locks rows of several tables locks them in this order, and only so:
a team watch, then a monitor (`monitors.lock_monitor`, `remove`; a check only shares
it: `Monitors.lock_state`), its state row (`lock_state`, before anything of the app's),
its incidents and snooze, then its alerts and their event keys. A check, an edit, a
removal, a team's round and a person's Acknowledge all start at the top, so none waits
on another that waits on it. (SQLite takes the whole database at BEGIN IMMEDIATE.)
"""

from __future__ import annotations

import functools
import re
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from heroku_monitor.core.validation import SettingsError
from heroku_monitor.store.migrate import MIGRATIONS, SchemaError, migrate
from heroku_monitor.store.models import KeyValue

# Connections a process holds open to an SQLite file at most (SQLAlchemy's default is 5
# and 10 more): its checks and the dashboard wait for one rather than each opening its own
# (each keeps a page cache and prepared statements), and SQLite writes one at a time anyway.
POOL_SIZE = 4
POOL_OVERFLOW = 4
# PostgreSQL's: a backend each on the server (essential-0 allows 20 for every process).
PG_POOL_SIZE = 5
PG_POOL_OVERFLOW = 5
# SQLite's page cache per connection, in KiB (its default is 2,000 KiB): the database's
# hot pages are in the OS's file cache already, shared by every connection and process.
SQLITE_CACHE_KIB = 512
# Prepared statements the sqlite3 module keeps per connection (its default is 128): each
# costs SQLite memory (tens of KB for a join), and SQLAlchemy's expanding IN lists make a
# new one for each length, so with the default a process's native memory grew for days
# (the soak: SQLite's own allocations 3.3 -> 7.8 MB from day 1 to 7; at 16 they stay ~1).
SQLITE_STATEMENTS = 16


class Database:
    """One database: a connection pool, migrated on opening, and its transactions."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            pool: dict[str, Any] = {}
            if parsed.database and parsed.database != ":memory:":  # (:memory: is one connection)
                pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
            self.engine: Engine = create_engine(
                url,
                connect_args={
                    "timeout": 30,
                    "check_same_thread": False,
                    "cached_statements": SQLITE_STATEMENTS,
                },
                **pool,
            )
            _sqlite_immediate_transactions(self.engine)
        else:
            self.engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=PG_POOL_SIZE,
                max_overflow=PG_POOL_OVERFLOW,
                connect_args={"connect_timeout": 5},  # an unreachable server: 5 s, not minutes
            )
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        # Reads need no write lock: on SQLite (WAL) they then never wait on a writer.
        self._reader = sessionmaker(
            self.engine.execution_options(read_only=True), expire_on_commit=False
        )
        with self.engine.begin() as conn:
            if not schema_is_current(conn):
                migrate(conn)  # (Alembic, imported only then: ~9 MB a process keeps)
            # A database we cannot write to (a read-only file) is found now, in one sentence,
            # not at the first check.
            conn.execute(self._stamp("opened_at"))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block, or rolled back."""
        with self._session.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only (on SQLite a deferred transaction: no write lock)."""
        with self._reader.begin() as session:
            yield session

    def write_problem(self, *, wait: float = 2.0) -> str | None:
        """Why a small write does not go through within `wait` seconds (a read-only file, a
        lock held elsewhere, a lost server), or None when it does: /healthz asks this."""
        try:
            if self.is_sqlite:
                self._probe_sqlite(wait)
            else:
                with self.transaction() as s:
                    s.execute(text(f"SET LOCAL lock_timeout = '{int(wait * 1000)}ms'"))
                    s.execute(text(f"SET LOCAL statement_timeout = '{int(wait * 1000)}ms'"))
                    s.execute(self._stamp("healthz_at"))
        except sqlite3.Error as exc:
            return str(exc).strip().splitlines()[0]
        except SQLAlchemyError as exc:
            return database_problem(exc)
        return None

    def _probe_sqlite(self, wait: float) -> None:
        """The write on a raw connection whose busy timeout is `wait` for once: a session
        would wait the pool's 30 s on a lock before its BEGIN IMMEDIATE even ran."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(
                    "INSERT INTO key_values (key, value) VALUES ('healthz_at', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (_now(),),
                )
                cursor.execute("COMMIT")
            except sqlite3.Error:
                connection = raw.driver_connection
                if connection is not None and connection.in_transaction:
                    cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.execute("PRAGMA busy_timeout = 30000")
        finally:
            raw.close()

    def _stamp(self, key: str) -> Any:
        """Write `key` = now in key_values (an upsert)."""
        stamp = self.insert(KeyValue).values(key=key, value=_now())
        return stamp.on_conflict_do_update(index_elements=["key"], set_={"value": _now()})

    def insert(self, table: Any) -> Any:
        """INSERT that can say ON CONFLICT DO NOTHING on both backends."""
        # Each backend's dialect imported by the one that uses it (the other's costs memory).
        if self.is_sqlite:
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(table)
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)

    def insert_new(self, s: Session, table: Any, **values: Any) -> bool:
        """Insert a row unless its key exists; True when this call inserted it.

        RETURNING says so on both backends (an INSERT's rowcount is -1 under psycopg 3).
        """
        stmt = self.insert(table).values(**values).on_conflict_do_nothing()
        key = list(table.__table__.primary_key.columns)
        return s.connection().execute(stmt.returning(*key)).first() is not None

    def value(self, key: str) -> str | None:
        """A value kept in the database (None when there is none)."""
        with self.reading() as s:
            return s.execute(select(KeyValue.value).where(KeyValue.key == key)).scalar()

    def keep(self, key: str, value: str) -> None:
        """Keep `value` under `key` in the database, replacing what was there."""
        with self.transaction() as s:
            stmt = self.insert(KeyValue).values(key=key, value=value)
            s.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))

    def secret(self, name: str) -> str:
        """A random secret kept in the database, made once (by whichever process is first)."""
        with self.transaction() as s:
            s.execute(
                self.insert(KeyValue)
                .values(key=name, value=secrets.token_urlsafe(32))
                .on_conflict_do_nothing()
            )
            return s.execute(select(KeyValue.value).where(KeyValue.key == name)).scalar_one()


def schema_is_current(conn: Connection) -> bool:
    """Whether the database's schema is at the newest migration already (as on every start
    but the first after an upgrade): then Alembic, which costs ~9 MB to import and keeps
    them, is not needed. A database it cannot tell about is migrated, as before."""
    newest = newest_revision()
    if newest is None or not inspect(conn).has_table("alembic_version"):
        return False
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return found == [newest]


_REVISION = re.compile(r"^(down_)?revision\s*(?::[^=]*)?=\s*(?:None|[\"']([^\"']+)[\"'])", re.M)


@functools.cache
def newest_revision() -> str | None:
    """The one head of the migrations (`migrations/versions`), read from their files'
    `revision` and `down_revision` lines; None when that is not plain (a merge, a branch,
    a file this cannot read): then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[0-9]*.py"):
        found = {bool(m[1]): m[2] for m in _REVISION.finditer(path.read_text(encoding="utf-8"))}
        if False not in found or True not in found:
            return None
        revisions.add(found[False])
        if found[True] is not None:
            parents.add(found[True])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _is_alembic_error(exc: BaseException) -> bool:
    """An Alembic CommandError (a revision this code does not know), without importing
    Alembic to ask: it can only be one when Alembic ran."""
    errors = sys.modules.get("alembic.util.exc")
    return errors is not None and isinstance(exc, errors.CommandError)


def database_problem(exc: SQLAlchemyError) -> str:
    """What went wrong with the database, in a line (the driver's own words)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig).strip().splitlines()[0]
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def _now() -> str:
    return datetime.now(UTC).isoformat()


# Rows a bulk statement sends at once: one statement of 20,000 rows held ~20 MB of rows and
# parameters at once in a drain flush (the soak's RSS); pages of 1,000 hold ~1 MB.
PAGE_ROWS = 1000


def in_pages(s: Any, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Execute `stmt` for `rows` (executemany) in pages of `PAGE_ROWS`, in the session's
    transaction; the results, a page each."""
    connection = s.connection()
    return [
        connection.execute(stmt, list(rows[i : i + PAGE_ROWS]))
        for i in range(0, len(rows), PAGE_ROWS)
    ]


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (typed Result objects hide the attribute)."""
    return int(result.rowcount)


def open_database(url: str) -> Database:
    """The database at `url`; one that cannot be opened is a SettingsError saying why,
    without the URL's password."""
    try:
        return Database(url)
    except Exception as exc:
        if not isinstance(exc, SQLAlchemyError | OSError | SchemaError) and not _is_alembic_error(
            exc
        ):
            raise
        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except SQLAlchemyError:
            shown = "DATABASE_URL"
        if isinstance(exc, ArgumentError):
            reason = "that is not a database URL (try postgres://… or sqlite:///path)"
        elif isinstance(exc, SchemaError):
            reason = str(exc)
        elif _is_alembic_error(exc):
            reason = f"its schema is newer than this version knows ({exc}); upgrade the code"
        elif isinstance(exc, SQLAlchemyError):
            reason = database_problem(exc)
        else:
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise SettingsError(f"Cannot open the database at {shown}: {reason}.") from exc


def _sqlite_immediate_transactions(engine: Engine) -> None:
    """Begin every SQLite transaction IMMEDIATE: writers queue on the busy timeout instead
    of failing with SQLITE_BUSY when a read lock must be upgraded.

    https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below stand
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        _use_wal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        deferred = conn.get_execution_options().get("read_only")
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def _use_wal(dbapi_connection: Any) -> None:
    """Put the database in WAL mode (readers never block the writer). The mode stays in
    the file, so only its first user switches it; the switch needs the database to itself
    and answers "locked" at once, without the busy timeout, when another process is in it.
    """
    for _ in range(100):
        mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() == "wal":
            return
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.05)
