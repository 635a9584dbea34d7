"""The database: its tables, the connection (SQLite tuning, PostgreSQL), and migrations.

SQLAlchemy 2 on SQLite (the embedded default) or PostgreSQL (when several processes
share one database). `Database` opens it, brings its schema to the newest Alembic
migration, and hands out transactions; `monitors.py` and `outbox.py` hold the queries.
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
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from heroku_monitor.core.outbound import POST
from heroku_monitor.core.validation import SettingsError

SCHEMA_LOCK = 0x4D6F6E69  # any constant: the advisory lock that serialises creating the schema
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
TRUE = text("true")  # a column default both backends read as true
FALSE = text("false")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Monitor(Base):
    __tablename__ = "monitors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_name: Mapped[str] = mapped_column(String(30))
    slack_channel: Mapped[str] = mapped_column(String(81))
    check_interval: Mapped[int] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the values came from: "environment" (seeded at first start) or "dashboard".
    source: Mapped[str] = mapped_column(String(20), default="dashboard")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who this monitor's crash-loop escalation calls (None: ALERT_MENTION's choice).
    alert_mention: Mapped[str | None] = mapped_column(String(40), default=None)
    # Its log alerts' thresholds, "lines/percent/requests" (None: SPEC's defaults).
    log_thresholds: Mapped[str | None] = mapped_column(String(40), default=None)
    # The team watch that made this monitor (None: a person or the environment did).
    team_watch_id: Mapped[int | None] = mapped_column(
        ForeignKey("team_watches.id", ondelete="SET NULL"), default=None
    )


class TeamWatch(Base):
    """Every app of a Heroku team, watched: a monitor per app, made and dropped by the
    polling rounds as apps join and leave the team."""

    __tablename__ = "team_watches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(100), unique=True)
    slack_channel: Mapped[str] = mapped_column(String(81))
    check_interval: Mapped[int] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(20), default="dashboard")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Why the team's app list could not be read last round (None: it could).
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class MonitorState(Base):
    """What the last checks of a monitor found. The snapshot holds no config var values."""

    __tablename__ = "monitor_state"
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    app_name: Mapped[str] = mapped_column(String(30))
    snapshot: Mapped[str | None] = mapped_column(Text, default=None)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_ok: Mapped[bool | None] = mapped_column(Boolean, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    delivery_error: Mapped[str | None] = mapped_column(Text, default=None)


class Alert(Base):
    """One Slack message: the alert log, and while `status` is pending, the outbox."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    monitor_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitors.id", ondelete="SET NULL"), default=None
    )
    app_name: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(81))
    text: Mapped[str] = mapped_column(Text)
    blocks: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    claim_token: Mapped[str | None] = mapped_column(String(16), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    slack_ts: Mapped[str | None] = mapped_column(String(40), default=None)
    # The channel's ID as Slack answered the post (chat.update and replies need it).
    channel_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # When Slack first answered with an error nobody documented (retried for an hour).
    unknown_error_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # "post" to the channel, "reply" in the thread of `parent_id` (`broadcast`: to the
    # channel too), or "update": edit the message `parent_id` with this text and blocks.
    action: Mapped[str] = mapped_column(String(10), default=POST, server_default=POST)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), default=None
    )
    broadcast: Mapped[bool] = mapped_column(Boolean, default=False, server_default=FALSE)
    # For a failed alert: whether a person's fix (the channel, an invite, the token) can
    # get it through. False when Slack refused the message itself. Decided by slack.py.
    fixable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=TRUE)


class AlertEvent(Base):
    """The key of every event ever alerted: unique, so no event is alerted twice."""

    __tablename__ = "alert_events"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KeyValue(Base):
    __tablename__ = "key_values"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SchemaError(Exception):
    """The database's tables are not ones a migration can bring up to date."""


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
            if not self.is_sqlite:
                # Processes starting together would race to migrate the same tables; the
                # lock makes them take turns (SQLite's BEGIN IMMEDIATE already does).
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
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


def migrate(conn: Connection) -> None:
    """Bring the database's schema to the newest migration (Alembic), in `conn`'s
    transaction. A database made before migrations existed is adopted as the first one."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    found = _columns(conn)
    if "alembic_version" not in found and "monitors" in found:
        if found != _first_schema():
            raise SchemaError(
                "it holds tables from a development version of Heroku Monitor that no "
                "migration knows; move the file aside (or drop its tables) and start again"
            )
        command.stamp(config, "0001")
    command.upgrade(config, "head")


def _columns(conn: Connection) -> dict[str, set[str]]:
    """Each table's column names."""
    from sqlalchemy import inspect

    inspector = inspect(conn)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}


def _first_schema() -> dict[str, set[str]]:
    """The tables and columns the first migration makes (what the version before
    migrations made too), read from a throwaway in-memory database."""
    from alembic import command
    from alembic.config import Config

    scratch = create_engine("sqlite://")
    with scratch.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        schema = _columns(conn)
    scratch.dispose()
    schema.pop("alembic_version", None)
    return schema


class WebhookSighting(Base):
    """What Heroku's webhooks brought in the last hour, shared by every process: each
    delivery's event id (kind "delivery": one seen again is ignored) and each check a
    webhook triggered (kind "check": the rate budget counts them). Pruned after an hour."""

    __tablename__ = "webhook_sightings"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IncidentRow(Base):
    """One incident of a monitor (`incidents.Incident`, kept whole as JSON in `data`)."""

    __tablename__ = "incidents"
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(400), primary_key=True)
    app_name: Mapped[str] = mapped_column(String(30))
    family: Mapped[str] = mapped_column(String(40))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    data: Mapped[str] = mapped_column(Text)


class SnoozeRow(Base):
    """A monitor's snooze of its app (`incidents.Snooze`): no top-level alert until `until`."""

    __tablename__ = "snoozes"
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    app_name: Mapped[str] = mapped_column(String(30))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(200), default="")
    muted: Mapped[str] = mapped_column(Text, default="[]")


class LogCount(Base):
    """What an app's logs said in one minute, one counter a row (`metric`: "requests",
    "5xx", "code:H12", "path:H12:/slow", …), added to by every process that took a batch."""

    __tablename__ = "log_counts"
    app_name: Mapped[str] = mapped_column(String(30), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    metric: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class LogBatch(Base):
    """A Logplex batch taken (`Logplex-Frame-Id`): one sent again is not counted twice."""

    __tablename__ = "log_batches"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    app_name: Mapped[str] = mapped_column(String(30))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lines: Mapped[int] = mapped_column(Integer, default=0)


class Lease(Base):
    """Who holds a lease (`name` "polling": the one process that runs the polling rounds)
    and until when; another process may take it once it has expired."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200))  # host and pid, for people
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckClaim(Base):
    """A monitor's check in progress (`holder` until `until`), claimed by the process that
    runs it so no other process checks the app at once; `again` when another asked for a
    check meanwhile. And its webhook window: deliveries before `window_ends` join one
    trailing check (`trailing`), whichever process they reach."""

    __tablename__ = "check_claims"
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str | None] = mapped_column(String(100), default=None)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    again: Mapped[bool] = mapped_column(Boolean, default=False)
    window_ends: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    trailing: Mapped[bool] = mapped_column(Boolean, default=False)


class HerokuSpend(Base):
    """Heroku requests spent in one minute by one kind of check ("poll", "webhook",
    "asked", "other"), added to by every process: the rate budget is the account's."""

    __tablename__ = "heroku_spend"
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
