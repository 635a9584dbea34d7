"""A PostgreSQL server of a test's own, for tests that stop and start it: Debian's `initdb`
and `pg_ctl` (`pg_config --bindir` says where they are) in a temporary folder, on a free
port, run as the `postgres` user when the tests run as root (PostgreSQL refuses root). The
shared server on 5432, and the tests running beside this one, are untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import free_port


def bindir() -> Path | None:
    """Where initdb and pg_ctl are, or None."""
    config = shutil.which("pg_config")
    if config is None:
        return None
    found = subprocess.run([config, "--bindir"], capture_output=True, text=True, timeout=10)
    path = Path(found.stdout.strip())
    return path if (path / "initdb").exists() and (path / "pg_ctl").exists() else None


def missing() -> str | None:
    """Why a server of the test's own cannot be had here, or None."""
    if bindir() is None:
        return "PostgreSQL's initdb and pg_ctl are not installed (pg_config --bindir)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


class OwnPostgres:
    """initdb'd once; `start`, `stop` (fast shutdown: every connection is cut) and
    `restart` at will; `close` removes it all."""

    def __init__(self) -> None:
        self.bin = bindir()
        assert self.bin is not None, missing()
        # In /tmp itself: pytest's own temporary folders are closed to the postgres user.
        self.root = root = Path(tempfile.mkdtemp(prefix="heroku-monitor-pg-"))
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            root.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        assert self.bin is not None
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{tool} failed: {done.stdout}\n{done.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
