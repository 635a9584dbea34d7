"""SPEC §15, the database: Heroku Postgres metrics lines as samples (connections, size per
add-on and minute), and the rule: connections or storage at 80 % or more of the plan's
limit (or of a limit set on the dashboard, which wins) opens an incident; a plan the table
does not know, without a limit set, is not guessed. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heroku_monitor.core import incidents
from heroku_monitor.core.logs import metrics
from heroku_monitor.core.logs.limits import (
    DatabaseThresholds,
    format_thresholds,
    from_form,
    parse_thresholds,
)
from heroku_monitor.core.logs.metrics import CONNECTIONS, DB_MAX_SIZE, DB_SIZE, Sample
from heroku_monitor.core.logs.postgres import (
    GB,
    LOG_DATABASE_LIMITS,
    databases,
    limits_near,
    plan_limits,
)
from heroku_monitor.core.snapshot import Addon, AppSnapshot
from heroku_monitor.render import limits as render_limits
from heroku_monitor.render import messages
from tests.support.logplex import body, frame

T0 = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
ADDON = "postgresql-curved-12345"


def pg_line(active: int = 7, size: int = 16012956319, addon: str = ADDON, extra: str = "") -> str:
    return (
        f"source=HEROKU_POSTGRESQL_SILVER addon={addon} sample#current_transaction=54017686 "
        f"sample#db_size={size}bytes sample#tables=97 sample#active-connections={active} "
        "sample#waiting-connections=0 sample#index-cache-hit-rate=0.9239 "
        "sample#table-cache-hit-rate=0.93609 sample#load-avg-1m=0.11 sample#load-avg-5m=0.1 "
        "sample#load-avg-15m=0.095 sample#read-iops=0 sample#write-iops=0.13333 "
        "sample#memory-total=15665184kB sample#memory-free=343472kB "
        "sample#memory-cached=13798764kB sample#memory-postgres=232240kB" + extra
    )


def addons(plan: str = "heroku-postgresql:standard-0") -> dict[str, Addon]:
    snapshot = AppSnapshot(
        "my-app",
        T0,
        addons=(
            Addon("a1", ADDON, "heroku-postgresql", plan, "provisioned"),
            Addon("a2", "papertrail-1", "papertrail", "papertrail:choklad", "provisioned"),
        ),
    )
    return databases(snapshot)


def db(connections: int | None = None, size: float | None = None, at: datetime = T0) -> list:
    found = []
    if connections is not None:
        found.append(Sample(at, CONNECTIONS, ADDON, connections))
    if size is not None:
        found.append(Sample(at, DB_SIZE, ADDON, size))
    return found


# ------------------------------------------------------------------------------ samples


def test_postgres_metrics_lines_give_each_database_its_connections_and_size():
    posted = body(
        frame(pg_line(7), T0, app="app", proc="heroku-postgres"),
        frame(
            pg_line(9, size=17 * GB), T0 + timedelta(seconds=30), app="app", proc="heroku-postgres"
        ),
    )
    assert metrics.from_logplex(posted) == [
        Sample(T0, CONNECTIONS, ADDON, 9),
        Sample(T0, DB_SIZE, ADDON, 17 * GB),
    ]


def test_a_line_that_carries_db_max_size_gives_it_too():
    line = pg_line(extra=" sample#db-max-size=68719476736bytes")
    posted = body(frame(line, T0, app="app", proc="heroku-postgres"))
    assert Sample(T0, DB_MAX_SIZE, ADDON, 64 * GB) in metrics.from_logplex(posted)


@pytest.mark.parametrize(
    ("app", "proc"), [("app", "web.1"), ("heroku", "router"), ("app", "postgres")]
)
def test_a_line_that_is_not_heroku_postgres_metrics_is_no_sample(app, proc):
    posted = body(frame(pg_line(), T0, app=app, proc=proc))
    assert [s for s in metrics.from_logplex(posted) if s.kind == CONNECTIONS] == []


# ------------------------------------------------------------------------------ plans


@pytest.mark.parametrize(
    ("plan", "connections", "storage_gb"),
    [
        ("heroku-postgresql:essential-0", 20, 1),
        ("heroku-postgresql:essential-1", 20, 10),
        ("heroku-postgresql:essential-2", 40, 32),
        ("heroku-postgresql:standard-0", 120, 64),
        ("standard-2", 400, 256),
        ("heroku-postgresql:premium-4", 500, 768),
        ("heroku-postgresql:private-9", 500, 4096),
        ("Heroku-PostgreSQL:Shield-0", 120, 64),
        ("heroku-postgresql:mini", 20, 1),
    ],
)
def test_the_limits_of_each_documented_plan(plan, connections, storage_gb):
    limits = plan_limits(plan)
    assert limits is not None
    assert (limits.connections, limits.storage) == (connections, storage_gb * GB)


@pytest.mark.parametrize("plan", ["heroku-postgresql:premium-l-9", "standard-99", "", "dev"])
def test_a_plan_heroku_does_not_document_is_not_guessed(plan):
    assert plan_limits(plan) is None


# ------------------------------------------------------------------------------ the rule


@pytest.mark.parametrize(
    ("samples", "thresholds", "which"),
    [
        (db(96), DatabaseThresholds(), ("connections",)),  # 96 of 120 is 80 %
        (db(95), DatabaseThresholds(), ()),
        (db(size=52 * GB), DatabaseThresholds(), ("storage",)),  # 52 of 64 GB is 81 %
        (db(size=51 * GB), DatabaseThresholds(), ()),
        (db(100, 60 * GB), DatabaseThresholds(), ("connections", "storage")),
        (db(60), DatabaseThresholds(connections=50), ("connections",)),
        (db(40), DatabaseThresholds(max_connections=50), ("connections",)),  # the set limit wins
        (db(size=9 * GB), DatabaseThresholds(max_storage_gb=10), ("storage",)),
        (db(119, 63 * GB), DatabaseThresholds(on=False), ()),
    ],
)
def test_a_database_at_the_threshold_of_its_limits_is_near_them(samples, thresholds, which):
    found = limits_near("my-app", samples, addons(), T0, thresholds)
    assert tuple(w for a in found.alerts for w in a.which) == which


def test_a_size_the_line_gives_as_db_max_size_wins_over_the_plans():
    samples = [*db(size=9 * GB), Sample(T0, DB_MAX_SIZE, ADDON, 10 * GB)]
    (alert,) = limits_near("my-app", samples, addons(), T0).alerts
    assert alert.max_size == 10 * GB


def test_an_unknown_plan_without_a_set_limit_is_named_and_not_alerted():
    found = limits_near("my-app", db(500, 900 * GB), addons("heroku-postgresql:premium-l-9"), T0)
    assert found.alerts == ()
    assert found.unknown == (f"{ADDON} (premium-l-9)",)
    limited = DatabaseThresholds(max_connections=500, max_storage_gb=1000)
    found = limits_near(
        "my-app", db(500, 900 * GB), addons("heroku-postgresql:premium-l-9"), T0, limited
    )
    assert found.alerts[0].which == ("connections", "storage") and found.unknown == ()


def test_a_line_naming_only_its_attachment_is_the_apps_one_database():
    samples = [Sample(T0, CONNECTIONS, "DATABASE", 110)]
    (alert,) = limits_near("my-app", samples, addons(), T0).alerts
    assert alert.plan == "heroku-postgresql:standard-0"


def test_samples_that_stopped_coming_alert_nothing():
    assert not limits_near("my-app", db(119), addons(), T0 + 10 * MIN).alerts


def test_the_alert_says_which_limit_and_how_near():
    (alert,) = limits_near("my-app", db(97, int(52.3 * GB)), addons(), T0).alerts
    assert alert.summary.splitlines() == [
        "Connections: 97 of 120 (80 %)",
        "Storage: 52.3 of 64 GB (81 %)",
        f"Database: {ADDON} (standard-0)",
    ]
    event = alert.event()
    assert event.kind == LOG_DATABASE_LIMITS
    assert render_limits.header(event.kind, [event]) == ("🐘", "Database Near Its Limits")


def test_the_message_is_database_near_its_limits():
    (alert,) = limits_near("my-app", db(97), addons(), T0).alerts
    (message,) = messages.build([alert.event()], T0)
    assert message.text.startswith(
        "🐘 *Database Near Its Limits* 🐘\nApp: my-app\nConnections: 97 of 120 (80 %)\n"
    )


def test_a_run_that_goes_on_keeps_its_key_and_says_it_again_every_five_minutes():
    samples = [s for m in range(0, 20, 2) for s in db(110, at=T0 + m * MIN)]
    keys = [limits_near("my-app", samples, addons(), T0 + m * MIN).alerts[0].key for m in range(19)]
    assert len(set(keys[:4])) == 1  # the first 5 minutes
    assert len(set(keys)) == 4 and all(":2026-12-08T02:00:" in k for k in keys)


def test_a_database_near_its_limits_is_an_incident_that_resolves_after_quiet_minutes():
    (alert,) = limits_near("my-app", db(110), addons(), T0).alerts
    opened = incidents.apply([], [alert.event()], T0)
    (incident,) = opened.incidents
    assert incident.family == LOG_DATABASE_LIMITS and incident.is_open
    later = incidents.tick(opened.incidents, T0 + 10 * MIN)
    assert not later.incidents[0].is_open


# ------------------------------------------------------------------------------ thresholds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", DatabaseThresholds()),
        ("off", DatabaseThresholds(on=False)),
        ("connections=70", DatabaseThresholds(connections=70)),
        (
            "storage=90 max_connections=200 max_storage_gb=128",
            DatabaseThresholds(storage=90, max_connections=200, max_storage_gb=128),
        ),
    ],
)
def test_database_thresholds_are_read_from_their_stored_text_and_written_back(text, expected):
    parsed = parse_thresholds(DatabaseThresholds, text)
    assert parsed.thresholds == expected and parsed.errors == {}
    assert format_thresholds(expected) == text


def test_database_limits_left_empty_on_the_form_are_the_plans():
    parsed = from_form(
        DatabaseThresholds,
        {"connections": "80", "storage": "85", "max_connections": "", "max_storage_gb": ""},
    )
    assert parsed.thresholds == DatabaseThresholds(storage=85)


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"connections": "0", "storage": "80"}, "connections"),
        ({"connections": "80", "storage": "101"}, "storage"),
        ({"connections": "80", "storage": "80", "max_connections": "-3"}, "max_connections"),
        ({"connections": "80", "storage": "80", "max_storage_gb": "1.5"}, "max_storage_gb"),
    ],
)
def test_a_wrong_database_threshold_gets_one_sentence_for_its_field(form, field):
    parsed = from_form(DatabaseThresholds, form)
    assert parsed.thresholds is None and list(parsed.errors) == [field]
