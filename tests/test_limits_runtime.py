"""SPEC §15 in a process (`runtime.limits`): a drain's samples are kept and, once written,
the app's log check is asked for; a log check's limit events follow each monitor's own
thresholds (switched off: none); what cannot be judged is said once, not guessed."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from heroku_monitor.core.logs.limits import DatabaseThresholds, MemoryThresholds, format_thresholds
from heroku_monitor.core.logs.memory import LOG_MEMORY_NEAR_QUOTA
from heroku_monitor.core.snapshot import AppSnapshot, Dyno
from heroku_monitor.runtime.limits import Limits, take_logplex
from heroku_monitor.store.database import Database
from heroku_monitor.store.limit_settings import LimitSettings
from heroku_monitor.store.monitors import Monitors, MonitorView
from heroku_monitor.store.samples import Samples
from heroku_sim import metrics as sim_metrics
from tests.support.builders import T0

NOW = T0.replace(second=30, microsecond=0)


def monitor(size: str = "Standard-1X") -> MonitorView:
    snapshot = AppSnapshot("my-app", NOW, dynos=(Dyno("web.1", "web", "up", size=size),))
    return MonitorView(1, "my-app", "#alerts", 5, False, snapshot=snapshot)


@pytest.fixture
def limits(sqlite_url: str) -> Limits:
    db = Database(sqlite_url)
    return Limits(Samples(db), LimitSettings(db))


def climb(limits: Limits, asked: list[int] | None = None) -> None:
    monitors = Monitors(limits.samples.db)
    monitors.add("my-app", "#alerts", 5, NOW)
    body = sim_metrics.logplex_body(sim_metrics.memory_climb("web.1", 512, NOW))
    take_logplex(limits, monitors, (asked if asked is not None else []).append, "my-app", body, NOW)
    limits.samples.flush()


def test_a_drains_samples_once_written_ask_for_the_apps_log_check(limits: Limits):
    asked: list[int] = []
    climb(limits, asked)
    assert asked == [Monitors(limits.samples.db).all()[0].id]
    assert [e.kind for e in limits.events(monitor(), NOW)] == [LOG_MEMORY_NEAR_QUOTA]


@pytest.mark.parametrize(
    ("memory", "alerted"),
    [
        (MemoryThresholds(on=False), False),
        (MemoryThresholds(percent=95), False),
        (MemoryThresholds(), True),
    ],
)
def test_the_log_check_follows_the_monitors_own_memory_thresholds(limits: Limits, memory, alerted):
    climb(limits)
    limits.settings.set(1, "near_quota", format_thresholds(memory))
    assert bool(limits.events(monitor(), NOW)) is alerted


def test_a_database_rule_switched_off_leaves_memory_on(limits: Limits):
    climb(limits)
    limits.settings.set(1, "database", format_thresholds(DatabaseThresholds(on=False)))
    assert [e.kind for e in limits.events(monitor(), NOW)] == [LOG_MEMORY_NEAR_QUOTA]


def test_an_unknown_dyno_size_is_said_once_and_not_alerted(limits: Limits, caplog):
    climb(limits)
    with caplog.at_level(logging.WARNING, logger="heroku_monitor.runtime.limits"):
        for n in range(3):
            assert limits.events(monitor("Mega-9X"), NOW + timedelta(seconds=n)) == []
    said = [r.getMessage() for r in caplog.records if "no memory quota is known" in r.getMessage()]
    assert said == [
        "my-app: no memory quota is known for web.1 (Mega-9X); memory before R14 is not watched "
        "for it (its runtime-metrics lines carry no memory_quota)"
    ]


def test_thresholds_stored_wrong_are_the_defaults_and_said_once(limits: Limits, caplog):
    climb(limits)
    limits.settings.set(1, "near_quota", "percent=5")
    with caplog.at_level(logging.WARNING, logger="heroku_monitor.runtime.limits"):
        limits.events(monitor(), NOW)
        assert [e.kind for e in limits.events(monitor(), NOW)] == [LOG_MEMORY_NEAR_QUOTA]
    assert sum("do not read" in r.getMessage() for r in caplog.records) == 1


def test_a_process_that_took_no_samples_of_the_app_reads_none(sqlite_url: str):
    db = Database(sqlite_url)
    took, other = Limits(Samples(db), LimitSettings(db)), Limits(Samples(db), LimitSettings(db))
    climb(took)
    asked: list[object] = []

    def since(*args: object) -> list:
        asked.append(args)
        return []

    other.samples.since = since  # type: ignore[method-assign,assignment]
    assert other.events(monitor(), NOW) == [] and asked == []
    assert [e.kind for e in took.events(monitor(), NOW)] == [LOG_MEMORY_NEAR_QUOTA]


def test_before_the_apps_first_check_nothing_is_said_unknown(limits: Limits, caplog):
    climb(limits)
    unchecked = MonitorView(1, "my-app", "#alerts", 5, False, snapshot=None)
    with caplog.at_level(logging.WARNING, logger="heroku_monitor.runtime.limits"):
        assert limits.events(unchecked, NOW) == []
    assert caplog.records == []
