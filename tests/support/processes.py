"""Running the service as a user does: real processes, their environment, their ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
APP_PY = str(ROOT / "app.py")
OUR_VARIABLES = (
    "HEROKU_API_KEY",
    "SLACK_BOT_TOKEN",
    "MONITORED_APP_NAME",
    "SLACK_CHANNEL",
    "CHECK_INTERVAL_MINUTES",
    "DATABASE_URL",
    "HEROKU_API_URL",
    "SLACK_API_URL",
    "DYNO",
    "HEROKU_WEBHOOK_SECRET",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "DASHBOARD_PASSWORD",
    "ALERT_MENTION",
    "HEROKU_DRAIN_SECRET",
    "MONITORED_TEAM",
    "LEADER_LEASE_SECONDS",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    env.update(extra)
    return env


def env_for(heroku: SimulatorServer, sim: Simulator, slack: FakeSlack, database_url: str):
    """The environment of a service process pointed at these fakes and this database."""
    return clean_env(
        HEROKU_API_KEY=sim.token,
        SLACK_BOT_TOKEN=slack.token,
        MONITORED_APP_NAME="my-app",
        SLACK_CHANNEL="#alerts",
        DATABASE_URL=database_url,
        HEROKU_API_URL=heroku.url,
        SLACK_API_URL=slack.url,
    )


def wait_for_http(url: str, timeout: float = 20.0) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run_app(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python app.py ARGS` to its end (a command, or a start-up that fails)."""
    return subprocess.run(
        [sys.executable, APP_PY, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def start(
    processes: list,
    env: dict[str, str],
    *args: str,
    cwd: Path = ROOT,
    command: tuple[str, ...] = (sys.executable, APP_PY),
) -> subprocess.Popen:
    """Start `python app.py ARGS` (or `command ARGS`) in the background."""
    process = subprocess.Popen(
        [*command, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    return process


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    return err
