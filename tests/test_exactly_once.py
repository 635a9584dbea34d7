"""Each alert goes out once: two service processes on one database (PostgreSQL and a
SQLite file), gunicorn with several workers, and a restart while things happen."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.support.processes import app_py_with, env_for, free_port, start, stop
from tests.support.web import wait_until

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
DOWN = "⚠️ *WARNING: Dynos Down* ⚠️"


@pytest.fixture
def heroku_and_slack() -> Iterator[tuple[Simulator, SimulatorServer, FakeSlack]]:
    sim = Simulator(seed=5)
    sim.create_app("my-app")
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        yield sim, heroku, slack


def checks_done(sim: Simulator) -> int:
    """How many checks have read the app's dynos so far."""
    return sim.requests_by_path.get("/apps/my-app/dynos", 0)


def firsts(slack: FakeSlack) -> list[str]:
    return [m["text"].split("\n")[0] for m in slack.messages]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_processes_on_one_database_send_each_alert_once(
    heroku_and_slack, processes, tmp_path: Path, backend: str, request: pytest.FixtureRequest
):
    sim, heroku, slack = heroku_and_slack
    database_url = (
        f"sqlite:///{tmp_path}/shared.db"
        if backend == "sqlite"
        else str(request.getfixturevalue("migrated_postgres_url")).replace(
            "postgresql+psycopg://", "postgres://"
        )
    )
    sim.crash_dyno("my-app", "web.1")  # whichever process checks first, one alert
    env = env_for(heroku, sim, slack, database_url)
    for _ in range(2):
        start(processes, {**env, "PORT": str(free_port())})
    wait_until(lambda: checks_done(sim) >= 1, timeout=30)  # the polling leader's first round
    slack.wait_for_messages(1, timeout=30)
    for process in processes:
        assert "Traceback" not in stop(process)
    assert firsts(slack) == [CRASH]


def test_gunicorn_with_several_workers_sends_each_alert_once(
    heroku_and_slack, processes, tmp_path: Path
):
    sim, heroku, slack = heroku_and_slack
    sim.crash_dyno("my-app", "web.1")
    env = env_for(heroku, sim, slack, f"sqlite:///{tmp_path}/gunicorn.db")
    gunicorn = start(
        processes,
        env,
        "wsgi:app",
        "--workers",
        "3",
        "--bind",
        f"127.0.0.1:{free_port()}",
        command=(str(Path(sys.executable).parent / "gunicorn"),),
    )
    wait_until(lambda: checks_done(sim) >= 1, timeout=30)  # the polling leader's first round
    slack.wait_for_messages(1, timeout=30)
    err = stop(gunicorn)
    assert "Traceback" not in err
    assert firsts(slack) == [CRASH]


def test_a_restart_neither_repeats_an_alert_nor_misses_what_happened_meanwhile(
    heroku_and_slack, processes, tmp_path: Path
):
    sim, heroku, slack = heroku_and_slack
    sim.crash_dyno("my-app", "web.1")
    env = {
        **env_for(heroku, sim, slack, f"sqlite:///{tmp_path}/restart.db"),
        "PORT": str(free_port()),
    }
    first = start(processes, env)
    slack.wait_for_messages(1, timeout=30)
    stop(first)
    sim.stop_dyno("my-app", "worker.1")  # while the service is down
    before = checks_done(sim)
    start(processes, env)
    slack.wait_for_messages(2, timeout=30)
    wait_until(lambda: checks_done(sim) > before, timeout=30)
    assert firsts(slack) == [CRASH, DOWN]


def test_an_alert_whose_sender_was_killed_mid_post_goes_out_when_its_lease_ends(
    heroku_and_slack, processes, tmp_path: Path
):
    import time

    from heroku_monitor.service import Patience

    # The production lease is about half a minute (before: 120 s, and a 15 s tick). These
    # processes claim alerts for LEASE seconds instead: still longer than Slack's 3 s here.
    assert Patience().lease <= 30
    lease = 8.0
    command = app_py_with(
        f"import heroku_monitor.service as s; s.Patience.lease = property(lambda _: {lease})"
    )
    sim, heroku, slack = heroku_and_slack
    sim.crash_dyno("my-app", "web.1")
    path = tmp_path / "killed.db"
    env = {**env_for(heroku, sim, slack, f"sqlite:///{path}"), "PORT": str(free_port())}
    slack.set_latency(3)  # Slack takes its time: the process dies while its post is open

    first = start(processes, env, command=command)
    # Its post has reached Slack, which holds it (the claim was committed before it went).
    wait_until(lambda: slack.arrivals["chat.postMessage"] >= 1, timeout=30)
    first.kill()  # kill -9, mid-post
    first.wait(10)
    killed_at = time.monotonic()
    slack.set_latency(0)
    start(processes, {**env, "PORT": str(free_port())}, command=command)
    # The dead process's post reached Slack after all (Slack answered no one): the one
    # repeat the README names. The restarted process sends the alert at the lease's end.
    slack.wait_for_messages(2, timeout=lease + 40)
    waited = time.monotonic() - killed_at
    assert firsts(slack) == [CRASH, CRASH]
    # Not before the lease ended (the claim was taken just before the kill), nor long after.
    assert lease - 3 < waited < lease + 15, f"redelivered {waited:.1f} s after the kill"
