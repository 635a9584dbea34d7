"""Log counters in the database: what several processes take adds up, and a batch sent
again is counted once (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, inspect, select, text

from heroku_monitor.core.logs.count import CodeCount, Counts, MinuteCounts
from heroku_monitor.core.logs.latency import of
from heroku_monitor.store.database import Database
from heroku_monitor.store.log_counts import (
    Flushed,
    LogCounts,
    as_minutes,
    as_rows,
    batch_key,
)
from heroku_monitor.store.models import LogBatch, LogLatency
from tests.support.builders import T0


def test_halves_of_a_storm_taken_by_two_processes_add_up(database_url: str):
    first, second = LogCounts(Database(database_url)), LogCounts(Database(database_url))
    minute = T0.replace(second=0)
    assert first.take(
        "my-app", "frame-1", [(minute, "code:H12", 6), (minute, "requests", 6)], 6, T0
    )
    assert second.take("my-app", "frame-2", [(minute, "code:H12", 4)], 4, T0)
    first.flush(), second.flush()
    assert sorted(first.since("my-app", minute)) == [
        (minute, "code:H12", 10),
        (minute, "requests", 6),
    ]


def test_a_batch_sent_again_is_counted_once(database_url: str):
    counts = LogCounts(Database(database_url))
    rows = [(T0.replace(second=0), "code:H12", 3)]
    assert counts.take("my-app", "frame-1", rows, 3, T0)
    assert not counts.take("my-app", "frame-1", rows, 3, T0)  # pending
    counts.flush()
    assert not counts.take("my-app", "frame-1", rows, 3, T0)  # flushed lately
    assert counts.since("my-app", T0 - timedelta(minutes=5)) == [
        (T0.replace(second=0), "code:H12", 3)
    ]


def test_a_batch_sent_again_to_another_process_is_dropped_at_its_flush(database_url: str):
    first, second = LogCounts(Database(database_url)), LogCounts(Database(database_url))
    rows = [(T0.replace(second=0), "code:H12", 3)]
    assert first.take("my-app", "frame-1", rows, 3, T0)
    assert second.take("my-app", "frame-1", rows, 3, T0)  # it cannot know yet
    assert first.flush() == Flushed(1, 0, frozenset({"my-app"}))
    assert second.flush() == Flushed(0, 1, frozenset())
    assert first.since("my-app", T0 - timedelta(minutes=5)) == [
        (T0.replace(second=0), "code:H12", 3)
    ]


def test_an_hour_of_batch_ids_at_two_batches_a_second_for_50_apps_is_small_rows(
    database_url: str,
):
    """SPEC §16: 360,000 ids an hour stay well under 100 MB: an 8-byte digest (a BIGINT)
    and a time a row, no index but the key; the same batch is still found again by any
    process, another app's batch of the same frame id is another."""
    db = Database(database_url)
    frame = "09C557EAFCFB6CF2740EE62F62971098"  # a Logplex-Frame-Id
    first = LogCounts(db)
    assert first.take("a-rather-long-app-name-of-30ch", frame, [], 3, T0)
    assert first.flush() == Flushed(1, 0, frozenset({"a-rather-long-app-name-of-30ch"}))
    other = LogCounts(Database(database_url))
    assert other.take("a-rather-long-app-name-of-30ch", frame, [], 3, T0)
    assert other.flush() == Flushed(0, 1, frozenset())
    assert first.take("another-app", frame, [], 3, T0)  # another app's frame
    first.flush()
    with db.reading() as s:
        keys = s.execute(select(LogBatch.key)).scalars().all()
    assert len(set(keys)) == 2 and all(isinstance(k, int) and -(2**63) <= k < 2**63 for k in keys)
    assert sorted(keys) == sorted(
        {batch_key("a-rather-long-app-name-of-30ch", frame), batch_key("another-app", frame)}
    )
    assert [c.name for c in LogBatch.__table__.columns] == ["key", "seen_at"]
    assert inspect(db.engine).get_indexes("log_batches") == []


