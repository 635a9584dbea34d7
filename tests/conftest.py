"""Shared fixtures: throwaway databases (SQLite file, real PostgreSQL), servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.support.simulator_api import Api
from tests.support.world import APP, World

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers a core. Many tests spend their time waiting on processes,
    sockets and leases, not computing, so two a core keep the cores busy (on this 2-core
    machine the suite takes about 155 s with 4 workers, 186 s with 2)."""
    return 2 * (os.cpu_count() or 1)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # pyproject's addopts runs the suite on every core (`--numprocesses=auto`, pytest-xdist's
    # `-n auto`; work stealing, so the slow tests do not end on one core). With xdist turned
    # off (`-p no:xdist`) or not installed, the options are taken and ignored here, so that
    # the suite still runs, in one process.
    if not pluginmanager.hasplugin("xdist"):
        parser.addoption("--numprocesses", help="ignored: pytest-xdist is off")
        parser.addoption("--dist", help="ignored: pytest-xdist is off")


def _postgres_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: skip, saying why
        return f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc}"


_PG_SKIP: list[str | None] = []


def _postgres_or_skip() -> None:
    if not _PG_SKIP:
        _PG_SKIP.append(_postgres_reachable())
    if _PG_SKIP[0]:
        pytest.skip(_PG_SKIP[0])


def _fresh_postgres(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (empty, or a copy of `template`), dropped afterwards."""
    import psycopg

    name = f"hm_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    _postgres_or_skip()
    yield from _fresh_postgres()


MIGRATIONS = Path(__file__).resolve().parents[1] / "heroku_monitor" / "store" / "migrations"


@pytest.fixture(scope="session")
def migrated_postgres() -> str:
    """The name of a PostgreSQL database with every migration applied, a template for the
    tests' own: made once for these migrations (its name holds their digest) by whichever
    worker comes first, kept for the next sessions (and for other sessions running beside
    this one: none is ever dropped here, so a session on other migrations breaks none)."""
    _postgres_or_skip()
    import psycopg

    from heroku_monitor.store.database import open_database

    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.rglob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    name = f"hm_template_{digest.hexdigest()[:16]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(7220431)")  # one worker makes it, the rest wait
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return name
            making = f"hm_making_{uuid.uuid4().hex[:12]}"
            conn.execute(f'CREATE DATABASE "{making}"')
            try:
                url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{making}"
                open_database(url).engine.dispose()
                conn.execute(f'ALTER DATABASE "{making}" RENAME TO "{name}"')
            except BaseException:
                conn.execute(f'DROP DATABASE IF EXISTS "{making}" WITH (FORCE)')
                raise
            return name
        finally:
            conn.execute("SELECT pg_advisory_unlock(7220431)")


@pytest.fixture
def migrated_postgres_url(migrated_postgres: str) -> Iterator[str]:
    """A fresh PostgreSQL database, its schema already up to date (a copy of the template:
    opening it finds nothing to migrate), dropped afterwards."""
    yield from _fresh_postgres(template=migrated_postgres)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database with every migration applied, made once per worker: a
    test's database starts as a copy of it (opening it then finds nothing to migrate), which
    saves each test the schema's making."""
    from heroku_monitor.store.database import open_database

    path = tmp_path_factory.mktemp("template") / "monitor.db"
    open_database(f"sqlite:///{path}").engine.dispose()
    return path


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    """A SQLite database that does not exist yet: for tests of what opening one makes."""
    return f"sqlite:///{tmp_path}/empty.db"


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """A throwaway SQLite database, its schema already up to date."""
    shutil.copyfile(migrated_sqlite, tmp_path / "monitor.db")
    return f"sqlite:///{tmp_path}/monitor.db"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on the real PostgreSQL server."""
    fixture = "sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    """The simulator with one app, a fake Slack, and a throwaway SQLite database."""
    sim = Simulator(seed=7)
    sim.create_app(APP)
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        yield World(sim, heroku, slack, sqlite_url)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


# -- the Heroku simulator over HTTP, for the test modules that define a `sim` fixture ----------


@pytest.fixture
def server(sim: Simulator) -> Iterator[SimulatorServer]:
    """The module's `sim`, served on 127.0.0.1."""
    with SimulatorServer(sim) as running:
        yield running


@pytest.fixture
def api(server: SimulatorServer) -> Iterator[Api]:
    """A client of `server` with the Platform API's headers."""
    client = Api(server.url)
    yield client
    client.session.close()
