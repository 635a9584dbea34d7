"""The database's tables, as SQLAlchemy models: what each row holds. The queries are in
the store's other modules, one per table or two (`monitors.py`, `outbox.py`, …); the
schema's history is in `migrations/`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from heroku_monitor.core.outbound import POST

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
    # Minutes every dyno of a crash or down incident must stay up before it is resolved
    # (SPEC §11; None: RESOLVE_AFTER_MINUTES).
    resolve_after_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    # Polling rounds in a row whose team listing lacked this team monitor's app (SPEC §16:
    # dropped only at three, or on Heroku's 404 for the app).
    missing_rounds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The team watch that made this monitor (None: a person or the environment did).
    team_watch_id: Mapped[int | None] = mapped_column(
        ForeignKey("team_watches.id", ondelete="SET NULL"), default=None
    )
    # SPEC §14 (migration 0017): where its changes go (deploys, rollbacks, config vars,
    # add-ons, maintenance; None: `slack_channel`), and its GitHub repository, `owner/name`,
    # for commit and compare links (None: none).
    changes_channel: Mapped[str | None] = mapped_column(String(81), default=None)
    repository: Mapped[str | None] = mapped_column(String(141), default=None)


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
    # The prune (by age) and the claim of a channel's oldest pending alert.
    __table_args__ = (
        Index("ix_alerts_created_at", "created_at"),
        Index("ix_alerts_channel_status", "channel", "status", "id"),
    )
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
    # When Slack first refused this message with a passing error (5xx, `internal_error`):
    # after an hour it goes as plain text, after six it is failed (SPEC §16).
    passing_error_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # "post" to the channel, "reply" in the thread of `parent_id` (`broadcast`: to the
    # channel too), or "update": edit the message `parent_id` with this text and blocks.
    action: Mapped[str] = mapped_column(String(10), default=POST, server_default=POST)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), default=None
    )
    broadcast: Mapped[bool] = mapped_column(Boolean, default=False, server_default=FALSE)
    # For a failed alert: whether a person's fix (the channel, an invite, the token) can
    # get it through. False when Slack refused the message itself. Decided by slack/notifier.py.
    fixable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=TRUE)
    # Queued again after it failed: a channel's requeued alerts go after its current ones
    # (SPEC §16: what is current goes first).
    requeued: Mapped[bool] = mapped_column(Boolean, default=False, server_default=FALSE)


class AlertEvent(Base):
    """The key of every event ever alerted: unique, so no event is alerted twice."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_created_at", "created_at"),)  # the prune
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KeyValue(Base):
    __tablename__ = "key_values"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class WebhookSighting(Base):
    """Each webhook delivery's event id Heroku sent in the last hour (`kind` "delivery",
    the only kind written), shared by every process: one seen again is ignored. What the
    checks webhooks triggered spent is counted in `heroku_spend`. Pruned after an hour."""

    __tablename__ = "webhook_sightings"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IncidentRow(Base):
    """One incident of a monitor (`incidents.Incident`, kept whole as JSON in `data`)."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_resolved_at", "resolved_at"),)  # the prune
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
    """One counter of what an app's drained logs said in one minute: `n` of `metric`
    ("requests", "5xx", "code:H12", and per code its paths and dynos, "path:H12:/slow",
    "dyno:H12:web.1"). Every process that takes a batch adds to the same rows, so a storm
    split across web dynos adds up. Kept 2 days (`log_counts.KEEP_COUNTS`). Keyed by the
    minute first (migration 0020), its one index: rows come in minute by minute, so it
    grows at its right end with full pages and the prune empties whole pages at its left;
    the reads (an app's last 15 minutes) scan those minutes' entries of every app: ~2 ms at
    500 apps on PostgreSQL, ~3 ms on SQLite (0.25 and 0.05 ms keyed by app first)."""

    __tablename__ = "log_counts"
    __table_args__ = (PrimaryKeyConstraint("minute", "app_name", "metric"),)
    app_name: Mapped[str] = mapped_column(String(30), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    metric: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class LogBatch(Base):
    """A drain batch taken, by `key` (`log_counts.batch_key`: 8 bytes of a digest of the
    app and Logplex's `Logplex-Frame-Id`, or of an OTLP body's digest, as a BIGINT); one
    sent again is not counted twice. Kept an hour (`log_counts.KEEP_BATCHES`): 360,000 rows
    at 50 apps posting twice a second, so a row is small and has no index but its key (the
    prune scans; SQLite keeps the rows in their key's b-tree, WITHOUT ROWID). Migrations
    0014 and 0020 (the BIGINT key)."""

    __tablename__ = "log_batches"
    __table_args__ = ({"sqlite_with_rowid": False},)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Slow responses (SPEC §15): an app's router response times in one minute, as counts in the
# fixed buckets of `core.logs.latency` (b0 … b16: BOUNDS, and from 30 s on); every process
# adds to the same row. Kept a day (`log_counts.KEEP_LATENCY`). Migration 0018; keyed by the
# minute first and no other index since 0020, as `log_counts`.
LATENCY_BUCKETS = 17
log_latency = Table(
    "log_latency",
    Base.metadata,
    Column("app_name", String(30), primary_key=True),
    Column("minute", UTCDateTime, primary_key=True),
    *(Column(f"b{i}", Integer, nullable=False, server_default="0") for i in range(LATENCY_BUCKETS)),
    PrimaryKeyConstraint("minute", "app_name"),
)


class LogLatency(Base):
    """A row of `log_latency` (its buckets are columns made in a loop, so the table is
    declared as a Table and mapped here)."""

    __table__ = log_latency


class LogSample(Base):
    """Memory before R14 and the database (SPEC §15): the highest value one source (a dyno,
    a database's add-on) showed in one minute, by kind (`core.logs.metrics`: memory MB,
    its quota, a database's connections, size, maximum size). Every process raises the
    same row to its max(). Kept 2 days (`samples.KEEP_SAMPLES`). Migration 0019."""

    __tablename__ = "log_samples"
    __table_args__ = (Index("ix_log_samples_minute", "minute"),)
    app_name: Mapped[str] = mapped_column(String(30), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


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
    trailing check (`trailing`), whichever process they reach; and `asked_at`, when a
    delivery last asked for a check that no check begun since has ended (migration 0015)."""

    __tablename__ = "check_claims"
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str | None] = mapped_column(String(100), default=None)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    again: Mapped[bool] = mapped_column(Boolean, default=False)
    window_ends: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    trailing: Mapped[bool] = mapped_column(Boolean, default=False)
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class HerokuSpend(Base):
    """Heroku requests spent in one minute by one kind of check ("poll", "webhook",
    "asked", "other"), added to by every process: the rate budget is the account's."""

    __tablename__ = "heroku_spend"
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class CertificateRead(Base):
    """The last read of an app's domains and SNI endpoints (SPEC §15), shared by every
    monitor of the app: when it was (`read_at`: the next is due 6 hours later) and what it
    found (`certificates.CertificateState`, as JSON). Migration 0016."""

    __tablename__ = "certificate_reads"
    app_name: Mapped[str] = mapped_column(String(30), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    data: Mapped[str] = mapped_column(Text)


class PlatformIncidentRow(Base):
    """A Heroku platform incident as the status API showed it (SPEC §15;
    `platform_status.Tracked`, kept whole as JSON in `data`). Migration 0016."""

    __tablename__ = "platform_incidents"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    data: Mapped[str] = mapped_column(Text)
