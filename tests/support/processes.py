"""Running the service as a user does: real processes, their environment, their ports."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
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


# With PYTHONDONTWRITEBYTECODE set (as here), each `python app.py` would compile the whole
# product again before it answers: about 0.15 s of every start. Its processes keep their
# bytecode in a folder of their own instead (the source tree stays clean), reused by the next.
PYCACHE = Path(tempfile.gettempdir()) / f"heroku-monitor-pycache-{os.getuid()}"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    if env.pop("PYTHONDONTWRITEBYTECODE", None) and "PYTHONPYCACHEPREFIX" not in env:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
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
    """The first answer of `url`. A process binds its port before it opens its database
    (a busy port is its first error): until it serves, a request is refused or unanswered."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=2)
        except (requests.ConnectionError, requests.Timeout):
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


def app_py_with(*statements: str) -> tuple[str, ...]:
    """A `command` for `start`: `python app.py`, after `statements` (a test's shorter waits,
    say) have run in its interpreter."""
    run = f"import runpy; runpy.run_path({APP_PY!r}, run_name='__main__')"
    return (sys.executable, "-c", "; ".join([*statements, run]))


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`cli.main(ARGS)` in this process, in the environment `env`, as `run_app` runs it in
    its own: for a command run again once a real process has shown the way (a second
    `register-webhook`, say). Its exit code, and what it printed."""
    from unittest import mock

    from heroku_monitor import cli

    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env, clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = cli.main(list(args))
    return subprocess.CompletedProcess(
        ["heroku-monitor", *args], code, out.getvalue(), err.getvalue()
    )


def start_warm(processes: list, env: dict[str, str], *statements: str) -> subprocess.Popen:
    """A spare `python app.py` that has run `statements` and imported the product, and waits
    (on its stdin) for `go` before it starts: a test that restarts the service many times
    starts each new process in a fraction of a second, once the old one is dead."""
    ready = "import heroku_monitor.cli, sys, os; os.environ['PORT'] = sys.stdin.readline().strip()"
    return start(processes, env, command=app_py_with(*statements, ready), stdin=subprocess.PIPE)


def go(process: subprocess.Popen, port: int) -> None:
    """Start the spare `process` (`start_warm`), serving on `port`."""
    assert process.stdin is not None
    process.stdin.write(f"{port}\n")
    process.stdin.close()
    process.stdin = None  # closed: `communicate` has nothing to send


def start(
    processes: list,
    env: dict[str, str],
    *args: str,
    cwd: Path = ROOT,
    command: tuple[str, ...] = (sys.executable, APP_PY),
    stdin: int | None = None,
) -> subprocess.Popen:
    """Start `python app.py ARGS` (or `command ARGS`) in the background."""
    process = subprocess.Popen(
        [*command, *args],
        env=env,
        cwd=cwd,
        stdin=stdin,
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
