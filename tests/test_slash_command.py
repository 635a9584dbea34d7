"""`/heroku-status` end to end through the Flask app, with requests signed as Slack signs
them, against the simulator and a fake Slack (for response_url)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support.slack import SECRET
from tests.support.web import slack_signed, wait_until
from tests.support.world import APP, World, first_monitor


@dataclass
class Slash:
    world: World
    service: Service
    client: FlaskClient

    def send(
        self,
        text: str = "",
        *,
        secret: str = SECRET,
        age: float = 0,
        signed: bool = True,
        response_url: str | None = None,
    ):
        body = urlencode(
            {
                "token": "deprecated-verification-token",
                "team_id": "T0FAKE0001",
                "team_domain": "fake",
                "channel_id": "C0FAKE0001",
                "channel_name": "alerts",
                "user_id": "U0FAKEUSR1",
                "user_name": "ann",
                "command": "/heroku-status",
                "text": text,
                "api_app_id": "A0FAKEAPP1",
                "response_url": response_url or self.world.slack.response_url("status"),
                "trigger_id": "1.2.3",
            }
        )
        headers = (
            slack_signed(secret, body, age=age)
            if signed
            else {"Content-Type": "application/x-www-form-urlencoded"}
        )
        return self.client.post("/slack/commands", data=body, headers=headers)


@pytest.fixture
def slash(world: World) -> Iterator[Slash]:
    service = world.service(slack_signing_secret=SECRET)
    yield Slash(world, service, create_app(service).test_client())
    service.stop()


def test_status_of_a_monitored_app_comes_at_once_from_the_last_check(slash: Slash):
    slash.world.sim.crash_dyno(APP, "web.1")
    slash.world.sim.set_maintenance(APP, True)
    slash.service.checker.check(first_monitor(slash.service))
    response = slash.send(APP)
    answer = response.json
    assert response.status_code == 200 and answer["response_type"] == "ephemeral"
    text = answer["text"]
    assert text.startswith(f"*🟠 {APP} is degraded*")
    for expected in (
        "web.1 (web): crashed",
        "web.2 (web): up",
        "worker.1 (worker): up",
        "*Current release:* v3 by dev@example.com",
        "heroku-postgresql",
        "*Maintenance mode:* on",
        "Last checked",
    ):
        assert expected in text
    assert answer["blocks"][0]["type"] == "header"


def test_no_text_summarises_every_monitored_app(slash: Slash):
    slash.service.checker.check(first_monitor(slash.service))
    answer = slash.send("").json
    assert answer["response_type"] == "ephemeral"
    assert f"🟢 *{APP}*: healthy, 3/3 dynos up, v3" in answer["text"]


def test_an_app_that_is_not_monitored_is_read_live_and_answered_through_response_url(slash: Slash):
    slash.world.sim.create_app("other-app")
    answer = slash.send("other-app").json
    assert "Riding out to check *other-app*" in answer["text"]
    (later,) = slash.world.slack.wait_for_response_posts(1)
    assert later["response_type"] == "ephemeral" and "other-app is healthy" in later["text"]
    assert slash.world.sim.requests_by_path.get("/apps/other-app/config-vars", 0) == 0


def test_slow_heroku_is_still_answered_within_slacks_three_seconds(slash: Slash):
    slash.service.checker.check(first_monitor(slash.service))
    slash.world.sim.create_app("other-app")
    slash.world.sim.set_latency(1.0)  # a live read takes 4 requests: 4 s, past the 3 s
    for text in (APP, "other-app", ""):
        started = time.monotonic()
        assert slash.send(text).status_code == 200
        assert time.monotonic() - started < 3.0
    (later,) = slash.world.slack.wait_for_response_posts(1, timeout=20)
    assert "other-app is healthy" in later["text"]


def test_unknown_app_gets_a_short_helpful_answer(slash: Slash):
    slash.send("no-such-app")
    (later,) = slash.world.slack.wait_for_response_posts(1)
    assert "can't find an app called *no-such-app*" in later["text"]


def test_rejected_heroku_token_gets_a_helpful_answer(slash: Slash):
    slash.world.sim.set_token("rotated")
    slash.send("other-app")
    (later,) = slash.world.slack.wait_for_response_posts(1)
    assert "HEROKU_API_KEY" in later["text"]


@pytest.mark.parametrize("text", ["two words", "Not_An_App!", "help"])
def test_odd_text_gets_the_usage(slash: Slash, text: str):
    answer = slash.send(text).json
    assert "Usage: `/heroku-status`" in answer["text"]


def test_bad_signature_is_401_and_nothing_happens(slash: Slash):
    slash.world.sim.reset_counters()
    response = slash.send(APP, secret="not-the-secret")
    assert response.status_code == 401
    assert slash.world.sim.request_count == 0 and slash.world.slack.response_posts == []


def test_missing_signature_is_401(slash: Slash):
    assert slash.send(APP, signed=False).status_code == 401


def test_stale_timestamp_is_401(slash: Slash):
    assert slash.send(APP, age=6 * 60).status_code == 401


def test_without_a_signing_secret_the_endpoint_says_how_to_turn_it_on(world: World):
    service = world.service()
    response = create_app(service).test_client().post("/slack/commands", data="command=x")
    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET" in response.get_data(as_text=True)


def test_building_the_app_and_answering_calls_no_slack_api(slash: Slash):
    slash.send("")
    assert sum(slash.world.slack.calls.values()) == 0  # no auth.test, nothing


def test_a_failing_latest_check_is_said_instead_of_passing_old_news_as_fresh(slash: Slash):
    mid = first_monitor(slash.service)
    slash.service.checker.check(mid)
    slash.world.sim.inject_fault(APP, status=503, count=1000)
    slash.service.checker.check(mid)
    text = slash.send(APP).json["text"]
    assert "⚠️ The latest check failed (503 unavailable" in text


def test_an_app_the_monitor_no_longer_watches_is_read_live(slash: Slash):
    mid = first_monitor(slash.service)
    slash.service.checker.check(mid)
    slash.world.sim.create_app("other-app")
    slash.service.monitors.update(
        mid, app_name="other-app", channel="#alerts", interval=5, now=slash.service.clock()
    )
    assert "Riding out to check *my-app*" in slash.send(APP).json["text"]


def test_a_follow_up_answer_slack_refuses_is_logged_not_lost(
    slash: Slash, caplog: pytest.LogCaptureFixture
):
    slash.service.checker.check(first_monitor(slash.service))
    slash.world.sim.create_app("other-app")

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if "other-app" in r.getMessage()]

    with caplog.at_level(logging.ERROR):
        response = slash.send("other-app", response_url=slash.world.slack.response_url(max_uses=0))
        assert response.status_code == 200  # "Riding out to check…"
        wait_until(lambda: bool(said()))
    assert "refused" in said()[0]
