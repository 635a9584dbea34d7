"""Several real processes on one database (SPEC section 13): one of them leads the polling,
the others poll nothing but serve webhooks, log drains and commands; each alert goes out
once; and when the leader is killed (kill -9) another takes over within two lease periods."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from heroku_monitor.heroku.webhooks import SIGNATURE_HEADER, signature
from heroku_monitor.render.threads import ACKNOWLEDGE
from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.support.drains import SECRET as DRAIN_SECRET
from tests.support.drains import auth
from tests.support.logplex import H12, body, frame
from tests.support.processes import env_for, free_port, start, stop, wait_for_http
from tests.support.slack import SECRET as SLACK_SECRET
from tests.support.slack import pressed
from tests.support.web import slack_signed, wait_until
from tests.support.webhooks import SECRET as WEBHOOK_SECRET
from tests.support.webhooks import fresh

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
LEASE = 2  # seconds: LEADER_LEASE_SECONDS for these processes (the least allowed)
# The leader's interval polls come on the hour (on a 5-minute grid by default): none falls
# in a test that counts the requests of the starting round.
QUIET_LEADER = {"LEADER_LEASE_SECONDS": str(LEASE), "CHECK_INTERVAL_MINUTES": "60"}


def polling(port: int) -> dict:
    return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["polling"]


@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_processes_on_one_database_poll_once_alert_once_and_survive_their_leader(
    processes, tmp_path: Path, backend: str, count: int, request: pytest.FixtureRequest
):
    database_url = (
        f"sqlite:///{tmp_path}/shared.db"
        if backend == "sqlite"
        else str(request.getfixturevalue("migrated_postgres_url")).replace(
            "postgresql+psycopg://", "postgres://"
        )
    )
    sim = Simulator(seed=5)
    sim.create_app("my-app")
    sim.crash_dyno("my-app", "web.1")
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        env = {**env_for(heroku, sim, slack, database_url), **QUIET_LEADER}
        ports = [free_port() for _ in range(count)]
        started = [start(processes, {**env, "PORT": str(port)}) for port in ports]
        for port in ports:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
        slack.wait_for_messages(1, timeout=30)
        # Every process names the same leader, and only that one polled.
        wait_until(lambda: len({polling(p)["leader"] for p in ports}) == 1, timeout=10)
        views = [polling(p) for p in ports]
        assert sum(v["this_process_leads"] for v in views) == 1
        assert sim.requests_by_path.get("/apps/my-app/dynos") == 1  # one first round
        assert sim.requests_by_path.get("/apps") == 1
        # The leader dies without a word; another process takes over.
        index = next(i for i, v in enumerate(views) if v["this_process_leads"])
        started[index].send_signal(signal.SIGKILL)
        started[index].wait(10)
        killed = time.monotonic()
        others = [p for i, p in enumerate(ports) if i != index]
        wait_until(lambda: any(polling(p)["this_process_leads"] for p in others), timeout=10)
        assert time.monotonic() - killed <= 2 * LEASE
        assert sum(polling(p)["this_process_leads"] for p in others) == 1
        # The new leader polls what is overdue only: the app was checked a moment ago.
        assert sim.requests_by_path.get("/apps/my-app/dynos") == 1
        for i, process in enumerate(started):
            if i != index:
                assert "Traceback" not in stop(process)
    assert [m["text"].split("\n")[0] for m in slack.messages] == [CRASH]


def test_a_process_that_does_not_lead_still_serves_webhooks_drains_commands_and_buttons(
    processes, tmp_path: Path
):
    sim = Simulator(seed=6)
    sim.create_app("my-app")
    secrets = {
        "HEROKU_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "HEROKU_DRAIN_SECRET": DRAIN_SECRET,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
    }
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        env = {
            **env_for(heroku, sim, slack, f"sqlite:///{tmp_path}/shared.db"),
            **QUIET_LEADER,
            **secrets,
        }
        ports = [free_port() for _ in range(2)]
        started = [start(processes, {**env, "PORT": str(port)}) for port in ports]
        for port in ports:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
        wait_until(lambda: len({polling(p)["leader"] for p in ports}) == 1, timeout=10)
        (follower,) = [p for p in ports if not polling(p)["this_process_leads"]]
        base = f"http://127.0.0.1:{follower}"
        # The leader's first round is done: its next is up to an hour away.
        wait_until(lambda: sim.requests_by_path.get("/apps/my-app/dynos", 0) >= 1, timeout=20)

        # A webhook: the follower checks the app itself.
        sim.crash_dyno("my-app", "web.1")
        raw = json.dumps(fresh("api-dyno-create")).encode()
        answer = requests.post(
            f"{base}/webhooks/heroku",
            data=raw,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(WEBHOOK_SECRET, raw),
            },
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        slack.wait_for_messages(1, timeout=20)
        assert slack.messages[0]["text"].startswith(CRASH)

        # A log drain: its H12 lines are counted and alerted on by the follower.
        now = datetime.now(UTC)
        answer = requests.post(
            f"{base}/drains/heroku/my-app",
            data=body(*(frame(H12, now) for _ in range(10))),
            headers={**auth(), "Logplex-Frame-Id": "follower-1", "Logplex-Msg-Count": "10"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        wait_until(lambda: any("Router Errors" in m["text"] for m in slack.messages), timeout=20)

        # A slash command: answered by the follower from the last check.
        form = urlencode(
            {
                "command": "/heroku-status",
                "text": "my-app",
                "team_id": "T0FAKE0001",
                "channel_id": "C0FAKE0001",
                "user_id": "U0FAKEUSR1",
                "response_url": slack.response_url("status"),
                "trigger_id": "1.2.3",
            }
        )
        signed = slack_signed(SLACK_SECRET, form)
        answer = requests.post(f"{base}/slack/commands", data=form, headers=signed, timeout=10)
        assert answer.status_code == 200 and "my-app" in answer.text, answer.text

        # A button of the crash's message: Acknowledge, pressed in Slack, reaches the follower.
        (buttons,) = [b for b in slack.messages[0]["blocks"] if b.get("block_id") == "incident"]
        incident = buttons["elements"][0]["value"]
        form = pressed(ACKNOWLEDGE, incident)
        signed = slack_signed(SLACK_SECRET, form)
        answer = requests.post(f"{base}/slack/interactions", data=form, headers=signed, timeout=10)
        assert answer.status_code == 200, answer.text
        wait_until(lambda: "acknowledged by" in slack.messages[0]["text"], timeout=20)

        assert not polling(follower)["this_process_leads"]
        for process in started:
            assert "Traceback" not in stop(process)
    firsts = [m["text"].split("\n")[0] for m in slack.messages]
    assert firsts == [
        CRASH,
        "🔥 *Router Errors: H12 Request timeout* 🔥",
        "👀 Acknowledged by <@U0FAKEUSR1>.",
    ]
    assert slack.messages[2].get("thread_ts") == slack.messages[0]["ts"]  # the crash's thread
