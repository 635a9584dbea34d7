"""Slow responses end to end (SPEC §15): router lines with long `service=` times posted to
the drain, their histogram buckets added up in the shared counters by two processes, one
`🐢 *Slow Responses: p95 … ms* 🐢` alert in Slack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support.drains import SECRET, auth
from tests.support.logplex import OK, body, frame
from tests.support.web import wait_until
from tests.support.world import APP, World

SLOW = "🐢 *Slow Responses: p95 "


def post(client: FlaskClient, data: bytes, frame_id: str) -> None:
    headers = {**auth(), "Logplex-Frame-Id": frame_id}
    assert client.post(f"/drains/heroku/{APP}", data=data, headers=headers).status_code == 200


def taking(ms: int, n: int) -> bytes:
    now = datetime.now(UTC)
    return body(*(frame(OK.replace("service=6ms", f"service={ms}ms"), now) for _ in range(n)))


def slow_alerts(world: World) -> list[str]:
    return [m["text"] for m in world.slack.messages if m["text"].startswith(SLOW)]


@pytest.fixture
def drained(world: World) -> Iterator[tuple[Service, FlaskClient]]:
    service, _ = world.baseline(heroku_drain_secret=SECRET)
    service.scheduler.start()
    yield service, create_app(service).test_client()
    service.stop()


def test_slow_responses_posted_to_two_processes_add_up_to_one_alert(drained, world: World):
    _, client = drained
    other = world.service(heroku_drain_secret=SECRET)  # another web dyno on the database
    other.scheduler.start()
    try:
        post(create_app(other).test_client(), taking(6000, 60), "half-1")
        post(client, taking(6000, 60), "half-2")  # 60 each: under 100 requests alone
        wait_until(lambda: len(slow_alerts(world)) == 1)
    finally:
        other.stop()
    (text,) = slow_alerts(world)
    assert text.startswith(f"{SLOW}7375 ms* 🐢\nApp: {APP}\n")  # 6 s: the 5-7.5 s bucket
    assert "120 requests in" in text and "(threshold 3000 ms)" in text
