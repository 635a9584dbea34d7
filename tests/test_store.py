"""The store keeps each event once, across checks, restarts and processes sharing a database."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from heroku_monitor import detect
from heroku_monitor.detect import diff
from heroku_monitor.snapshot import AppSnapshot
from heroku_monitor.store import FAILED, PENDING, EventsFor, Store
from tests.builders import T0, dyno, snap

CRASHED = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1")), minutes=5)


def diff_only(current: AppSnapshot) -> EventsFor:
    """What the engine computes inside the store's transaction for a successful check."""

    def events_for(
        previous: AppSnapshot | None, failures: int
    ) -> tuple[list[detect.Event], AppSnapshot]:
        found, kept = detect.observe(previous, current)
        return found + detect.check_succeeded(current.app, failures, current.taken_at), kept

    return events_for


def make_monitor(store: Store) -> int:
    return store.add_monitor("my-app", "#alerts", 5, T0)


def queue_crash(store: Store) -> int:
    """A monitor with a baseline, then a crash whose alert waits in the outbox."""
    mid = make_monitor(store)
    store.record_success(mid, snap(), diff_only(snap()), T0)
    store.record_success(mid, CRASHED, diff_only(CRASHED), T0)
    return mid


def test_baseline_then_crash_queues_one_alert(database_url: str):
    store = Store(database_url)
    mid = make_monitor(store)
    assert store.record_success(mid, snap(), diff_only(snap()), T0) == []
    events = store.record_success(mid, CRASHED, diff_only(CRASHED), T0)
    assert [e.kind for e in events] == [detect.DYNO_CRASHED]
    assert store.count_alerts(PENDING) == 1


def test_same_event_from_a_second_process_on_one_database_is_not_queued_twice(database_url: str):
    first, second = Store(database_url), Store(database_url)
    mid = make_monitor(first)
    first.record_success(mid, snap(), diff_only(snap()), T0)
    # Both processes computed the crash against the same baseline (a race already lost).
    events = diff(snap(), CRASHED)
    with first.session() as s:
        assert first._enqueue(s, mid, events, T0) == events
    with second.session() as s:
        assert second._enqueue(s, mid, events, T0) == []
    assert second.count_alerts() == 1


def test_restart_neither_repeats_nor_misses_an_event(sqlite_url: str):
    store = Store(sqlite_url)
    mid = queue_crash(store)
    store.close()
    restarted = Store(sqlite_url)
    again = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1")), minutes=10)
    assert restarted.record_success(mid, again, diff_only(again), T0) == []
    down = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1", "down")), minutes=15)
    assert [e.kind for e in restarted.record_success(mid, down, diff_only(down), T0)] == [
        detect.DYNOS_DOWN
    ]


