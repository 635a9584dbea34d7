"""Log counters in the database: what several processes take adds up, and a batch sent
again is counted once (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, select

from heroku_monitor.core.logs.count import CodeCount, Counts, MinuteCounts
from heroku_monitor.store.database import Database
from heroku_monitor.store.log_counts import LogCounts, as_minutes, as_rows
from heroku_monitor.store.models import LogBatch
from tests.support.builders import T0


def test_halves_of_a_storm_taken_by_two_processes_add_up(database_url: str):
    first, second = LogCounts(Database(database_url)), LogCounts(Database(database_url))
    minute = T0.replace(second=0)
    assert first.take(
        "my-app", "frame-1", [(minute, "code:H12", 6), (minute, "requests", 6)], 6, T0
    )
    assert second.take("my-app", "frame-2", [(minute, "code:H12", 4)], 4, T0)
    assert sorted(first.since("my-app", minute)) == [
        (minute, "code:H12", 10),
        (minute, "requests", 6),
    ]


def test_a_batch_sent_again_is_counted_once(database_url: str):
    counts = LogCounts(Database(database_url))
    rows = [(T0.replace(second=0), "code:H12", 3)]
    assert counts.take("my-app", "frame-1", rows, 3, T0)
    assert not counts.take("my-app", "frame-1", rows, 3, T0)
    assert counts.since("my-app", T0 - timedelta(minutes=5)) == [
        (T0.replace(second=0), "code:H12", 3)
    ]


def test_an_hour_of_batch_ids_at_two_batches_a_second_for_50_apps_is_small_rows(
    database_url: str,
):
    """SPEC §16: 360,000 ids an hour stay well under 100 MB: a 22-character digest and a
    time a row, no index but the key; the same batch is still found again by any process."""
    db = Database(database_url)
    frame = "09C557EAFCFB6CF2740EE62F62971098"  # a Logplex-Frame-Id
    assert LogCounts(db).take("a-rather-long-app-name-of-30ch", frame, [], 3, T0)
    assert not LogCounts(Database(database_url)).take(
        "a-rather-long-app-name-of-30ch", frame, [], 3, T0
    )
    assert LogCounts(db).take("another-app", frame, [], 3, T0)  # another app's frame
    with db.reading() as s:
        keys = s.execute(select(LogBatch.key)).scalars().all()
    assert sorted(len(k) for k in keys) == [22, 22]
    assert [c.name for c in LogBatch.__table__.columns] == ["key", "seen_at"]
    assert inspect(db.engine).get_indexes("log_batches") == []


def test_the_drain_state_says_when_it_last_sent_and_how_much(sqlite_url: str):
    counts = LogCounts(Database(sqlite_url))
    assert counts.drain_state("my-app", T0) == (None, 0)
    counts.take("my-app", "frame-1", [], 40, T0 - timedelta(seconds=30))
    counts.take("my-app", "frame-2", [], 60, T0 - timedelta(minutes=3))
    last, lines = counts.drain_state("my-app", T0)
    assert last == T0 - timedelta(seconds=30) and lines == 40


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
