"""How long every table keeps its rows (SPEC §16, bounded storage), in one place: the
alert log and incidents 90 days, log counts 2 days, Logplex batch ids and webhook
sightings an hour, the Heroku spend its budget's window, and the rest as soon as it no
longer counts. A table with no rule here holds a row per thing a person made (a monitor,
a team watch) or a fixed set of keys, and goes with it.

`Retention.prune(now)` runs every rule, each in short transactions of at most `batch`
rows, so a huge backlog is worked off in slices and never holds a long lock; the leader's
prune job (`runtime/scheduler.py`) runs it every ten minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, or_, select, tuple_
from sqlalchemy.orm import Session

from heroku_monitor.store import certificates, log_counts, outbox, samples, sightings, spend
from heroku_monitor.store.database import Database, rowcount
from heroku_monitor.store.models import (
    AlertEvent,
    CertificateRead,
    CheckClaim,
    HerokuSpend,
    IncidentRow,
    Lease,
    LogBatch,
    LogCount,
    LogLatency,
    MonitorState,
    PlatformIncidentRow,
    SnoozeRow,
    WebhookSighting,
    log_latency,
)

KEEP_LOG = timedelta(days=outbox.KEEP_DAYS)  # alerts, their event keys, incidents
# Snoozes that ended, leases that expired, check claims nobody used: the tick ends a
# snooze within a minute and a live process renews its lease every few seconds, so a day
# later the row surely no longer counts.
KEEP_ENDED = timedelta(days=1)
BATCH = 2000  # rows one transaction deletes
BATCHES_PER_RUN = 100  # then the rest waits for the next run (a backlog, worked off)

# One slice of a rule: delete at most `limit` rows of what is out of its window at `now`,
# returning how many went.
Slice = Callable[[Session, datetime, int], int]


@dataclass(frozen=True)
class Rule:
    table: str
    keeps: str  # what the table keeps, for people
    slice: Slice | None  # None: bounded by what it holds (see `keeps`)


def _delete(s: Session, table: type[Any], key: Any, limit: int, *conditions: Any) -> int:
    """Delete at most `limit` rows of `table` matching `conditions`, chosen by their
    primary key `key` (a column, or a tuple of them); returns how many went."""
    columns = key if isinstance(key, tuple) else (key,)
    chosen = select(*columns).where(*conditions).limit(limit)
    target = tuple_(*columns) if isinstance(key, tuple) else key
    return rowcount(s.execute(delete(table).where(target.in_(chosen))))


def _alerts(s: Session, now: datetime, limit: int) -> int:
    return outbox.prune_alerts(s, now - KEEP_LOG, limit)


def _alert_events(s: Session, now: datetime, limit: int) -> int:
    """Event keys of no alert (an alerted one goes with its alert): after 90 days the
    snapshot has long moved past the change it names, so no check can find it again."""
    old = (AlertEvent.alert_id.is_(None), AlertEvent.created_at < now - KEEP_LOG)
    return _delete(s, AlertEvent, AlertEvent.key, limit, *old)


def _incidents(s: Session, now: datetime, limit: int) -> int:
    """Incidents resolved over 90 days ago; an open one is kept however old."""
    key = (IncidentRow.monitor_id, IncidentRow.id)
    old = (IncidentRow.resolved_at.is_not(None), IncidentRow.resolved_at < now - KEEP_LOG)
    return _delete(s, IncidentRow, key, limit, *old)


def _snoozes(s: Session, now: datetime, limit: int) -> int:
    old = SnoozeRow.until < now - KEEP_ENDED
    return _delete(s, SnoozeRow, SnoozeRow.monitor_id, limit, old)


def _log_counts(s: Session, now: datetime, limit: int) -> int:
    """By the primary key, minute first: the rows out of the window are its first entries."""
    key = (LogCount.minute, LogCount.app_name, LogCount.metric)
    return _delete(s, LogCount, key, limit, LogCount.minute < now - log_counts.KEEP_COUNTS)


def _log_latency(s: Session, now: datetime, limit: int) -> int:
    key = (log_latency.c.minute, log_latency.c.app_name)  # as `_log_counts`
    old = log_latency.c.minute < now - log_counts.KEEP_LATENCY
    return _delete(s, LogLatency, key, limit, old)


def _log_batches(s: Session, now: datetime, limit: int) -> int:
    old = LogBatch.seen_at < now - log_counts.KEEP_BATCHES
    return _delete(s, LogBatch, LogBatch.key, limit, old)


def _sightings(s: Session, now: datetime, limit: int) -> int:
    old = WebhookSighting.seen_at < now - sightings.SIGHTING_TTL
    return _delete(s, WebhookSighting, WebhookSighting.key, limit, old)


def _spend(s: Session, now: datetime, limit: int) -> int:
    key = (HerokuSpend.minute, HerokuSpend.source)
    return _delete(s, HerokuSpend, key, limit, HerokuSpend.minute < now - spend.KEEP)


def _leases(s: Session, now: datetime, limit: int) -> int:
    return _delete(s, Lease, Lease.name, limit, Lease.expires_at < now - KEEP_ENDED)


def _check_claims(s: Session, now: datetime, limit: int) -> int:
    """Claim rows of monitors nobody checked for a day (paused ones, say): no claim held
    or it expired a day ago, no webhook window for a day. A monitor checked again gets
    its row back with its first claim."""
    cut = now - KEEP_ENDED
    idle = (
        or_(CheckClaim.holder.is_(None), CheckClaim.until < cut),
        or_(CheckClaim.window_ends.is_(None), CheckClaim.window_ends < cut),
        ~exists().where(
            MonitorState.monitor_id == CheckClaim.monitor_id, MonitorState.last_check_at >= cut
        ),
    )
    return _delete(s, CheckClaim, CheckClaim.monitor_id, limit, *idle)


def _certificate_reads(s: Session, now: datetime, limit: int) -> int:
    """An app's last certificate read, once it has not been read for a week: a watched app
    is read every 6 hours, so the row belongs to an app no monitor watches any more."""
    old = CertificateRead.read_at < now - timedelta(days=certificates.KEEP_DAYS)
    return _delete(s, CertificateRead, CertificateRead.app_name, limit, old)


def _platform_incidents(s: Session, now: datetime, limit: int) -> int:
    """Heroku's incidents resolved over 90 days ago (as the alert log their messages are
    in); an open one is kept until a read ends it."""
    old = (
        PlatformIncidentRow.resolved_at.is_not(None),
        PlatformIncidentRow.resolved_at < now - KEEP_LOG,
    )
    return _delete(s, PlatformIncidentRow, PlatformIncidentRow.id, limit, *old)


RULES: tuple[Rule, ...] = (
    Rule("alerts", "90 days; never one pending, nor the parent of a pending reply", _alerts),
    Rule("alert_events", "90 days (an alerted one: as long as its alert)", _alert_events),
    Rule("incidents", "90 days after they are resolved; an open one always", _incidents),
    Rule("snoozes", "until a day after they ended", _snoozes),
    Rule("log_counts", "2 days", _log_counts),
    Rule("log_latency", "a day", _log_latency),
    Rule("log_samples", "2 days", samples.prune),  # SPEC §15: memory, the database
    Rule("log_batches", "an hour", _log_batches),
    Rule("webhook_sightings", "an hour", _sightings),
    Rule("heroku_spend", "twice the rate budget's window (2 hours)", _spend),
    Rule("leases", "until a day after they expired", _leases),
    Rule("check_claims", "while the monitor is checked (a day idle: gone)", _check_claims),
    Rule("certificate_reads", "a week after an app's last read (unwatched)", _certificate_reads),
    Rule("platform_incidents", "90 days after they are resolved", _platform_incidents),
    Rule("monitors", "one per monitor people made (or a team watch did)", None),
    Rule("team_watches", "one per team people watch", None),
    Rule("monitor_state", "one per monitor, gone with it", None),
    Rule("key_values", "a fixed set of keys, and each drain's token and state (per app)", None),
)


class Retention:
    """Every table's rule, run by the leader's prune job."""

    def __init__(
        self, db: Database, *, batch: int = BATCH, batches_per_run: int = BATCHES_PER_RUN
    ) -> None:
        self.db = db
        self.batch = batch
        self.batches_per_run = batches_per_run

    def prune(self, now: datetime) -> dict[str, int]:
        """Run every rule; returns the rows deleted, per table (only tables that lost
        some). Each slice is its own transaction; a rule stops at `batches_per_run`
        slices, leaving the rest of a backlog to the next run."""
        gone: dict[str, int] = {}
        for rule in RULES:
            if rule.slice is None:
                continue
            total = 0
            for _ in range(self.batches_per_run):
                with self.db.transaction() as s:
                    n = rule.slice(s, now, self.batch)
                total += n
                if n < self.batch:
                    break
            if total:
                gone[rule.table] = total
        return gone