def test_concurrent_checks_of_one_monitor_alert_once(database_url: str):
    stores = [Store(database_url) for _ in range(4)]
    mid = make_monitor(stores[0])
    stores[0].record_success(mid, snap(), diff_only(snap()), T0)
    results: list[list[detect.Event]] = []
    barrier = threading.Barrier(len(stores))

    def check(store: Store) -> None:
        barrier.wait()
        results.append(store.record_success(mid, CRASHED, diff_only(CRASHED), T0))

    threads = [threading.Thread(target=check, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert stores[0].count_alerts() == 1


def test_outbox_item_is_claimed_by_one_process_only(database_url: str):
    first, second = Store(database_url), Store(database_url)
    mid = make_monitor(first)
    first.record_success(mid, snap(), diff_only(snap()), T0)
    first.record_success(mid, CRASHED, diff_only(CRASHED), T0)
    now = T0 + timedelta(seconds=1)
    claimed = first.claim_next(now)
    assert claimed is not None
    assert second.claim_next(now) is None
    # A claim that is never settled (the process died) expires and can be taken again.
    again = second.claim_next(now + timedelta(seconds=121))
    assert again is not None and again.id == claimed.id
    # The lapsed claim can no longer settle the row: only the new holder can.
    first.mark_sent(claimed, "1.1", now)
    assert first.count_alerts(PENDING) == 1
    second.mark_sent(again, "1.2", now)
    assert first.count_alerts(PENDING) == 0


def test_trouble_is_queued_once_after_three_failures_and_recovery_once(database_url: str):
    store = Store(database_url)
    mid = make_monitor(store)
    store.record_success(mid, snap(), diff_only(snap()), T0)
    raised = [
        store.record_failure(mid, "my-app", "500 unavailable: boom", at(i)) for i in range(1, 6)
    ]
    assert [len(r) for r in raised] == [0, 0, 1, 0, 0]
    recovered = store.record_success(mid, snap(minutes=6), diff_only(snap(minutes=6)), at(6))
    assert [e.kind for e in recovered] == [detect.MONITORING_RECOVERED]
    # A second run of trouble is a new one and alerts again.
    again = [store.record_failure(mid, "my-app", "500 unavailable", at(i)) for i in range(7, 10)]
    assert [len(r) for r in again] == [0, 0, 1]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_trouble_alerts_again_after_the_monitor_went_to_another_app_and_back(sqlite_url: str):
    store = Store(sqlite_url)
    mid = make_monitor(store)
    first = [store.record_failure(mid, "my-app", "500", at(i)) for i in range(1, 4)]
    store.update_monitor(mid, app_name="typo-app", channel="#alerts", interval=5, now=at(4))
    store.update_monitor(mid, app_name="my-app", channel="#alerts", interval=5, now=at(5))
    second = [store.record_failure(mid, "my-app", "500", at(i)) for i in range(6, 9)]
    assert [len(r) for r in first] == [0, 0, 1] and [len(r) for r in second] == [0, 0, 1]


def test_trouble_alerts_for_a_monitor_removed_and_added_again(sqlite_url: str):
    store = Store(sqlite_url)
    mid = make_monitor(store)
    first = [store.record_failure(mid, "my-app", "500", at(i)) for i in range(1, 4)]
    store.delete_monitor(mid)
    again = make_monitor(store)  # SQLite may give it the same id
    second = [store.record_failure(again, "my-app", "500", at(i)) for i in range(6, 9)]
    assert [len(r) for r in first] == [0, 0, 1] and [len(r) for r in second] == [0, 0, 1]


def test_environment_seeds_the_first_monitor_only_once(sqlite_url: str):
    store = Store(sqlite_url)
    assert store.seed("my-app", "#alerts", 5, T0)
    for m in store.monitors():
        store.delete_monitor(m.id)
    assert not Store(sqlite_url).seed("my-app", "#alerts", 5, T0)
    assert store.monitors() == []


def test_permanent_failure_is_kept_and_queued_again_when_the_channel_changes(sqlite_url: str):
    store = Store(sqlite_url)
    mid = queue_crash(store)
    item = store.claim_next(T0)
    assert item is not None
    store.mark_failed(item, "channel_not_found")
    assert store.count_alerts(FAILED) == 1
    view = store.monitor(mid)
    assert view and view.delivery_error == "#alerts: channel_not_found"
    store.update_monitor(mid, app_name="my-app", channel="#ops", interval=5, now=T0)
    again = store.claim_next(T0)
    assert again is not None and again.channel == "#ops"


def test_stale_snapshot_never_replaces_a_newer_one(sqlite_url: str):
    store = Store(sqlite_url)
    mid = make_monitor(store)
    store.record_success(mid, CRASHED, diff_only(CRASHED), T0)
    older = snap(minutes=1)
    assert store.record_success(mid, older, diff_only(older), T0) == []
    view = store.monitor(mid)
    assert view and view.snapshot and view.snapshot.taken_at == CRASHED.taken_at


def test_heroku_postgres_url_works_as_given(postgres_url: str):
    from heroku_monitor.settings import from_env

    given = postgres_url.replace("postgresql+psycopg://", "postgres://")
    settings = from_env({"HEROKU_API_KEY": "k", "SLACK_BOT_TOKEN": "x", "DATABASE_URL": given})
    store = Store(settings.database_url)
    assert store.add_monitor("my-app", "#alerts", 5, T0) == 1
    assert not store.is_sqlite


def test_processes_starting_together_on_a_new_postgres_database_all_come_up(postgres_url: str):
    import subprocess
    import sys

    code = f"from heroku_monitor.store import Store; Store({postgres_url!r}).secret('x')"
    started = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in started]
    assert [p.returncode for p in started] == [0, 0, 0, 0], errors


def test_old_delivered_alerts_are_pruned_but_pending_ones_never(database_url: str):
    store = Store(database_url)
    mid = queue_crash(store)
    down = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1", "down")), minutes=10)
    store.record_success(mid, down, diff_only(down), T0)
    first = store.claim_next(T0)
    assert first is not None
    store.mark_sent(first, "1.2", T0)
    assert store.prune(T0 + timedelta(days=91)) == 1
    assert [a.status for a in store.alerts()] == [PENDING]
    assert store.prune(T0 + timedelta(days=400)) == 0


def test_a_channel_that_works_again_gets_its_undelivered_alerts(sqlite_url: str):
    store = Store(sqlite_url)
    mid = queue_crash(store)
    failed = store.claim_next(T0)
    assert failed is not None
    store.mark_failed(failed, "not_in_channel: invite the bot")
    down = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1", "down")), minutes=10)
    store.record_success(mid, down, diff_only(down), T0)
    works = store.claim_next(T0)
    assert works is not None and works.id != failed.id
    store.mark_sent(works, "1.1", T0)  # someone invited the bot
    again = store.claim_next(T0)
    assert again is not None and again.id == failed.id


def test_a_message_slack_refused_for_its_content_is_never_queued_again(sqlite_url: str):
    store = Store(sqlite_url)
    queue_crash(store)
    item = store.claim_next(T0)
    assert item is not None
    store.mark_failed(item, "invalid_blocks")
    assert store.requeue_failed(T0) == 0 and store.claim_next(T0) is None


def test_a_monitor_switched_to_another_app_starts_from_a_baseline_without_old_failures(
    sqlite_url: str,
):
    store = Store(sqlite_url)
    mid = make_monitor(store)
    store.record_success(mid, snap(), diff_only(snap()), T0)
    store.record_failure(mid, "my-app", "500 unavailable", T0)
    store.record_failure(mid, "my-app", "500 unavailable", T0)
    store.update_monitor(mid, app_name="other-app", channel="#alerts", interval=5, now=T0)
    assert store.record_failure(mid, "other-app", "500 unavailable", T0) == []
    view = store.monitor(mid)
    assert view is not None and view.failures == 1 and view.snapshot is None


def test_the_models_and_the_migrations_describe_the_same_schema(database_url: str):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from heroku_monitor.store import Base

    store = Store(database_url)  # migrated to the newest revision
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_a_database_made_before_migrations_is_adopted_not_recreated(sqlite_url: str):
    from sqlalchemy import create_engine, inspect

    from heroku_monitor.store import Base

    engine = create_engine(sqlite_url)
    Base.metadata.create_all(engine)  # what the first version did
    engine.dispose()
    store = Store(sqlite_url)
    assert make_monitor(store) == 1
    assert "alembic_version" in inspect(store.engine).get_table_names()


def test_a_database_newer_than_this_code_is_one_clear_sentence(sqlite_url: str):
    import pytest
    from sqlalchemy import text

    from heroku_monitor.runtime import open_store
    from heroku_monitor.settings import SettingsError

    store = Store(sqlite_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    store.close()
    with pytest.raises(SettingsError, match="newer than this version knows"):
        open_store(sqlite_url)


def test_tables_no_migration_knows_are_refused_not_guessed_at(sqlite_url: str):
    import pytest
    from sqlalchemy import create_engine, text

    from heroku_monitor.runtime import open_store
    from heroku_monitor.settings import SettingsError

    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE monitors (id INTEGER PRIMARY KEY, app_name TEXT)"))
    engine.dispose()
    with pytest.raises(SettingsError, match="development version"):
        open_store(sqlite_url)
