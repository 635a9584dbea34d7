"""`python app.py` as a user runs it: a real process against the simulator and a fake Slack."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
import requests
from flask import Flask, request

from heroku_monitor.cli import _create_or_update, our_webhook
from heroku_monitor.heroku.errors import HerokuError
from heroku_monitor.heroku.webhooks import SIGNATURE_HEADER, signature
from heroku_sim import Simulator, SimulatorServer
from loopback import BackgroundServer
from tests.fakes import FakeSlack
from tests.support.processes import (
    clean_env,
    free_port,
    run_app,
    run_cli,
    start,
    stop,
    wait_for_http,
)
from tests.support.web import wait_until

CRASH_TEXT = "🚨 *ALERT: Dyno Crash Detected* 🚨\nApp: my-app\nCrashed dynos:\n• web.1 (web)"


def test_missing_tokens_stop_start_up_with_one_line_pointing_at_demo(tmp_path: Path):
    done = run_app(clean_env(), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "HEROKU_API_KEY and SLACK_BOT_TOKEN" in lines[0] and "--demo" in lines[0]


def test_out_of_range_interval_stops_start_up_with_one_line(tmp_path: Path):
    env = clean_env(HEROKU_API_KEY="k", SLACK_BOT_TOKEN="xoxb-1", CHECK_INTERVAL_MINUTES="90")
    done = run_app(env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "CHECK_INTERVAL_MINUTES must be a whole number from 1 to 60" in done.stderr


def test_python_app_py_posts_a_crashed_dyno_to_slack(tmp_path: Path, processes: list):
    sim = Simulator(seed=3)
    sim.create_app("my-app")
    sim.crash_dyno("my-app", "web.1")  # the first check reports dynos crashed right now
    port = free_port()
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        env = clean_env(
            HEROKU_API_KEY=sim.token,
            SLACK_BOT_TOKEN=slack.token,
            MONITORED_APP_NAME="my-app",
            SLACK_CHANNEL="#alerts",
            DATABASE_URL=f"sqlite:///{tmp_path}/monitor.db",
            HEROKU_API_URL=heroku.url,
            SLACK_API_URL=slack.url,
            PORT=str(port),
        )
        process = start(processes, env)
        (message,) = slack.wait_for_messages(1, timeout=30)
        assert message["text"] == CRASH_TEXT
        health = wait_for_http(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200 and health.json()["scheduler"] == "running"
        page = wait_for_http(f"http://127.0.0.1:{port}/")
        assert "my-app" in page.text and "Dyno Crash Detected" in page.text
        err = stop(process)
    assert "Traceback" not in err


def test_demo_mode_runs_against_the_simulator_without_slack(tmp_path: Path, processes: list):
    port, sim_port = free_port(), free_port()
    env = clean_env(PORT=str(port), SIMULATOR_PORT=str(sim_port))
    process = start(processes, env, "--demo", cwd=tmp_path)
    page = wait_for_http(f"http://127.0.0.1:{port}/")
    assert page.status_code == 200 and "demo-app" in page.text
    control = requests.post(
        f"http://127.0.0.1:{sim_port}/_sim/apps/demo-app/dynos/web.1/crash", timeout=5
    )
    assert control.status_code == 200
    # The simulated app sends a signed webhook: the alert is on the dashboard in seconds.
    wait_until(
        lambda: (
            "ALERT: Dyno Crash Detected"
            in requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
        ),
        timeout=10,
    )
    err = stop(process)
    assert "Traceback" not in err
    assert f"http://127.0.0.1:{sim_port}/_sim/apps/demo-app/dynos/web.1/crash" in err


def test_register_webhook_creates_the_app_webhook_through_the_platform_api(tmp_path: Path):
    sim = Simulator(seed=4)
    sim.create_app("my-app")
    with SimulatorServer(sim) as heroku:
        env = clean_env(
            HEROKU_API_KEY=sim.token, HEROKU_API_URL=heroku.url, HEROKU_WEBHOOK_SECRET="s3cret"
        )
        url = "https://monitor.example.com/webhooks/heroku"
        done = run_app(env, "register-webhook", "my-app", "--url", url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Registered webhook" in done.stdout
        (hook,) = sim.webhooks("my-app")
        assert hook["url"] == url and hook["secret"] == "s3cret" and hook["level"] == "sync"
        assert set(hook["include"]) == {
            "api:release",
            "dyno",
            "api:addon",
            "api:formation",
            "api:app",
            "api:build",  # SPEC §14: failed builds in seconds
        }

        again = run_cli(env, "register-webhook", "no-such-app", "--url", url)  # in this process
        assert again.returncode == 1 and "Traceback" not in again.stderr
        assert "could not register the webhook on no-such-app: 404" in again.stderr


def verifying_receiver(secret: str) -> BackgroundServer:
    """Where the deliveries go: 204 when the signature verifies with `secret` (the
    monitor's own check), 401 when not."""
    receiver = Flask("receiver")

    @receiver.post("/webhooks/heroku")
    def receive() -> tuple[str, int]:
        given = request.headers.get(SIGNATURE_HEADER, "")
        ok = hmac.compare_digest(given, signature(secret, request.get_data()))
        return "", 204 if ok else 401

    return BackgroundServer(receiver, name="receiver")


def test_register_webhook_run_again_after_rotating_the_secret_updates_the_webhook(
    tmp_path: Path,
):
    sim = Simulator(seed=4)
    sim.create_app("my-app")
    with SimulatorServer(sim) as heroku, verifying_receiver("new-secret") as receiver:
        env = clean_env(HEROKU_API_KEY=sim.token, HEROKU_API_URL=heroku.url)
        url = f"{receiver.url}/webhooks/heroku"
        args = ("register-webhook", "my-app", "--url", url)
        first = run_app(env | {"HEROKU_WEBHOOK_SECRET": "old-secret"}, *args, cwd=tmp_path)
        assert first.returncode == 0 and "Registered webhook" in first.stdout, first.stderr
        again = run_cli(env | {"HEROKU_WEBHOOK_SECRET": "new-secret"}, *args)  # in this process
        assert again.returncode == 0 and "Updated webhook" in again.stdout, again.stderr
        (hook,) = sim.webhooks("my-app")
        assert hook["secret"] == "new-secret" and hook["url"] == url
        sim.crash_dyno("my-app", "web.1")
        (delivery,) = sim.wait_for_deliveries(1, timeout=10)
        sim.close()
    assert delivery["status"] == 204  # signed with the new secret: it verifies


def test_register_webhook_with_a_new_url_updates_the_webhook_instead_of_adding_one(
    tmp_path: Path,
):
    sim = Simulator(seed=4)
    sim.create_app("my-app")
    with SimulatorServer(sim) as heroku:
        env = clean_env(
            HEROKU_API_KEY=sim.token, HEROKU_API_URL=heroku.url, HEROKU_WEBHOOK_SECRET="s3cret"
        )
        sim.create_webhook(  # someone else's webhook on the app stays as it is
            "my-app", include=["api:release"], level="notify", url="https://ci.example.com/hook"
        )
        old = "https://old.example.com/webhooks/heroku"
        first = run_app(env, "register-webhook", "my-app", "--url", old, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        new = "https://new.herokuapp.com/webhooks/heroku"
        done = run_cli(env, "register-webhook", "my-app", "--url", new)  # again, in this process
        assert done.returncode == 0, done.stderr
        urls = sorted(h["url"] for h in sim.webhooks("my-app"))
    assert urls == ["https://ci.example.com/hook", "https://new.herokuapp.com/webhooks/heroku"]
    assert "Updated webhook" in done.stdout


@pytest.mark.parametrize(
    ("urls", "url", "found"),
    [
        ([], "https://a.example.com/webhooks/heroku", None),
        (["https://x.example.com/other"], "https://a.example.com/webhooks/heroku", None),
        (  # the same URL wins over any other of our path
            ["https://b.example.com/webhooks/heroku", "https://a.example.com/webhooks/heroku"],
            "https://a.example.com/webhooks/heroku",
            1,
        ),
        (  # the URL moved: the one webhook of our path is ours
            ["https://x.example.com/other", "https://b.example.com/webhooks/heroku?x=1"],
            "https://a.example.com/webhooks/heroku",
            1,
        ),
    ],
)
def test_register_webhook_takes_the_webhook_at_its_url_else_the_one_at_its_path(
    urls: list[str], url: str, found: int | None
):
    hooks = [{"id": str(i), "url": u} for i, u in enumerate(urls)]
    assert our_webhook(hooks, url) == (None if found is None else hooks[found])


def test_register_webhook_refuses_to_guess_between_two_webhooks_at_its_path():
    hooks = [
        {"id": "1", "url": "https://b.example.com/webhooks/heroku"},
        {"id": "2", "url": "https://c.example.com/webhooks/heroku"},
    ]
    with pytest.raises(ValueError, match="several webhooks end with /webhooks/heroku"):
        our_webhook(hooks, "https://a.example.com/webhooks/heroku")


def test_register_webhook_updates_a_webhook_another_run_made_meanwhile():
    url = "https://a.example.com/webhooks/heroku"

    class Racing:  # another run creates the webhook between our list and our create
        def __init__(self) -> None:
            self.listed: list[list[dict[str, str]]] = [[], [{"id": "theirs", "url": url}]]
            self.updated: list[str] = []

        def webhooks(self, app: str) -> list[dict[str, str]]:
            return self.listed.pop(0)

        def create_webhook(self, app: str, **kw: object) -> None:
            raise HerokuError("A webhook with that URL already exists.", status=409)

        def update_webhook(self, app: str, webhook_id: str, **kw: object) -> dict[str, str]:
            self.updated.append(webhook_id)
            return {"id": webhook_id}

    client = Racing()
    assert _create_or_update(client, "my-app", url, "s") == ({"id": "theirs"}, "Updated")  # type: ignore[arg-type]
    assert client.updated == ["theirs"]


def test_register_webhook_without_a_secret_says_what_to_set(tmp_path: Path):
    env = clean_env(HEROKU_API_KEY="k")
    done = run_app(env, "register-webhook", "my-app", "--url", "https://x.example/w", cwd=tmp_path)
    assert done.returncode == 2 and "HEROKU_WEBHOOK_SECRET" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("database_url", "words"),
    [
        ("foo", "that is not a database URL"),
        ("postgres://monitor:s3cretpw@127.0.0.1:9/db", "Cannot open the database at postgresql"),
        ("sqlite:////proc/no-such-dir/monitor.db", "Cannot open the database at sqlite"),
    ],
)
def test_a_database_that_cannot_be_opened_stops_start_up_with_one_line(
    tmp_path: Path, database_url: str, words: str
):
    env = clean_env(HEROKU_API_KEY="k", SLACK_BOT_TOKEN="xoxb-1", DATABASE_URL=database_url)
    done = run_app(env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert words in line and "s3cretpw" not in line


def test_a_slack_app_token_that_cannot_connect_stops_start_up_with_one_line(tmp_path: Path):
    env = clean_env(
        HEROKU_API_KEY="k",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_APP_TOKEN="xapp-1-nope",
        SLACK_API_URL="http://127.0.0.1:9/api/",
        DATABASE_URL=f"sqlite:///{tmp_path}/m.db",
        PORT=str(free_port()),
    )
    done = run_app(env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "Could not connect to Slack over Socket Mode with SLACK_APP_TOKEN" in done.stderr


def test_sigterm_stops_the_service_cleanly_and_writes_the_drains_pending_counts(
    tmp_path: Path, processes: list
):
    """Heroku stops a dyno with SIGTERM: the process ends its loop and stops the service
    (exit 0), so the log counts a drain batch left pending reach the database."""
    import signal
    import sqlite3
    from datetime import UTC, datetime

    from tests.support.drains import SECRET, auth
    from tests.support.logplex import H12, body, frame

    port, sim_port = free_port(), free_port()
    env = clean_env(PORT=str(port), SIMULATOR_PORT=str(sim_port), HEROKU_DRAIN_SECRET=SECRET)
    process = start(processes, env, "--demo", cwd=tmp_path)
    wait_for_http(f"http://127.0.0.1:{port}/")
    batch = body(*(frame(H12, datetime.now(UTC)) for _ in range(3)))
    headers = {**auth(), "Logplex-Frame-Id": "sigterm-1", "Logplex-Msg-Count": "3"}
    posted = requests.post(
        f"http://127.0.0.1:{port}/drains/heroku/demo-app", data=batch, headers=headers, timeout=5
    )
    assert posted.status_code == 200
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    (db,) = tmp_path.glob("**/*.db")
    with sqlite3.connect(db) as connection:
        (batches,) = connection.execute("select count(*) from log_batches").fetchone()
    assert batches >= 1 and "Traceback" not in err
