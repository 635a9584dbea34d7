"""Storage: monitors, the last snapshot of each, and the alert log that is also the outbox.

SQLAlchemy 2 on SQLite (default) or PostgreSQL. Every event is recorded under a unique
key before its message is sent, in the same transaction that saves the snapshot, so an
event is alerted once: not again on the next check, after a restart, or by a second
process on the same database. Unsent alerts are the outbox; a sender claims one with a
conditional UPDATE (healthchecks' pattern), never with a lock held while talking to Slack.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    and_,
    create_engine,
    delete,
    event,
    func,
    not_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from heroku_monitor import detect, messages
from heroku_monitor.detect import Event
from heroku_monitor.snapshot import AppSnapshot

PENDING, SENT, LOGGED, FAILED = "pending", "sent", "logged", "failed"
SCHEMA_LOCK = 0x4D6F6E69  # any constant: the advisory lock that serialises creating the schema


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
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
    status: Mapped[str] = mapped_column(String(10), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    claim_token: Mapped[str | None] = mapped_column(String(16), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    slack_ts: Mapped[str | None] = mapped_column(String(40), default=None)


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


@dataclass(frozen=True)
class MonitorView:
    """A monitor with its state, as the dashboard and the engine read it."""

    id: int
    app_name: str
    slack_channel: str
    check_interval: int
    paused: bool
    source: str = "dashboard"
    last_check_at: datetime | None = None
    last_ok: bool | None = None
    last_error: str | None = None
    failures: int = 0
    delivery_error: str | None = None
    snapshot: AppSnapshot | None = None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    attempts: int
    token: str = ""


# Computes a successful check's events, and the snapshot to keep, from (previous snapshot
# or None, failures before this check). Called inside the transaction.
EventsFor = Callable[[AppSnapshot | None, int], tuple[list[Event], AppSnapshot]]


class Store:
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
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        with self.engine.begin() as conn:
            if not self.is_sqlite:
                # Processes starting together would race to migrate the same tables; the
                # lock makes them take turns (SQLite's BEGIN IMMEDIATE already does).
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            migrate(conn)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._session.begin() as session:
            yield session

    def _insert(self, table: Any) -> Any:
        """INSERT that can say ON CONFLICT DO NOTHING on both backends."""
        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)

    def _insert_new(self, s: Session, table: Any, **values: Any) -> bool:
        """Insert a row unless its key exists; True when this call inserted it.

        RETURNING says so on both backends (an INSERT's rowcount is -1 under psycopg 3).
        """
        stmt = self._insert(table).values(**values).on_conflict_do_nothing()
        return s.connection().execute(stmt.returning(table.key)).first() is not None

    # -- key/values --------------------------------------------------------------------

    def secret(self, name: str) -> str:
        """A random secret kept in the database, made once (by whichever process is first)."""
        with self.session() as s:
            s.execute(
                self._insert(KeyValue)
                .values(key=name, value=secrets.token_urlsafe(32))
                .on_conflict_do_nothing()
            )
            return s.execute(select(KeyValue.value).where(KeyValue.key == name)).scalar_one()

    # -- monitors ----------------------------------------------------------------------

    def seed(self, app_name: str | None, channel: str | None, interval: int, now: datetime) -> bool:
        """Create the first monitor from the environment, once per database ever."""
        if not app_name:
            return False
        with self.session() as s:
            if not self._insert_new(s, KeyValue, key="seeded", value=now.isoformat()):
                return False
            monitor = _new_monitor(app_name, channel or "#general", interval, now)
            monitor.source = "environment"
            s.add(monitor)
        return True

    def add_monitor(self, app_name: str, channel: str, interval: int, now: datetime) -> int:
        with self.session() as s:
            monitor = _new_monitor(app_name, channel, interval, now)
            s.add(monitor)
            s.flush()
            return monitor.id

    def update_monitor(
        self, monitor_id: int, *, app_name: str, channel: str, interval: int, now: datetime
    ) -> bool:
        """Change a monitor; failed alerts are queued again when the channel changes.

        Lock order, here as everywhere: the monitor's state row before its alerts, so two
        transactions never wait on each other in a circle (PostgreSQL would abort one).
        """
        with self.session() as s:
            monitor = s.get(Monitor, monitor_id)
            if monitor is None:
                return False
            if monitor.app_name != app_name:
                # Another app: its first check is a baseline, with no failures carried over.
                s.execute(
                    update(MonitorState)
                    .where(MonitorState.monitor_id == monitor_id)
                    .values(
                        app_name=app_name,
                        snapshot=None,
                        taken_at=None,
                        last_ok=None,
                        last_error=None,
                        failures=0,
                    )
                )
            if monitor.slack_channel != channel:
                s.execute(
                    update(MonitorState)
                    .where(MonitorState.monitor_id == monitor_id)
                    .values(delivery_error=None)
                )
                s.execute(
                    update(Alert)
                    .where(Alert.monitor_id == monitor_id, Alert.status == FAILED)
                    .values(status=PENDING, channel=channel, next_attempt_at=now, last_error=None)
                )
            monitor.app_name, monitor.slack_channel = app_name, channel
            monitor.check_interval, monitor.updated_at = interval, now
            monitor.source = "dashboard"
        return True

    def set_paused(self, monitor_id: int, paused: bool, now: datetime) -> bool:
        with self.session() as s:
            result = s.execute(
                update(Monitor)
                .where(Monitor.id == monitor_id)
                .values(paused=paused, updated_at=now)
            )
            return bool(_rowcount(result))

    def delete_monitor(self, monitor_id: int) -> bool:
        with self.session() as s:
            s.execute(delete(MonitorState).where(MonitorState.monitor_id == monitor_id))
            s.execute(update(Alert).where(Alert.monitor_id == monitor_id).values(monitor_id=None))
            deleted = s.execute(delete(Monitor).where(Monitor.id == monitor_id))
            return bool(_rowcount(deleted))

    def monitors(self) -> list[MonitorView]:
        with self.session() as s:
            rows = s.execute(
                select(Monitor, MonitorState)
                .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
                .order_by(Monitor.id)
            ).all()
            return [_view(m, st) for m, st in rows]

    def monitor(self, monitor_id: int) -> MonitorView | None:
        with self.session() as s:
            row = s.execute(
                select(Monitor, MonitorState)
                .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
                .where(Monitor.id == monitor_id)
            ).first()
            return _view(row[0], row[1]) if row else None

    # -- checks ------------------------------------------------------------------------

    def record_success(
        self, monitor_id: int, snapshot: AppSnapshot, events_for: EventsFor, now: datetime
    ) -> list[Event]:
        """Save `snapshot` (as `events_for` keeps it) and record the events it finds;
        returns the new ones.

        The state row is locked for the transaction, so two processes checking the same
        monitor at once diff one after the other, never both against the same snapshot.
        """
        with self.session() as s:
            state = self._locked_state(s, monitor_id, snapshot.app)
            if state is None:
                return []
            previous = None
            if state.snapshot and state.app_name == snapshot.app:
                previous = AppSnapshot.from_json(state.snapshot)
                if previous.taken_at > snapshot.taken_at:
                    return []  # a newer check already landed; this one is stale
            events, kept = events_for(previous, state.failures)
            state.app_name = snapshot.app
            state.snapshot = kept.to_json()
            state.taken_at = snapshot.taken_at
            state.last_check_at, state.last_ok, state.last_error = now, True, None
            state.failures = 0
            return self._enqueue(s, monitor_id, events, now)

    def record_failure(
        self, monitor_id: int, app_name: str, reason: str, now: datetime
    ) -> list[Event]:
        """Count a failed check; returns the trouble event on the third in a row."""
        with self.session() as s:
            state = self._locked_state(s, monitor_id, app_name)
            if state is None:
                return []
            state.failures += 1
            state.last_check_at, state.last_ok, state.last_error = now, False, reason
            events = detect.check_failed(app_name, state.failures, reason, now)
            return self._enqueue(s, monitor_id, events, now)

    def _locked_state(self, s: Session, monitor_id: int, app_name: str) -> MonitorState | None:
        """The monitor's state row, locked; None when the monitor is gone or now watches
        another app (the check that is ending was started before an edit: it is stale)."""
        monitor = s.get(Monitor, monitor_id)
        if monitor is None or monitor.app_name != app_name:
            return None
        s.execute(
            self._insert(MonitorState)
            .values(monitor_id=monitor_id, app_name=app_name, failures=0)
            .on_conflict_do_nothing()
        )
        return s.execute(
            select(MonitorState).where(MonitorState.monitor_id == monitor_id).with_for_update()
        ).scalar_one_or_none()

    def _enqueue(
        self, s: Session, monitor_id: int, events: Sequence[Event], now: datetime
    ) -> list[Event]:
        """Record each event's key; those not seen before become messages in the outbox."""
        monitor = s.get(Monitor, monitor_id)
        if monitor is None or not events:
            return []
        fresh: list[Event] = []
        for e in events:
            if self._insert_new(s, AlertEvent, key=f"m{monitor_id}:{e.key}", created_at=now):
                fresh.append(e)
        for message in messages.build(fresh, now):
            alert = Alert(
                key=f"m{monitor_id}:{message.key}",
                monitor_id=monitor_id,
                app_name=message.app,
                kind=message.kind,
                channel=monitor.slack_channel,
                text=message.text,
                blocks=json.dumps(message.blocks),
                status=PENDING,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            s.add(alert)
            s.flush()
            s.execute(
                update(AlertEvent)
                .where(AlertEvent.key.in_([f"m{monitor_id}:{k}" for k in message.event_keys]))
                .values(alert_id=alert.id)
            )
        return fresh

    # -- outbox ------------------------------------------------------------------------

    def claim_next(self, now: datetime, *, lease: float = 120.0) -> OutboxItem | None:
        """Claim the oldest due alert for `lease` seconds, or None when none is due.

        A claim is a conditional UPDATE that only one process can win. One alert is
        claimed right before it is posted, and the lease outlasts the longest post (10 s
        timeout, two retries), so no other process takes it while it is being sent.
        """
        with self.session() as s:
            candidates = s.execute(
                select(Alert)
                .where(Alert.status == PENDING, Alert.next_attempt_at <= now)
                .where((Alert.claimed_until.is_(None)) | (Alert.claimed_until < now))
                .order_by(Alert.id)
                .limit(5)
            ).scalars()
            for alert in candidates:
                token = secrets.token_hex(8)
                won = s.execute(
                    update(Alert)
                    .where(Alert.id == alert.id, Alert.status == PENDING)
                    .where((Alert.claimed_until.is_(None)) | (Alert.claimed_until < now))
                    .values(claimed_until=now + timedelta(seconds=lease), claim_token=token)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(won) == 1:
                    blocks = json.loads(alert.blocks)
                    return OutboxItem(
                        alert.id, alert.channel, alert.text, blocks, alert.attempts, token
                    )
            return None

    def mark_sent(self, item: OutboxItem, ts: str, now: datetime, *, logged: bool = False) -> None:
        """Record a delivery; failed alerts to the same channel are queued again, since
        the channel (or the token) works now.

        The alert's own row is settled in a transaction of its own, first: nothing that
        follows can undo it (which would send the alert again when its claim lapses).
        """
        with self.session() as s:
            result = s.execute(
                update(Alert)
                .where(Alert.id == item.id, Alert.claim_token == item.token)
                .values(
                    status=LOGGED if logged else SENT,
                    slack_ts=ts or None,
                    sent_at=now,
                    claimed_until=None,
                    claim_token=None,
                    attempts=Alert.attempts + 1,
                    last_error=None,
                )
            )
            if not _rowcount(result):
                return  # our claim had lapsed; whoever holds it now settles the row
            monitor_id = s.execute(select(Alert.monitor_id).where(Alert.id == item.id)).scalar()
        self._set_delivery_error(monitor_id, None)
        with self.session() as s:
            s.execute(
                update(Alert)
                .where(Alert.status == FAILED, Alert.channel == item.channel, _fixable())
                .values(status=PENDING, next_attempt_at=now, last_error=None)
            )

    def _set_delivery_error(self, monitor_id: int | None, error: str | None) -> None:
        if monitor_id is None:
            return
        with self.session() as s:
            s.execute(
                update(MonitorState)
                .where(MonitorState.monitor_id == monitor_id)
                .values(delivery_error=error)
            )

    def mark_retry(self, item: OutboxItem, error: str, next_attempt_at: datetime) -> None:
        with self.session() as s:
            s.execute(
                update(Alert)
                .where(Alert.id == item.id, Alert.claim_token == item.token)
                .values(
                    attempts=Alert.attempts + 1,
                    last_error=error,
                    next_attempt_at=next_attempt_at,
                    claimed_until=None,
                    claim_token=None,
                )
            )

    def mark_failed(self, item: OutboxItem, error: str) -> None:
        """A permanent failure: kept with its reason, shown on the dashboard, and queued
        again once the channel or the token works (see `mark_sent`, `requeue_failed`)."""
        with self.session() as s:
            result = s.execute(
                update(Alert)
                .where(Alert.id == item.id, Alert.claim_token == item.token)
                .values(
                    status=FAILED,
                    last_error=error,
                    claimed_until=None,
                    claim_token=None,
                    attempts=Alert.attempts + 1,
                )
            )
            if not _rowcount(result):
                return
            monitor_id = s.execute(select(Alert.monitor_id).where(Alert.id == item.id)).scalar()
        self._set_delivery_error(monitor_id, f"{item.channel}: {error}")

    def requeue_failed(self, now: datetime) -> int:
        """Queue every undelivered alert again (after a restart or a person's "retry")."""
        with self.session() as s:
            result = s.execute(
                update(Alert)
                .where(Alert.status == FAILED, _fixable())
                .values(status=PENDING, next_attempt_at=now, last_error=None)
            )
            return _rowcount(result)

    def prune(self, now: datetime, *, keep_days: int = 90) -> int:
        """Forget delivered or failed alerts (and their event keys) older than `keep_days`;
        returns how many alerts went. Pending alerts are never pruned.

        An old event key can go: the snapshot has long moved past the change it names, so
        no check can find that change again.
        """
        cutoff = now - timedelta(days=keep_days)
        with self.session() as s:
            old = select(Alert.id).where(Alert.created_at < cutoff, Alert.status != PENDING)
            s.execute(delete(AlertEvent).where(AlertEvent.alert_id.in_(old)))
            s.execute(
                delete(AlertEvent).where(
                    AlertEvent.alert_id.is_(None), AlertEvent.created_at < cutoff
                )
            )
            gone = s.execute(
                delete(Alert).where(Alert.created_at < cutoff, Alert.status != PENDING)
            )
            return _rowcount(gone)

    def alerts(self, *, limit: int = 50, status: str | None = None) -> list[Alert]:
        with self.session() as s:
            query = select(Alert).order_by(Alert.id.desc()).limit(limit)
            if status:
                query = query.where(Alert.status == status)
            return list(s.execute(query).scalars().all())

    def count_alerts(self, status: str | None = None) -> int:
        with self.session() as s:
            query = select(func.count()).select_from(Alert)
            if status:
                query = query.where(Alert.status == status)
            return int(s.execute(query).scalar_one())

    def snapshot_for_app(self, app_name: str) -> tuple[AppSnapshot, str | None] | None:
        """The newest snapshot a monitor of `app_name` holds, and the reason its latest
        check failed (None when it succeeded), or None when no monitor has seen the app."""
        with self.session() as s:
            row = s.execute(
                select(MonitorState.snapshot, MonitorState.last_ok, MonitorState.last_error)
                .join(Monitor, Monitor.id == MonitorState.monitor_id)
                .where(Monitor.app_name == app_name, MonitorState.app_name == app_name)
                .where(MonitorState.snapshot.is_not(None))
                .order_by(MonitorState.taken_at.desc())
                .limit(1)
            ).first()
        if row is None or row[0] is None:
            return None
        problem = (row[2] or "the check failed") if row[1] is False else None
        return AppSnapshot.from_json(row[0]), problem


# Slack refusals about the message itself: sending it again can never work.
CONTENT_ERRORS = ("invalid_blocks", "invalid_arguments", "msg_too_long", "no_text")


def _fixable() -> Any:
    """Failed alerts whose cause a person can fix (channel, invite, token, scopes)."""
    return and_(*(not_(Alert.last_error.startswith(error)) for error in CONTENT_ERRORS))


def _rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (typed Result objects hide the attribute)."""
    return int(result.rowcount)


def _new_monitor(app_name: str, channel: str, interval: int, now: datetime) -> Monitor:
    return Monitor(
        app_name=app_name,
        slack_channel=channel,
        check_interval=interval,
        paused=False,
        source="dashboard",
        created_at=now,
        updated_at=now,
    )


def _view(m: Monitor, st: MonitorState | None) -> MonitorView:
    snapshot = None
    if st and st.snapshot and st.app_name == m.app_name:
        snapshot = AppSnapshot.from_json(st.snapshot)
    return MonitorView(
        id=m.id,
        app_name=m.app_name,
        slack_channel=m.slack_channel,
        check_interval=m.check_interval,
        paused=m.paused,
        source=m.source,
        last_check_at=st.last_check_at if st else None,
        last_ok=st.last_ok if st else None,
        last_error=st.last_error if st else None,
        failures=st.failures if st else 0,
        delivery_error=st.delivery_error if st else None,
        snapshot=snapshot,
    )


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
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def migrate(conn: Connection) -> None:
    """Bring the database's schema to the newest migration (Alembic), in `conn`'s
    transaction. A database made before migrations existed is adopted as the first one."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" not in tables and "monitors" in tables:
        if compare_metadata(MigrationContext.configure(conn), Base.metadata):
            raise SchemaError(
                "it holds tables from a development version of Heroku Monitor that no "
                "migration knows; move the file aside (or drop its tables) and start again"
            )
        command.stamp(config, "0001")
    command.upgrade(config, "head")


class SchemaError(Exception):
    """The database's tables are not ones a migration can bring up to date."""
