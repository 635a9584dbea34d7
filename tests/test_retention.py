"""Bounded storage (SPEC §16): every table is pruned once its rows no longer count, by one
prune job in the leader, on SQLite and PostgreSQL; what still counts is never pruned."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from heroku_monitor import service as service_module
from heroku_monitor.core.outbound import REPLY
from heroku_monitor.runtime.scheduler import PRUNE_JOB
from heroku_monitor.service import Service
from heroku_monitor.store.database import Database
from heroku_monitor.store.log_counts import batch_key
from heroku_monitor.store.models import (
    Alert,
    AlertEvent,
    Base,
    CertificateRead,
    CheckClaim,
    HerokuSpend,
    IncidentRow,
    Lease,
    LogBatch,
    LogCount,
    LogLatency,
    LogSample,
    MonitorState,
    PlatformIncidentRow,
    SnoozeRow,
    WebhookSighting,
)
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import PENDING, SENT
from heroku_monitor.store.retention import RULES, Retention
from tests.support.builders import T0
from tests.support.simulator import FakeClock
from tests.support.world import APP, QUICK, World, clocked_world

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    database = Database(str(request.getfixturevalue(fixture)))
    yield database
    database.close()


def _alert(mid: int | None, key: str, at: datetime, **values: object) -> Alert:
    fields: dict[str, object] = {
        "key": key,
        "monitor_id": mid,
        "app_name": APP,
        "kind": "dyno_crash",
        "channel": "#alerts",
        "text": "t",
        "blocks": "[]",
        "status": SENT,
        "attempts": 1,
        "created_at": at,
        "next_attempt_at": at,
    }
    fields.update(values)
    return Alert(**fields)


def _claim(s: Session, mid: int, at: datetime) -> None:
    s.add(CheckClaim(monitor_id=mid, holder=None, until=None, window_ends=at, trailing=False))
    s.add(MonitorState(monitor_id=mid, app_name=APP, last_check_at=at))


# Each table with a window: a row that falls out of it `window` after `at` (SPEC §16).
Seed = Callable[[Session, int, datetime], None]
WINDOWS: dict[str, tuple[timedelta, Seed]] = {
    "alerts": (timedelta(days=90), lambda s, mid, at: s.add(_alert(mid, "m1:crash", at))),
    "alert_events": (
        timedelta(days=90),
        lambda s, mid, at: s.add(AlertEvent(key="m1:ev", alert_id=None, created_at=at)),
    ),
    "incidents": (
        timedelta(days=90),
        lambda s, mid, at: s.add(
            IncidentRow(
                monitor_id=mid,
                id="inc-1",
                app_name=APP,
                family="dynos",
                opened_at=at - timedelta(hours=1),
                resolved_at=at,
                data="{}",
            )
        ),
    ),
    "snoozes": (
        timedelta(days=1),
        lambda s, mid, at: s.add(
            SnoozeRow(monitor_id=mid, app_name=APP, since=at - timedelta(hours=1), until=at)
        ),
    ),
    "log_counts": (
        timedelta(days=2),
        lambda s, mid, at: s.add(LogCount(app_name=APP, minute=at, metric="requests", n=3)),
    ),
    "log_batches": (
        timedelta(hours=1),
        lambda s, mid, at: s.add(LogBatch(key=batch_key(APP, "f1"), seen_at=at)),
    ),
    "log_latency": (
        timedelta(days=1),
        lambda s, mid, at: s.add(LogLatency(app_name=APP, minute=at, b3=2)),
    ),
    "log_samples": (  # SPEC §15: memory and database samples
        timedelta(days=2),
        lambda s, mid, at: s.add(
            LogSample(app_name=APP, kind="memory", source="web.1", minute=at, value=1.0)
        ),
    ),
    "webhook_sightings": (
        timedelta(hours=1),
        lambda s, mid, at: s.add(WebhookSighting(key="delivery:d1", kind="delivery", seen_at=at)),
    ),
    "heroku_spend": (
        timedelta(hours=2),
        lambda s, mid, at: s.add(HerokuSpend(minute=at, source="poll", requests=5)),
    ),
    "leases": (
        timedelta(days=1),
        lambda s, mid, at: s.add(
            Lease(name="polling", holder="gone", label="web.1", since=at, expires_at=at)
        ),
    ),
    "check_claims": (timedelta(days=1), _claim),
    "certificate_reads": (
        timedelta(days=7),
        lambda s, mid, at: s.add(CertificateRead(app_name=APP, read_at=at, data="{}")),
    ),
    "platform_incidents": (
        timedelta(days=90),
        lambda s, mid, at: s.add(
            PlatformIncidentRow(id="p1", last_seen=at, resolved_at=at, data="{}")
        ),
    ),
}
MODELS = {
    "alerts": Alert,
    "alert_events": AlertEvent,
    "incidents": IncidentRow,
    "snoozes": SnoozeRow,
    "log_counts": LogCount,
    "log_batches": LogBatch,
    "log_latency": LogLatency,
    "log_samples": LogSample,
    "webhook_sightings": WebhookSighting,
    "heroku_spend": HerokuSpend,
    "leases": Lease,
    "check_claims": CheckClaim,
    "certificate_reads": CertificateRead,
    "platform_incidents": PlatformIncidentRow,
}


def rows(db: Database, model: type[Base]) -> int:
    with db.reading() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_every_table_has_a_retention_rule():
    assert sorted(rule.table for rule in RULES) == sorted(Base.metadata.tables)
    assert sorted(r.table for r in RULES if r.slice is not None) == sorted(WINDOWS)


@pytest.mark.parametrize("table", sorted(WINDOWS))
def test_every_table_is_pruned_after_its_window_and_kept_before_it(db: Database, table: str):
    window, seed = WINDOWS[table]
    mid = Monitors(db).add(APP, "#alerts", 1, T0)
    with db.transaction() as s:
        seed(s, mid, T0)
    retention = Retention(db)
    assert retention.prune(T0 + window - timedelta(minutes=1)) == {}
    assert rows(db, MODELS[table]) == 1
    assert retention.prune(T0 + window + timedelta(minutes=1)) == {table: 1}
    assert rows(db, MODELS[table]) == 0


def test_a_backlog_is_pruned_in_short_slices_a_run_at_most_so_many(db: Database):
    with db.transaction() as s:
        for n in range(45):
            s.add(LogBatch(key=batch_key(APP, f"f{n}"), seen_at=T0))
    retention = Retention(db, batch=10, batches_per_run=3)
    later = T0 + timedelta(hours=2)
    assert retention.prune(later) == {"log_batches": 30}
    assert retention.prune(later) == {"log_batches": 15}
    assert rows(db, LogBatch) == 0


def test_pending_alerts_and_parents_of_pending_replies_are_never_pruned(db: Database):
    mid = Monitors(db).add(APP, "#alerts", 1, T0)
    with db.transaction() as s:
        pending = _alert(mid, "m1:pending", T0, status=PENDING)
        claimed = _alert(mid, "m1:claimed", T0, status=PENDING, claim_token="tok")
        parent = _alert(mid, "m1:parent", T0)
        s.add_all([pending, claimed, parent])
        s.flush()
        reply = _alert(mid, "m1:reply", T0, status=PENDING, action=REPLY, parent_id=parent.id)
        s.add(reply)
    retention = Retention(db)
    assert retention.prune(T0 + timedelta(days=400)) == {}
    assert rows(db, Alert) == 4
    with db.transaction() as s:  # the reply went: its parent may go now
        s.execute(update(Alert).where(Alert.key == "m1:reply").values(status=SENT))
    assert retention.prune(T0 + timedelta(days=400)) == {"alerts": 2}
    with db.reading() as s:
        assert sorted(s.execute(select(Alert.key)).scalars()) == ["m1:claimed", "m1:pending"]


def test_an_open_incident_is_never_pruned(db: Database):
    mid = Monitors(db).add(APP, "#alerts", 1, T0)
    with db.transaction() as s:
        for incident, resolved in (("inc-open", None), ("inc-done", T0)):
            s.add(
                IncidentRow(
                    monitor_id=mid,
                    id=incident,
                    app_name=APP,
                    family="dynos",
                    opened_at=T0,
                    resolved_at=resolved,
                    data="{}",
                )
            )
    assert Retention(db).prune(T0 + timedelta(days=400)) == {"incidents": 1}
    with db.reading() as s:
        assert list(s.execute(select(IncidentRow.id)).scalars()) == ["inc-open"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with clocked_world(sqlite_url, clock) as made:
        yield made


def built(world: World, clock: FakeClock) -> Service:
    return service_module.build(world.settings(), clock=clock, patience=QUICK)


def test_the_prune_job_runs_every_ten_minutes_in_the_leader_and_prunes_every_table(
    world: World, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    leader, other = built(world, clock), built(world, clock)
    try:
        leader.start()
        other.start()
        assert leader.scheduler.leading and not other.scheduler.leading
        job = leader.scheduler.aps.get_job(PRUNE_JOB)
        assert job is not None and job.trigger.interval == timedelta(minutes=10)
        mid = leader.monitors.all()[0].id
        with leader.db.transaction() as s:
            for table in ("log_counts", "log_batches", "webhook_sightings", "heroku_spend"):
                WINDOWS[table][1](s, mid, clock() - timedelta(days=3))
        other_job = other.scheduler.aps.get_job(PRUNE_JOB)
        assert other_job is not None
        other_job.func()  # not the leader: it prunes nothing
        assert rows(leader.db, LogBatch) == 1
        with caplog.at_level(logging.INFO, logger="heroku_monitor.runtime.scheduler"):
            job.func()
            job.func()  # nothing more to prune: nothing said
        day_ago = clock() - timedelta(days=1)
        with leader.db.reading() as s:
            for column in (
                LogCount.minute,
                LogBatch.seen_at,
                WebhookSighting.seen_at,
                HerokuSpend.minute,
            ):
                old = s.execute(select(func.count()).where(column < day_ago)).scalar_one()
                assert old == 0, column
        said = [r.getMessage() for r in caplog.records if "pruned" in r.getMessage()]
        assert len(said) == 1 and "log_batches 1" in said[0] and "log_counts 1" in said[0]
    finally:
        other.stop()
        leader.stop()
