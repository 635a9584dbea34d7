"""Log counters in the database: what several processes take adds up, and a batch sent
again is counted once (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from heroku_monitor.core.logs.count import CodeCount, Counts, MinuteCounts
from heroku_monitor.store.database import Database
from heroku_monitor.store.log_counts import LogCounts, as_minutes, as_rows
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
