"""The command line's own errors: each is one line on stderr and exit code 2, and nothing
has started by then."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from heroku_monitor import service as service_module
from heroku_monitor.service import Service
from heroku_monitor.settings import Settings
from tests.support.processes import APP_PY, ROOT, clean_env, free_port, run_app
from tests.support.world import World


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program is listening on."""
    with socket.create_server(("0.0.0.0", free_port())) as taken:
        yield int(taken.getsockname()[1])


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_busy_port_stops_start_up_with_one_line_before_anything_runs(
    tmp_path: Path, busy_port: int
):
    env = clean_env(PORT=str(busy_port), DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    done = run_app(env, "--demo", cwd=tmp_path)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert f"cannot listen on port {busy_port}" in line and "set PORT" in line


def test_a_busy_simulator_port_stops_the_demo_with_one_line(tmp_path: Path, busy_port: int):
    env = clean_env(
        PORT=str(free_port()),
        SIMULATOR_PORT=str(busy_port),
        DATABASE_URL=f"sqlite:///{tmp_path}/m.db",
    )
    done = run_app(env, "--demo", cwd=tmp_path)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert f"simulator cannot listen on port {busy_port}" in line and "SIMULATOR_PORT" in line


def test_ctrl_c_while_the_service_is_still_importing_exits_130_without_a_traceback(
    tmp_path: Path,
):
    """Stopping a process as it starts (a deploy, a restart, a test) lands in its imports."""
    env = clean_env(PORT=str(free_port()), DATABASE_URL=f"sqlite:///{tmp_path}/m.db")
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", APP_PY, "--demo"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # each import, as it ends: ours have begun
        if line.rstrip().split("| ")[-1].strip().startswith("heroku_monitor."):
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=30)
    assert "Traceback" not in rest, rest[-2000:]
    assert process.returncode == 130


def test_ctrl_c_after_the_scheduler_started_stops_the_service_before_the_process_ends(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    """Between the scheduler's start and the server's loop, a Ctrl-C must still stop the
    service: a round left running would fail at the interpreter's exit, with a traceback."""
    from heroku_monitor import cli

    started: list[Service] = []

    def start(settings: Settings, simulator: object = None) -> tuple[Service, object]:
        service = service_module.build(settings)
        started.append(service)
        return service, None

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "start", start)
    monkeypatch.setattr(cli, "make_server", interrupted)
    stopped: list[Service] = []
    stop = Service.stop

    def recorded_stop(self: Service) -> None:
        stopped.append(self)
        stop(self)

    monkeypatch.setattr(Service, "stop", recorded_stop)
    with pytest.raises(KeyboardInterrupt):
        cli.run(world.settings(port=free_port()))
    assert stopped == started and len(started) == 1
