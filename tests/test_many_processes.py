"""Several real processes on one database (SPEC section 13): one of them leads the polling,
the others poll nothing; each alert goes out once; and when the leader is killed (kill -9)
another takes over within two lease periods."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.processes import free_port, start, stop, wait_for_http
from tests.test_exactly_once import env_for
from tests.web import wait_until

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
LEASE = 2  # seconds: LEADER_LEASE_SECONDS for these processes


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
        else str(request.getfixturevalue("postgres_url")).replace(
            "postgresql+psycopg://", "postgres://"
        )
    )
    sim = Simulator(seed=5)
    sim.create_app("my-app")
    sim.crash_dyno("my-app", "web.1")
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        env = {**env_for(heroku, sim, slack, database_url), "LEADER_LEASE_SECONDS": str(LEASE)}
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
