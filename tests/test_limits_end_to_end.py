"""SPEC §15 end to end: a drain's runtime-metrics and Heroku Postgres metrics lines in, the
alert in (fake) Slack out: memory near quota (and R14 joining its thread), the database
near its limits, and the demo buttons that write those lines.

These need the lead's wiring (the checker's `limits`, the drain endpoint's
`take_logplex`, the log check's `limits.events`, messages' header for the two kinds):
until it is in, they fail, strictly expected to (then the markers go)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from heroku_monitor.service import Service
from heroku_sim import metrics as sim_metrics
from tests.support.drains import demo_drain, drained_service, post_batch, press
from tests.support.logplex import R14, body, frame
from tests.support.web import wait_until
from tests.support.world import APP, World


@pytest.fixture
def drained(world: World) -> Iterator[tuple[Service, FlaskClient]]:
    with drained_service(world) as made:
        yield made


def settle(service: Service) -> None:
    """Write what the drain took and check the app's logs now (not waiting for the
    flushers' next second): an unwired service fails here, at once."""
    limits: Any = getattr(service.checker, "limits", None)  # None: not wired
    limits.samples.flush()
    service.checker.log_counts.flush()
    for monitor in service.monitors.all():
        service.checker.check_logs(monitor.id)


def alerts(world: World, header: str) -> list[dict]:
    return [m for m in world.slack.messages if header in m["text"]]


def test_a_dyno_at_93_percent_of_its_quota_for_six_minutes_is_alerted_and_r14_joins_it(
    drained, world: World
):
    service, client = drained
    now = datetime.now(UTC)
    climb = sim_metrics.memory_climb("web.1", 512, now)  # standard-1X: 512 MB
    assert post_batch(client, sim_metrics.logplex_body(climb), "climb").status_code == 200
    settle(service)
    wait_until(lambda: len(alerts(world, "Memory Near Quota: web.1")) == 1)
    (alert,) = alerts(world, "Memory Near Quota: web.1")
    assert alert["text"].startswith("📈 *Memory Near Quota: web.1* 📈\nApp: my-app\n476 of 512 MB")
    post_batch(client, body(frame(R14, datetime.now(UTC), proc="web.1")), "r14")
    settle(service)
    wait_until(lambda: any(m.get("thread_ts") == alert["ts"] for m in world.slack.messages))
    r14s = alerts(world, "Memory Quota Exceeded")  # a reply in its thread, not a post
    assert r14s and all(m.get("thread_ts") == alert["ts"] for m in r14s)


def test_a_database_at_90_percent_of_its_plans_connections_is_alerted(drained, world: World):
    service, client = drained
    (addon,) = [a for a in world.sim.addons_json(APP) if a["addon_service"]["name"] ==
                "heroku-postgresql"]  # fmt: skip
    now = datetime.now(UTC)
    line = sim_metrics.postgres_metrics(addon["name"], 18, 100 * 1024**2)  # essential-0: 20
    assert post_batch(client, sim_metrics.logplex_body([(now, line)]), "pg").status_code == 200
    settle(service)
    wait_until(lambda: len(alerts(world, "Database Near Its Limits")) == 1)
    (alert,) = alerts(world, "Database Near Its Limits")
    assert alert["text"].startswith(
        "🐘 *Database Near Its Limits* 🐘\nApp: my-app\nConnections: 18 of 20 (90 %)\n"
    )


def test_metrics_lines_leave_the_drains_counts_and_answer_alone(drained, world: World):
    _, client = drained
    climb = sim_metrics.memory_climb("web.1", 512, datetime.now(UTC))
    response = post_batch(client, sim_metrics.logplex_body(climb), "climb")
    assert response.status_code == 200 and response.json["lines"] == len(climb)


@pytest.mark.parametrize(
    ("button", "header"),
    [("nearquota", "Memory Near Quota: web.1"), ("database", "Database Near Its Limits")],
)
def test_the_demo_buttons_write_metrics_lines_to_the_drain_and_the_alert_follows(
    world: World, button: str, header: str
):
    with demo_drain(world) as (service, client):
        assert press(client, button).status_code == 303
        settle(service)
        wait_until(lambda: any(header in m["text"] for m in world.slack.messages))
