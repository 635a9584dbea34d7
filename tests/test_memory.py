"""What keeps a polling process small (SPEC §13, issue 17 item 6): what it imports, the
connections it holds, the threads a round takes. Each rule is cheap to hold here; the
figures are measured by bench/rss.py (500 apps) and bench/soak.py (90 days)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from heroku_monitor import service as service_module
from heroku_monitor.heroku.transport import Transport
from heroku_monitor.runtime import memory
from heroku_monitor.store import database
from heroku_monitor.store.database import (
    PG_POOL_OVERFLOW,
    PG_POOL_SIZE,
    POOL_OVERFLOW,
    POOL_SIZE,
    SQLITE_CACHE_KIB,
    SQLITE_STATEMENTS,
    open_database,
)
from tests.support.slack import SECRET
from tests.support.world import World

ROOT = Path(__file__).resolve().parent.parent


def test_the_connection_pool_is_bounded(database_url: str):
    db = open_database(database_url)
    sqlite = (POOL_SIZE, POOL_OVERFLOW)
    size, overflow = sqlite if db.is_sqlite else (PG_POOL_SIZE, PG_POOL_OVERFLOW)
    try:
        assert db.engine.pool.size() == size  # type: ignore[attr-defined]
        assert db.engine.pool._max_overflow == overflow  # type: ignore[attr-defined]
    finally:
        db.close()


def test_each_sqlite_connection_keeps_a_small_page_cache_and_few_statements(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    asked: list[object] = []
    connect = sqlite3.dbapi2.connect

    def recorded(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        asked.append(kwargs.get("cached_statements"))
        return connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3.dbapi2, "connect", recorded)
    db = open_database(sqlite_url)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -SQLITE_CACHE_KIB
        assert asked and set(asked) == {SQLITE_STATEMENTS}
    finally:
        db.close()


def test_an_up_to_date_database_opens_without_alembic(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
):
    def no_migration(_conn: object) -> None:
        raise AssertionError("migrated a database whose schema is the newest")

    monkeypatch.setattr(database, "migrate", no_migration)
    open_database(sqlite_url).close()


def test_a_new_database_is_still_migrated(empty_sqlite_url: str):
    db = open_database(empty_sqlite_url)
    try:
        with db.engine.connect() as conn:
            assert database.schema_is_current(conn)
    finally:
        db.close()


def test_the_newest_revision_read_from_the_files_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(database.MIGRATIONS))
    assert database.newest_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_a_polling_process_loads_neither_alembic_nor_bolt(sqlite_url: str):
    """What a process that polls imports (in a process of its own, as rss.py measures):
    not Alembic when its schema is current, not Bolt before a Slack request, not the
    PostgreSQL dialect on SQLite."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from heroku_monitor import service\n"
        "from heroku_monitor.settings import Settings\n"
        f"s = service.build(Settings(database_url={sqlite_url!r}, slack_signing_secret='x'))\n"
        "s.stop()\n"
        "heavy = ('alembic', 'mako', 'slack_bolt', 'sqlalchemy.dialects.postgresql')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_slack_app_is_made_at_its_first_use(world: World):
    service = service_module.build(world.settings(slack_signing_secret=SECRET))
    try:
        assert service._bolt is None
        bolt = service.bolt
        assert bolt is not None
        assert service.bolt is bolt
    finally:
        service.stop()


def test_a_lone_request_takes_no_pool_thread():
    transport = Transport("http://127.0.0.1:9", "key")
    try:
        assert transport.together(threading.get_ident) == [threading.get_ident()]
        first, second = transport.together(threading.get_ident, threading.get_ident)
        assert first == threading.get_ident() != second
    finally:
        transport.close()


def test_malloc_arenas_are_limited_on_glibc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    if memory._glibc() is None:
        pytest.skip("not glibc: its malloc arenas are not ours to limit")
    assert memory.limit_malloc_arenas()


def test_the_memory_trimmer_runs_while_the_service_runs(world: World):
    if memory._glibc() is None:
        pytest.skip("not glibc: there is no malloc_trim to run")
    service = service_module.build(world.settings(slack_signing_secret=SECRET))
    service.trimmer.every = 0.01
    service.start()
    try:
        assert any(t.name == memory.Trimmer.name for t in threading.enumerate())
        assert service._bolt is None  # HTTP slash commands: Bolt waits for the first request
    finally:
        service.stop()
    assert not any(t.name == memory.Trimmer.name for t in threading.enumerate())


def test_a_bulk_write_is_sent_in_pages_not_as_one_statement_of_every_row(sqlite_url: str):
    """A drain flush of 20,000 counters held them all, with their parameters, at once
    (~20 MB in the soak); in pages it holds `PAGE_ROWS` of them."""
    from sqlalchemy import event, func, select

    from heroku_monitor.store.models import KeyValue

    db = open_database(sqlite_url)
    sizes: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):
        if many:
            sizes.append(len(params))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        rows = [{"key": f"k{i}", "value": ""} for i in range(2 * database.PAGE_ROWS + 5)]
        with db.transaction() as s:
            database.in_pages(s, db.insert(KeyValue).on_conflict_do_nothing(), rows)
        assert sizes == [database.PAGE_ROWS, database.PAGE_ROWS, 5]
        with db.reading() as s:
            assert s.execute(select(func.count()).select_from(KeyValue)).scalar_one() >= len(rows)
    finally:
        db.close()
