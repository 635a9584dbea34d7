"""The drains' metrics samples in the database (SPEC §15): what several processes take
combines by max(), a batch sent again changes nothing, memory is bounded, and rows go
after 2 days (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from heroku_monitor.core.logs.metrics import CONNECTIONS, MEMORY, Sample
from heroku_monitor.store.database import Database
from heroku_monitor.store.models import LogSample
from heroku_monitor.store.retention import Retention
from heroku_monitor.store.samples import Samples
from tests.support.builders import T0

MINUTE = T0.replace(second=0, microsecond=0)


def test_samples_taken_by_two_processes_keep_the_highest(database_url: str):
    first, second = Samples(Database(database_url)), Samples(Database(database_url))
    first.take("my-app", [Sample(MINUTE, MEMORY, "web.1", 400.5)], T0)
    second.take("my-app", [Sample(MINUTE, MEMORY, "web.1", 471.25)], T0)
    assert first.flush() and second.flush()
    first.take("my-app", [Sample(MINUTE, MEMORY, "web.1", 420)], T0)  # lower: no change
    assert first.flush()
    assert first.since("my-app", MINUTE) == [Sample(MINUTE, MEMORY, "web.1", 471.25)]


def test_a_batch_of_samples_sent_again_changes_nothing(database_url: str):
    samples = Samples(Database(database_url))
    taken = [Sample(MINUTE, CONNECTIONS, "postgresql-a", 97), Sample(MINUTE, MEMORY, "web.1", 300)]
    for _ in range(2):
        samples.take("my-app", taken, T0)
        samples.flush()
    assert sorted(samples.since("my-app", MINUTE), key=lambda s: s.kind) == sorted(
        taken, key=lambda s: s.kind
    )
    assert samples.since("my-app", MINUTE, MEMORY) == [taken[1]]


def test_pending_samples_are_bounded_and_one_row_per_key(sqlite_url: str):
    samples = Samples(Database(sqlite_url), cap=2)
    for value in (1, 5, 3):
        samples.take("my-app", [Sample(MINUTE, MEMORY, "web.1", value)], T0)
    samples.take("my-app", [Sample(MINUTE, MEMORY, f"web.{n}", 1) for n in range(2, 6)], T0)
    assert samples.pending == 2 and samples.dropped == 3
    samples.flush()
    assert Sample(MINUTE, MEMORY, "web.1", 5) in samples.since("my-app", MINUTE)


def test_samples_stamped_far_from_now_are_not_kept(sqlite_url: str):
    samples = Samples(Database(sqlite_url))
    far = [Sample(MINUTE - timedelta(hours=2), MEMORY, "web.1", 1)]
    assert samples.take("my-app", far, T0) == 0


def test_samples_are_pruned_after_two_days(sqlite_url: str):
    db = Database(sqlite_url)
    samples = Samples(db)
    samples.take("my-app", [Sample(MINUTE, MEMORY, "web.1", 1)], T0)
    samples.flush()
    Retention(db).prune(T0 + timedelta(days=1))
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(LogSample)) == 1
    Retention(db).prune(T0 + timedelta(days=2, minutes=1))
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(LogSample)) == 0
