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

import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from heroku_monitor.core.validation import SettingsError
from heroku_monitor.store.migrate import SchemaError, migrate
from heroku_monitor.store.models import KeyValue


class Database:
    """One database: a connection pool, migrated on opening, and its transactions."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"timeout": 30, "check_same_thread": False}
            )
            _sqlite_immediate_transactions(self.engine)
        else:
            self.engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=5,
                connect_args={"connect_timeout": 5},  # an unreachable server: 5 s, not minutes
            )
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        # Reads need no write lock: on SQLite (WAL) they then never wait on a writer.
        self._reader = sessionmaker(
            self.engine.execution_options(read_only=True), expire_on_commit=False
        )
        with self.engine.begin() as conn:
            migrate(conn)
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
        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)

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


def database_problem(exc: SQLAlchemyError) -> str:
    """What went wrong with the database, in a line (the driver's own words)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig).strip().splitlines()[0]
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def _now() -> str:
    return datetime.now(UTC).isoformat()


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (typed Result objects hide the attribute)."""
    return int(result.rowcount)


def open_database(url: str) -> Database:
    """The database at `url`; one that cannot be opened is a SettingsError saying why,
    without the URL's password."""
    try:
        return Database(url)
    except (SQLAlchemyError, OSError, SchemaError, CommandError) as exc:
        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except SQLAlchemyError:
            shown = "DATABASE_URL"
        if isinstance(exc, ArgumentError):
            reason = "that is not a database URL (try postgres://… or sqlite:///path)"
        elif isinstance(exc, SchemaError):
            reason = str(exc)
        elif isinstance(exc, CommandError):
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
