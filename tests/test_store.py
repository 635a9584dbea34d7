"""Storage (monitors, check state, the outbox) keeps each event once, across checks,
restarts and processes sharing a database."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from heroku_monitor.core import detect
from heroku_monitor.core.detect import diff
from heroku_monitor.core.outbound import Receipt
from heroku_monitor.render import messages
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.slack.notifier import DeliveryError
from heroku_monitor.store.outbox import FAILED, PENDING
from tests.support.builders import CRASHED, T0, dyno, snap
from tests.support.storage import Storage


def make_monitor(store: Storage) -> int:
    return store.monitors.add("my-app", "#alerts", 5, T0)


def queue_crash(store: Storage) -> int:
    """A monitor with a baseline, then a crash whose alert waits in the outbox."""
    mid = make_monitor(store)
    store.success(mid, snap(), T0)
    store.success(mid, CRASHED, T0)
    return mid


def test_baseline_then_crash_queues_one_alert(database_url: str):
    store = Storage(database_url)
    mid = make_monitor(store)
    assert store.success(mid, snap(), T0) == []
    events = store.success(mid, CRASHED, T0)
    assert [e.kind for e in events] == [detect.DYNO_CRASHED]
    assert store.outbox.count(PENDING) == 1


def test_same_event_from_a_second_process_on_one_database_is_not_queued_twice(database_url: str):
    first, second = Storage(database_url), Storage(database_url)
    mid = make_monitor(first)
    first.success(mid, snap(), T0)
    # Both processes computed the crash against the same baseline (a race already lost).
    events = diff(snap(), CRASHED)
    for store, expected in ((first, events), (second, [])):
        with store.db.transaction() as s:
            fresh = store.outbox.first_seen(s, mid, events, T0)
            store.outbox.enqueue(s, mid, messages.build(fresh, T0), T0)
        assert fresh == expected
    assert second.outbox.count() == 1


def test_restart_neither_repeats_nor_misses_an_event(sqlite_url: str):
    store = Storage(sqlite_url)
    mid = queue_crash(store)
    store.db.close()
    restarted = Storage(sqlite_url)
    again = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1")), minutes=10)
    assert restarted.success(mid, again, T0) == []
    down = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1", "down")), minutes=15)
    assert [e.kind for e in restarted.success(mid, down, T0)] == [detect.DYNOS_DOWN]


def test_concurrent_checks_of_one_monitor_alert_once(database_url: str):
    stores = [Storage(database_url) for _ in range(4)]
    mid = make_monitor(stores[0])
    stores[0].success(mid, snap(), T0)
    results: list[list[detect.Event]] = []
    barrier = threading.Barrier(len(stores))

    def check(store: Storage) -> None:
        barrier.wait()
        results.append(store.success(mid, CRASHED, T0))

    threads = [threading.Thread(target=check, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert stores[0].outbox.count() == 1


def test_outbox_item_is_claimed_by_one_process_only(database_url: str):
    first, second = Storage(database_url), Storage(database_url)
    mid = make_monitor(first)
    first.success(mid, snap(), T0)
    first.success(mid, CRASHED, T0)
    now = T0 + timedelta(seconds=1)
    claimed = first.outbox.claim_next(now)
    assert claimed is not None
    assert second.outbox.claim_next(now) is None
    # A claim that is never settled (the process died) expires and can be taken again.
    again = second.outbox.claim_next(now + timedelta(seconds=121))
    assert again is not None and again.id == claimed.id
    # The lapsed claim can no longer settle the row: only the new holder can.
    first.outbox.mark_sent(claimed, Receipt("1.1", "C0ALERTS"), now)
    assert first.outbox.count(PENDING) == 1
    second.outbox.mark_sent(again, Receipt("1.2", "C0ALERTS"), now)
    assert first.outbox.count(PENDING) == 0
    (sent,) = first.outbox.recent()
    assert (sent.slack_ts, sent.channel_id) == ("1.2", "C0ALERTS")  # for replies and edits


def test_trouble_is_queued_once_after_three_failures_and_recovery_once(database_url: str):
    store = Storage(database_url)
    mid = make_monitor(store)
    store.success(mid, snap(), T0)
    raised = [store.failure(mid, "my-app", "500 unavailable: boom", at(i)) for i in range(1, 6)]
    assert [len(r) for r in raised] == [0, 0, 1, 0, 0]
    recovered = store.success(mid, snap(minutes=6), at(6))
    assert [e.kind for e in recovered] == [detect.MONITORING_RECOVERED]
    # A second run of trouble is a new one and alerts again.
    again = [store.failure(mid, "my-app", "500 unavailable", at(i)) for i in range(7, 10)]
    assert [len(r) for r in again] == [0, 0, 1]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_trouble_alerts_again_after_the_monitor_went_to_another_app_and_back(sqlite_url: str):
    store = Storage(sqlite_url)
    mid = make_monitor(store)
    first = [store.failure(mid, "my-app", "500", at(i)) for i in range(1, 4)]
    store.monitors.update(mid, app_name="typo-app", channel="#alerts", interval=5, now=at(4))
    store.monitors.update(mid, app_name="my-app", channel="#alerts", interval=5, now=at(5))
    second = [store.failure(mid, "my-app", "500", at(i)) for i in range(6, 9)]
    assert [len(r) for r in first] == [0, 0, 1] and [len(r) for r in second] == [0, 0, 1]


def test_trouble_alerts_for_a_monitor_removed_and_added_again(sqlite_url: str):
    store = Storage(sqlite_url)
    mid = make_monitor(store)
    first = [store.failure(mid, "my-app", "500", at(i)) for i in range(1, 4)]
    store.monitors.delete(mid)
    again = make_monitor(store)  # SQLite may give it the same id
    second = [store.failure(again, "my-app", "500", at(i)) for i in range(6, 9)]
    assert [len(r) for r in first] == [0, 0, 1] and [len(r) for r in second] == [0, 0, 1]


def test_environment_seeds_the_first_monitor_only_once(sqlite_url: str):
    store = Storage(sqlite_url)
    assert store.monitors.seed("my-app", "#alerts", 5, T0)
    for m in store.monitors.all():
        store.monitors.delete(m.id)
    assert not Storage(sqlite_url).monitors.seed("my-app", "#alerts", 5, T0)
    assert store.monitors.all() == []


def test_permanent_failure_is_kept_and_queued_again_when_the_channel_changes(sqlite_url: str):
    store = Storage(sqlite_url)
    mid = queue_crash(store)
    item = store.outbox.claim_next(T0)
    assert item is not None
    store.outbox.mark_failed(item, "channel_not_found", fixable=True)
    assert store.outbox.count(FAILED) == 1
    store.monitors.update(mid, app_name="my-app", channel="#ops", interval=5, now=T0)
    again = store.outbox.claim_next(T0)
    assert again is not None and again.channel == "#ops"


def test_stale_snapshot_never_replaces_a_newer_one(sqlite_url: str):
    store = Storage(sqlite_url)
    mid = make_monitor(store)
    store.success(mid, CRASHED, T0)
    older = snap(minutes=1)
    assert store.success(mid, older, T0) == []
    view = store.monitors.get(mid)
    assert view and view.snapshot and view.snapshot.taken_at == CRASHED.taken_at


def test_heroku_postgres_url_works_as_given(postgres_url: str):
    from heroku_monitor.settings import from_env

    given = postgres_url.replace("postgresql+psycopg://", "postgres://")
    settings = from_env({"HEROKU_API_KEY": "k", "SLACK_BOT_TOKEN": "x", "DATABASE_URL": given})
    store = Storage(settings.database_url)
    assert store.monitors.add("my-app", "#alerts", 5, T0) == 1
    assert not store.db.is_sqlite


def test_processes_starting_together_on_a_new_postgres_database_all_come_up(postgres_url: str):
    import subprocess
    import sys

    code = (
        "from heroku_monitor.store.database import Database; "
        f"Database({postgres_url!r}).secret('x')"
    )
    started = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in started]
    assert [p.returncode for p in started] == [0, 0, 0, 0], errors


def test_old_delivered_alerts_are_pruned_but_pending_ones_never(database_url: str):
    store = Storage(database_url)
    mid = queue_crash(store)
    maintenance = snap(dynos=CRASHED.dynos, maintenance=True, minutes=10)  # a second alert
    store.success(mid, maintenance, T0)
    first = store.outbox.claim_next(T0)
    assert first is not None
    store.outbox.mark_sent(first, Receipt("1.2", "C0ALERTS"), T0)
    assert store.outbox.prune(T0 + timedelta(days=91)) == 1
    assert [a.status for a in store.outbox.recent()] == [PENDING]
    assert store.outbox.prune(T0 + timedelta(days=400)) == 0


class Channel:
    """A Slack channel the bot is not in, until someone invites it."""

    def __init__(self) -> None:
        self.invited = False
        self.posted: list[str] = []

    def update(self, channel_id: str, ts: str, text: str, blocks: list) -> Receipt:
        if not self.invited:
            raise DeliveryError("not_in_channel", permanent=True)
        return Receipt(ts, channel_id)

    def post(self, channel: str, text: str, blocks: list, **thread: Any) -> Receipt:
        if not self.invited:
            raise DeliveryError("not_in_channel", permanent=True)
        self.posted.append(text)
        return Receipt(f"1.{len(self.posted)}", "C0ALERTS")


def test_a_channel_that_works_again_gets_its_undelivered_alerts(sqlite_url: str):
    store = Storage(sqlite_url)
    mid = queue_crash(store)
    channel = Channel()
    delivery = Delivery(store.outbox, store.monitors, channel, lambda: T0)
    assert delivery.run() == 0
    view = store.monitors.get(mid)
    assert (
        view
        and view.delivery_error
        == "#alerts: not_in_channel: invite the bot to the channel (/invite @Heroku Monitor)"
    )
    channel.invited = True  # someone invited the bot; the next alert goes, and so does the crash
    maintenance = snap(dynos=CRASHED.dynos, maintenance=True, minutes=10)
    store.success(mid, maintenance, T0)
    assert delivery.run() == 2  # the new alert, then the one that failed before
    assert ["Maintenance" in channel.posted[0], "Dyno Crash" in channel.posted[1]] == [True, True]
    view = store.monitors.get(mid)
    assert view and view.delivery_error is None


def test_a_message_slack_refused_for_its_content_is_never_queued_again(sqlite_url: str):
    store = Storage(sqlite_url)
    queue_crash(store)
    item = store.outbox.claim_next(T0)
    assert item is not None
    store.outbox.mark_failed(item, "invalid_blocks", fixable=False)
    assert store.outbox.requeue_failed(T0) == 0 and store.outbox.claim_next(T0) is None


def test_a_monitor_switched_to_another_app_starts_from_a_baseline_without_old_failures(
    sqlite_url: str,
):
    store = Storage(sqlite_url)
    mid = make_monitor(store)
    store.success(mid, snap(), T0)
    store.failure(mid, "my-app", "500 unavailable", T0)
    store.failure(mid, "my-app", "500 unavailable", T0)
    store.monitors.update(mid, app_name="other-app", channel="#alerts", interval=5, now=T0)
    assert store.failure(mid, "other-app", "500 unavailable", T0) == []
    view = store.monitors.get(mid)
    assert view is not None and view.failures == 1 and view.snapshot is None


def test_the_models_and_the_migrations_describe_the_same_schema(database_url: str):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from heroku_monitor.store.models import Base

    store = Storage(database_url)  # migrated to the newest revision
    with store.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_a_database_made_before_migrations_is_adopted_not_recreated(empty_sqlite_url: str):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect, text

    from heroku_monitor.store.migrate import MIGRATIONS

    engine = create_engine(empty_sqlite_url)
    with engine.begin() as conn:  # the first version's tables, without Alembic's table
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("INSERT INTO key_values (key, value) VALUES ('seeded', 'then')"))
    engine.dispose()
    store = Storage(empty_sqlite_url)
    assert make_monitor(store) == 1
    assert "alembic_version" in inspect(store.db.engine).get_table_names()
    assert not store.monitors.seed("my-app", "#alerts", 5, T0)  # its data was kept


def test_a_database_newer_than_this_code_is_one_clear_sentence(sqlite_url: str):
    import pytest
    from sqlalchemy import text

    from heroku_monitor.settings import SettingsError
    from heroku_monitor.store.database import open_database

    store = Storage(sqlite_url)
    with store.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    store.db.close()
    with pytest.raises(SettingsError, match="newer than this version knows"):
        open_database(sqlite_url)


def test_tables_no_migration_knows_are_refused_not_guessed_at(empty_sqlite_url: str):
    import pytest
    from sqlalchemy import create_engine, text

    from heroku_monitor.settings import SettingsError
    from heroku_monitor.store.database import open_database

    engine = create_engine(empty_sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE monitors (id INTEGER PRIMARY KEY, app_name TEXT)"))
    engine.dispose()
    with pytest.raises(SettingsError, match="development version"):
        open_database(empty_sqlite_url)


def test_an_upgrade_to_small_log_tables_keeps_the_counts_and_drops_the_old_batch_ids(
    empty_sqlite_url: str, request: Any
) -> None:
    """Migration 0020 on a database that holds rows (SQLite, and PostgreSQL when there is
    one): the counters and response times stay, the batch ids of the old shape go (they
    are kept an hour only), and batches are taken and deduplicated at once."""
    import pytest

    _upgrade_with_rows(empty_sqlite_url)
    try:
        postgres_url = request.getfixturevalue("postgres_url")
    except pytest.skip.Exception:
        return  # no PostgreSQL here: SQLite's upgrade was tried
    _upgrade_with_rows(postgres_url)


def _upgrade_with_rows(url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, insert, inspect, text

    from heroku_monitor.store.database import Database
    from heroku_monitor.store.log_counts import Flushed, LogCounts
    from heroku_monitor.store.migrate import MIGRATIONS
    from heroku_monitor.store.models import LogCount, log_latency

    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    minute = T0.replace(second=0, microsecond=0)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0019")
        conn.execute(
            text("INSERT INTO log_batches (key, seen_at) VALUES ('AAAAAAAAAAAAAAAAAAAAAA', :at)"),
            {"at": T0},
        )  # a key of the old shape
        conn.execute(
            insert(LogCount).values(app_name="my-app", minute=minute, metric="requests", n=7)
        )
        conn.execute(insert(log_latency).values(app_name="my-app", minute=minute, b3=2))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        assert conn.execute(text("SELECT count(*) FROM log_batches")).scalar_one() == 0
        assert conn.execute(text("SELECT n FROM log_counts")).scalar_one() == 7
        assert conn.execute(text("SELECT b3 FROM log_latency")).scalar_one() == 2
    for table in ("log_counts", "log_latency", "log_batches"):
        assert inspect(engine).get_indexes(table) == [], (url, table)
    key = inspect(engine).get_pk_constraint("log_counts")["constrained_columns"]
    assert key == ["minute", "app_name", "metric"]
    if engine.dialect.name == "postgresql":  # vacuumed once 2% of their rows are dead
        with engine.connect() as conn:
            options = conn.execute(
                text(
                    "SELECT relname, reloptions FROM pg_class WHERE relname IN "
                    "('log_counts', 'log_latency', 'log_batches')"
                )
            ).all()
        assert {name: tuple(o) for name, o in options} == {
            table: ("autovacuum_vacuum_scale_factor=0.02",)
            for table in ("log_counts", "log_latency", "log_batches")
        }
    engine.dispose()
    first, second = LogCounts(Database(url)), LogCounts(Database(url))
    assert first.take("my-app", "frame-1", [(minute, "requests", 1)], 1, T0)
    assert second.take("my-app", "frame-1", [(minute, "requests", 1)], 1, T0)
    assert first.flush() == Flushed(1, 0, frozenset({"my-app"}))
    assert second.flush() == Flushed(0, 1, frozenset())
    assert sorted(first.since("my-app", minute)) == [
        (minute, "latency:3", 2),
        (minute, "requests", 8),
    ]
