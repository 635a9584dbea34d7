"""`python app.py` as a user runs it: a real process against the simulator and a fake Slack."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.processes import clean_env, free_port, run_app, start, stop, wait_for_http
from tests.web import wait_until

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
        }

        again = run_app(env, "register-webhook", "no-such-app", "--url", url, cwd=tmp_path)
        assert again.returncode == 1 and "Traceback" not in again.stderr
        assert "could not register the webhook on no-such-app: 404" in again.stderr


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
