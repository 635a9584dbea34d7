"""The command line's own errors: each is one line on stderr and exit code 2, and nothing
has started by then."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import clean_env, free_port, run_app


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