def test_a_batch_id_row_is_small(postgres_url: str):
    """SPEC §16 at 50 apps posting twice a second: ~420,000 batch ids are kept at once (an
    hour, and ten minutes until the next prune), so each byte a row is ~0.4 MB. A row, its
    key's index included, takes under 85 bytes on PostgreSQL (a 22-character key took ~115)."""
    db = Database(postgres_url)
    counts = LogCounts(db)
    n = 5000
    for i in range(n):  # a real Logplex-Frame-Id is 32 hex digits
        assert counts.take(f"app-{i % 50:02d}", f"{i:032X}", [], 1, T0)
    assert counts.flush() == Flushed(n, 0, frozenset(f"app-{i:02d}" for i in range(50)))
    with db.engine.connect() as conn:
        size = conn.execute(text("SELECT pg_total_relation_size('log_batches')")).scalar_one()
        rows = conn.execute(text("SELECT count(*) FROM log_batches")).scalar_one()
    assert rows == n
    assert size / rows < 85, f"{size / rows:.0f} bytes a batch id"


def test_the_log_tables_are_keyed_by_the_minute_first_with_no_other_index(database_url: str):
    """SPEC §16: counters and response times come in minute by minute, so keyed by the
    minute first their one index grows at its right end in full pages, and the prune
    (every ten minutes) empties whole pages at its left; it also serves the reads and the
    upserts. Keyed by app first, with a `minute` index for the prune, it took ~10 MB more
    at 50 apps (the soak's day 7)."""
    db = Database(database_url)
    for table in ("log_counts", "log_latency", "log_batches"):
        assert inspect(db.engine).get_indexes(table) == [], table
    keys = {
        table: inspect(db.engine).get_pk_constraint(table)["constrained_columns"]
        for table in ("log_counts", "log_latency")
    }
    assert keys == {
        "log_counts": ["minute", "app_name", "metric"],
        "log_latency": ["minute", "app_name"],
    }


def test_the_drain_state_says_when_it_last_sent_and_how_much(sqlite_url: str):
    counts = LogCounts(Database(sqlite_url))
    assert counts.drain_state("my-app", T0) == (None, 0)
    counts.take("my-app", "frame-1", [], 40, T0 - timedelta(seconds=30))
    counts.take("my-app", "frame-2", [], 60, T0 - timedelta(minutes=3))
    assert counts.drain_state("my-app", T0) == (T0 - timedelta(seconds=30), 40)  # pending
    counts.flush()
    assert counts.drain_state("my-app", T0) == (T0 - timedelta(seconds=30), 40)  # written


def test_minute_counts_survive_their_database_rows():
    minute = T0.replace(second=0, microsecond=0)
    counted = MinuteCounts(
        minute,
        requests=3,
        errors_5xx=2,
        codes={
            "5xx": CodeCount(1, (("/boom", 1),), (("web.2", 1),)),
            "H12": CodeCount(1, (("/slow", 1),), (("web.1", 1),)),
            "R14": CodeCount(1, (), (("web.1", 1),)),
        },
    )
    rows = as_rows(Counts({minute: counted}), T0)
    assert as_minutes(rows) == [counted]
    assert len(rows) == 10  # one row a counter: requests, 5xx, and each code's lines, paths, dynos


def test_response_time_buckets_of_two_processes_add_up_in_one_row_a_minute(database_url: str):
    """SPEC §15: a histogram row per app and minute, added to bucket by bucket."""
    db = Database(database_url)
    first, second = LogCounts(db), LogCounts(Database(database_url))
    minute = T0.replace(second=0, microsecond=0)
    first.take("my-app", "f-1", [(minute, "requests", 3)], 3, T0, times=[(minute, of([80, 4000]))])
    second.take("my-app", "f-2", [], 1, T0, times=[(minute, of([4000, 31_000]))])
    first.flush(), second.flush()
    (counted,) = as_minutes(first.since("my-app", minute))
    assert counted.latency == of([80, 4000, 4000, 31_000])
    with db.reading() as s:
        assert s.execute(select(func.count()).select_from(LogLatency)).scalar_one() == 1
