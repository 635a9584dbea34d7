"""The soak (SPEC §16, bounded storage): the real service, on SQLite and on PostgreSQL,
against the Heroku simulator and the fake Slack, with a clock it moves through 90 days.
Not a test: it prints the database's size and the process's RSS at days 1, 7, 30 and 90.

    make soak        # or: .venv/bin/python bench/bench.py --soak
    .venv/bin/python bench/soak.py [--days 90] [--apps 50] [--backend sqlite|postgres|both]
                                   [--no-retention]

Time is compressed: per simulated hour each app's drain posts `--batches` Logplex batches
(on the three days before each checkpoint; every day with `--all-days`, ~15 s a day)
(distinct frame ids, their lines stamped on every minute of the hour, so the minute
counters are what a drain posting twice a second makes), a polling round runs every
`--round-hours`, one app deploys every `--deploy-hours`, one app crash-loops every day
(five crashes a minute apart, each checked), the outbox is delivered, incidents are
tended, and the leader's prune job (`Scheduler.prune`, every table's retention) runs
every simulated hour (every 10 minutes in production). A drain posting twice a second
sends 7,200 batch ids an hour per app, kept an hour: that table's real size is estimated
from its measured bytes per row, and measured with `--full-rate-hours 2` (after the days,
two hours of clock at that rate, every batch taken and flushed as the drain endpoint does:
the table's steady state, pruned every 10 minutes):

    .venv/bin/python bench/soak.py --backend postgres --days 90 --full-rate-hours 2

`--no-retention` runs what pruned before retention.py: the alert log after 90 days
(daily) and the Heroku spend (hourly); nothing else.

On PostgreSQL, autovacuum cannot keep up with compressed time (a simulated day passes in
seconds): a plain VACUUM runs every `--vacuum-hours` simulated hours in its place, and one
of the log tables after every hourly prune (autovacuum's for them, which migration 0020
starts once 2% of their rows are dead: after each prune of `log_batches`, every hour's of
`log_counts`, every half hour's of `log_latency`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, insert, select, text

from heroku_monitor import service as service_module
from heroku_monitor.core.logs.parse import parse_logplex
from heroku_monitor.runtime import drains, memory
from heroku_monitor.runtime.scheduler import PRUNE_EVERY
from heroku_monitor.service import Patience, Service
from heroku_monitor.settings import Settings
from heroku_monitor.store.log_counts import batch_key
from heroku_monitor.store.models import Base, LogBatch
from heroku_sim import Simulator, SimulatorServer
from heroku_sim.logs import router_error
from tests.fakes import FakeSlack

CHECKPOINTS = (1, 7, 30, 90)
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REAL_BATCHES_PER_HOUR = 2 * 3600  # a drain posting twice a second
# Vacuumed by autovacuum once 2% of their rows are dead (migration 0020): a prune of them
# is followed by their VACUUM within a prune or a few.
LOG_TABLES = ("log_counts", "log_latency", "log_batches")
START = datetime(2026, 1, 1, tzinfo=UTC)
QUICK = Patience(heroku_backoff=0.01, slack_backoff=0.01)


class SoakClock:
    """The one clock of the simulator and the service; the soak moves it. Its time is in
    memory shared with the fakes' process (a POSIX timestamp), so both read the same."""

    def __init__(self, shared: Any, *, start: bool = True) -> None:
        self.shared = shared
        if start:
            self.shared.value = START.timestamp()

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.shared.value, UTC)

    def advance(self, **delta: float) -> None:
        self.shared.value += timedelta(**delta).total_seconds()


class Fakes:
    """The simulator and the fake Slack, served from a process of their own (a
    multiprocessing manager's), so that the RSS measured is the service's: the fakes
    keep every release, request and message of 90 days, and serve every response."""

    def __init__(self, apps: list[str]) -> None:
        assert _SHARED_TIME is not None
        self.sim = Simulator(seed=7, clock=SoakClock(_SHARED_TIME, start=False))
        for app in apps:
            self.sim.create_app(app)
        self.heroku = SimulatorServer(self.sim).__enter__()
        self.slack = FakeSlack().__enter__()

    def addresses(self) -> tuple[str, str, str, str]:
        """(Heroku URL, Heroku token, Slack URL, Slack token)."""
        return self.heroku.url, self.sim.token, self.slack.url, self.slack.token

    def set_rate_limit_remaining(self, remaining: int) -> None:
        self.sim.set_rate_limit_remaining(remaining)

    def deploy(self, app: str) -> None:
        self.sim.deploy(app)

    def crash_dyno(self, app: str, dyno: str) -> None:
        self.sim.crash_dyno(app, dyno)

    def start_dyno(self, app: str, dyno: str) -> None:
        self.sim.start_dyno(app, dyno)

    def rss_mb(self) -> float:
        return rss_kb() / 1024

    def close(self) -> None:
        self.slack.__exit__(None, None, None)
        self.heroku.__exit__(None, None, None)


_SHARED_TIME: Any = None


def _share_time(shared: Any) -> None:
    global _SHARED_TIME
    _SHARED_TIME = shared


class _FakesManager(BaseManager):
    pass


_FakesManager.register("Fakes", Fakes)


@contextmanager
def fakes_apart(apps: list[str]) -> Iterator[tuple[SoakClock, Any]]:
    """The soak's clock and its fakes (a proxy of `Fakes`) in a process of their own."""
    shared = multiprocessing.get_context("fork").Value("d", 0.0, lock=False)
    clock = SoakClock(shared)
    manager = _FakesManager(ctx=multiprocessing.get_context("fork"))
    manager.start(_share_time, (shared,))
    try:
        fakes = manager.Fakes(apps)  # type: ignore[attr-defined]
        try:
            yield clock, fakes
        finally:
            fakes.close()
    finally:
        manager.shutdown()


def memory_breakdown() -> dict[str, float]:
    """Where this process's resident memory is, in MB, from /proc/self/smaps: mapped files
    (code, libraries), glibc's main heap, its other threads' arenas, and the rest of the
    anonymous memory (Python's object arenas, big allocations, thread stacks); and
    Python's own small-object allocator (pymalloc): its arenas and what is in use."""
    out = {"file": 0.0, "heap": 0.0, "thread_arenas": 0.0, "other_anon": 0.0}
    maps: list[list[str | int]] = []
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            maps.append([parts[0], parts[1], parts[5] if len(parts) > 5 else "", 0])
        elif parts and parts[0] == "Rss:" and maps:
            maps[-1][3] = int(parts[1])
    for i, (span, perms, name, rss) in enumerate(maps):
        kb = float(rss) / 1024
        if str(name).startswith("/"):
            out["file"] += kb
        elif name == "[heap]":
            out["heap"] += kb
        elif not name and perms == "rw-p":
            start = int(str(span).split("-")[0], 16)
            after = maps[i + 1] if i + 1 < len(maps) else None
            # a thread's arena: 64 MB reserved, its used part writable, the rest not
            arena = (
                after is not None
                and after[1] == "---p"
                and not after[2]
                and int(str(after[0]).split("-")[1], 16) - start == 64 << 20
            )
            out["thread_arenas" if arena else "other_anon"] += kb
    out.update(_pymalloc_stats())
    out["sqlite"] = _sqlite_memory_used() / 1e6
    return out


def _sqlite_memory_used() -> int:
    """Bytes SQLite's allocator holds in this process (every connection's page cache and
    prepared statements): sqlite3_memory_used() of the library the sqlite3 module uses."""
    import ctypes

    for line in Path("/proc/self/maps").read_text().splitlines():
        if "libsqlite3" in line and ".so" in line:
            library = ctypes.CDLL(line.split()[-1])
            library.sqlite3_memory_used.restype = ctypes.c_int64
            return int(library.sqlite3_memory_used())
    return 0


def _pymalloc_stats() -> dict[str, float]:
    """pymalloc's arenas and the bytes in use in them (sys._debugmallocstats), in MB."""
    import re

    with tempfile.TemporaryFile(mode="w+") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        text_ = sink.read()

    def number(pattern: str) -> float:
        found = re.search(pattern + r"\s*=\s*([\d,]+)", text_)
        return float(found.group(1).replace(",", "")) if found else 0.0

    return {
        "pymalloc_arenas": number(r"# arenas allocated current"),  # 1 MiB each
        "pymalloc_used": number(r"# bytes in allocated blocks") / 2**20,
    }


def traced_by_owner(limit: int = 8) -> dict[str, float]:
    """With tracemalloc on (`--tracemalloc`): the Python heap in MB by who allocated it,
    the soak's fakes (the simulator, the fake Slack) apart from the service."""
    import tracemalloc

    owners: dict[str, float] = {}
    for stat in tracemalloc.take_snapshot().statistics("filename"):
        name = stat.traceback[0].filename
        if "/heroku_sim/" in name:
            owner = "simulator"
        elif "/tests/" in name:
            owner = "fake slack (tests/)"
        elif "/heroku_monitor/" in name:
            owner = "heroku_monitor"
        elif "site-packages/" in name:
            owner = name.split("site-packages/")[1].split("/")[0]
        else:
            owner = "stdlib/other"
        owners[owner] = owners.get(owner, 0.0) + stat.size / 1e6
    return dict(sorted(owners.items(), key=lambda kv: -kv[1])[:limit])


def _snapshot() -> object:
    import tracemalloc

    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )


def grown_since(first: object, limit: int = 12) -> None:
    """With `--tracemalloc`, from the second checkpoint on: the lines whose Python memory
    grew most since the first one."""
    if first is None:
        for stat in _snapshot().statistics("lineno")[:limit]:  # type: ignore[attr-defined]
            print(f"      biggest: {stat}")
        return
    for stat in _snapshot().compare_to(first, "lineno")[:limit]:  # type: ignore[attr-defined]
        print(f"      grown: {stat}")


def rss_kb() -> int:
    """This process's resident memory now (VmRSS), in KB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextmanager
def database(backend: str, workdir: str) -> Iterator[str]:
    """A database of the soak's own: an SQLite file, or `soak_<pid>` on the local
    PostgreSQL server (dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/soak.db"
        return
    import psycopg

    name = f"soak_{os.getpid()}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_problem() -> str | None:
    """Why the local PostgreSQL server cannot be used (None: it can)."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_ADMIN, connect_timeout=3).close()
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def batch_body(app: str, start: datetime, minutes: int, errors: bool) -> bytes:
    """A Logplex body: two router lines a minute for `minutes` minutes from `start`, and
    for an app in trouble an H12 every minute too."""
    frames = []
    for minute in range(minutes):
        at = (start + timedelta(minutes=minute)).isoformat(timespec="microseconds")
        lines = [router_error(app, "H12", path=f"/p/{minute % 5}")] if errors else []
        ok = router_error(app, "H12")[1].replace("at=error code=H12", "at=info")
        lines += [("router", ok.replace("status=503", "status=200"))] * 2
        for procid, message in lines:
            raw = f"<158>1 {at} host heroku {procid} - {message}\n".encode()
            frames.append(str(len(raw)).encode() + b" " + raw)
    return b"".join(frames)


def sizes(service: Service, backend: str) -> dict[str, float]:
    """The database's size in MB (SQLite: its pages in use, its free pages, the file and
    its WAL; PostgreSQL: pg_database_size)."""
    db, out = service.db, {}
    with db.engine.connect() as conn:
        if backend == "sqlite":
            page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
            path = Path(str(db.engine.url.database))
            wal = path.with_name(path.name + "-wal")
            out["db_mb"] = (pages - free) * page / 1e6
            out["free_mb"] = free * page / 1e6
            out["file_mb"] = path.stat().st_size / 1e6
            out["wal_mb"] = wal.stat().st_size / 1e6 if wal.exists() else 0.0
        else:
            size = conn.execute(text("SELECT pg_database_size(current_database())"))
            out["db_mb"] = size.scalar_one() / 1e6
    return out


def table_sizes(service: Service, backend: str, limit: int = 6) -> dict[str, float]:
    """The biggest tables, in MB, each with its indexes (PostgreSQL: and its TOAST)."""
    with service.db.engine.connect() as conn:
        if backend == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT m.tbl_name, sum(s.pgsize) FROM dbstat s JOIN sqlite_master m "
                "ON m.name = s.name GROUP BY m.tbl_name ORDER BY 2 DESC"
            ).all()
        else:
            rows = conn.execute(
                text(
                    "SELECT c.relname, pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
                    "pg_indexes_size(c.oid), coalesce(s.n_live_tup, 0), "
                    "coalesce(s.n_dead_tup, 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                    "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC"
                )
            ).all()
            out = {}
            for name, total, heap, indexes, live, dead in rows[:limit]:
                out[str(name)] = float(total or 0) / 1e6
                if float(total or 0) > 1e6:  # the big ones: where their bytes are
                    out[f"  {name} heap"] = float(heap or 0) / 1e6
                    out[f"  {name} indexes"] = float(indexes or 0) / 1e6
                    out[f"  {name} live rows (k)"] = float(live) / 1e3
                    out[f"  {name} dead rows (k)"] = float(dead) / 1e3
            return out
    return {str(name): float(size or 0) / 1e6 for name, size in rows[:limit]}


def _batches_bytes(service: Service, backend: str) -> int:
    with service.db.engine.connect() as conn:
        if backend == "sqlite":
            used = conn.exec_driver_sql(
                "SELECT sum(pgsize - unused) FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_master WHERE tbl_name = 'log_batches')"
            ).scalar()
        else:
            used = conn.execute(text("SELECT pg_total_relation_size('log_batches')")).scalar()
        return int(used or 0)


def batch_row_bytes(service: Service, backend: str, apps: list[str], n: int = 20_000) -> float:
    """Bytes a `log_batches` row takes with its indexes, measured by adding `n` rows of
    the real shape (an app's name and a Logplex frame id) and taking them out again."""
    before = _batches_bytes(service, backend)
    now = service.clock()
    # a real Logplex-Frame-Id is 32 hex digits
    rows = [
        {"key": batch_key(apps[i % len(apps)], uuid.uuid4().hex.upper()), "seen_at": now}
        for i in range(n)
    ]
    with service.db.transaction() as s:
        s.execute(insert(LogBatch), rows)
    if backend == "postgres":
        vacuum(service)
    grown = _batches_bytes(service, backend) - before
    with service.db.transaction() as s:
        s.execute(delete(LogBatch).where(LogBatch.key.in_([r["key"] for r in rows])))
    return grown / n


def row_counts(service: Service) -> dict[str, int]:
    with service.db.reading() as s:
        return {
            name: int(s.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in sorted(Base.metadata.tables.items())
        }


def vacuum(service: Service, tables: tuple[str, ...] = ()) -> None:
    """VACUUM the database (or only `tables`)."""
    with service.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM {', '.join(tables)}"))


def full_rate(
    service: Service, backend: str, apps: list[str], clock: SoakClock, hours: int
) -> dict[str, float]:
    """`hours` of drains at their real rate (`--full-rate-hours`): each app posts twice a
    second of clock, each batch a new frame id and a counter and response time of its
    minute, taken as the drain endpoint takes it (`LogCounts.take`) and flushed every second
    (`FLUSH_EVERY`); the leader's prune job runs every 10 minutes (`PRUNE_EVERY`), and on
    PostgreSQL a VACUUM after it (autovacuum's part). `log_batches` then holds what it holds
    in production: an hour of batch ids and the 10 minutes until the next prune. Returns
    its size at its largest (just before a prune), its rows then, and the database's size
    at the end (MB)."""
    counts = service.checker.log_counts
    per_second = REAL_BATCHES_PER_HOUR // 3600
    prune_every = int(PRUNE_EVERY)
    times = (0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # two responses, one bucket
    largest, rows_then, started = 0, 0, time.perf_counter()
    for second in range(hours * 3600):
        clock.advance(seconds=1)
        now = clock()
        minute = now.replace(second=0, microsecond=0)
        for app in apps:
            for n in range(per_second):
                frame = f"{app}-{second}-{n}"
                counts.take(app, frame, [(minute, "requests", 2)], 2, now, times=[(minute, times)])
        counts.flush(ask=False)
        if (second + 1) % prune_every == 0:
            size = _batches_bytes(service, backend)
            if size > largest:
                largest = size
                with service.db.reading() as s:
                    rows_then = s.execute(select(func.count()).select_from(LogBatch)).scalar_one()
            service.leadership.tend()  # the leader keeps its lease, and prunes
            service.scheduler.prune()
            if backend == "postgres":
                vacuum(service)
    out = {
        "log_batches_mb": largest / 1e6,
        "rows": float(rows_then),
        "bytes_per_row": largest / max(rows_then, 1),
        "seconds": time.perf_counter() - started,
        **sizes(service, backend),
    }
    print(
        f"[{backend}] then {hours} h of drains at 2 batches/s for {len(apps)} apps "
        f"({out['seconds']:.0f} s): log_batches at its largest {out['log_batches_mb']:.1f} MB "
        f"({rows_then} rows, {out['bytes_per_row']:.0f} B/row); "
        f"database {out['db_mb']:.1f} MB"
    )
    print(
        "    tables: " + ", ".join(f"{k} {v:.1f}" for k, v in table_sizes(service, backend).items())
    )
    return out


def soak(backend: str, args: argparse.Namespace) -> list[dict[str, object]]:
    apps = [f"soak-app-{n:02d}" for n in range(args.apps)]
    report: list[dict[str, object]] = []
    with (
        tempfile.TemporaryDirectory() as workdir,
        fakes_apart(apps) as (clock, sim),
        database(backend, workdir) as url,
    ):
        heroku_url, heroku_token, slack_url, slack_token = sim.addresses()
        settings = Settings(
            heroku_api_key=heroku_token,
            slack_bot_token=slack_token,
            database_url=url,
            heroku_api_url=heroku_url,
            slack_api_url=slack_url,
        )
        service = service_module.build(settings, clock=clock, patience=QUICK)
        ids = {app: service.monitors.add(app, "#alerts", 1, clock()) for app in apps}
        everyone = set(ids.values())
        service.leadership.tend()
        service.scheduler.run_round(everyone)  # the baselines
        started, deploys, per_row = time.perf_counter(), 0, 0.0
        first_snapshot = None
        for hour in range(args.days * 24):
            day = hour // 24
            sim.set_rate_limit_remaining(4500)  # the simulator's budget refills as an hour does
            hour_start = clock()
            step = 60 // args.batches
            draining = args.all_days or any(0 <= c - 1 - day < 3 for c in CHECKPOINTS)
            for part in range(args.batches if draining else 0):
                clock.advance(minutes=step)
                for n, app in enumerate(apps):
                    errors = n % 10 == 0 and hour % 6 == 0  # some trouble, now and then
                    body = batch_body(
                        app, hour_start + timedelta(minutes=part * step), step, errors
                    )
                    lines = parse_logplex(body).lines
                    frame = f"{app}-{hour}-{part}"
                    drains.take(
                        service.checker.log_counts,
                        service.monitors,
                        lambda _id: None,
                        app,
                        frame,
                        lines,
                        clock(),
                    )
            if hour % args.deploy_hours == 0:
                app = apps[deploys % len(apps)]
                deploys += 1
                sim.deploy(app)
                service.checker.check(ids[app])
            if hour % 24 == 3:  # the day's crash loop
                app = apps[day % len(apps)]
                for _ in range(5):
                    sim.crash_dyno(app, "web.1")
                    service.checker.check(ids[app])
                    clock.advance(minutes=1)
                    sim.start_dyno(app, "web.1")
                    service.checker.check(ids[app])
            if hour % args.round_hours == 0:
                service.leadership.tend()
                service.scheduler.run_round(everyone)
            service.delivery.run()
            if hour % args.tick_hours == 0:
                service.conversations.tick()
            service.leadership.tend()
            if args.retention:
                service.scheduler.prune()  # the leader's prune job
            else:
                if hour % 24 == 0:
                    service.outbox.prune(clock())
                service.scheduler.spend.prune(clock())
            if backend == "postgres" and hour % args.vacuum_hours == 0:
                vacuum(service)
            elif backend == "postgres" and args.retention:
                vacuum(service, LOG_TABLES)  # what their autovacuum does after a prune
            behind = hour_start + timedelta(hours=1) - clock()
            if behind > timedelta(0):  # an hour without drains is an hour of clock too
                clock.advance(seconds=behind.total_seconds())
            if (hour + 1) % 24 == 0 and (day + 1) in CHECKPOINTS:
                measured: dict[str, object] = {"day": day + 1, **sizes(service, backend)}
                if args.trim:
                    measured["untrimmed_rss_mb"] = rss_kb() / 1024
                    memory.trim()
                measured["rss_mb"] = rss_kb() / 1024
                measured["fakes_rss_mb"] = sim.rss_mb()
                measured["tables"] = table_sizes(service, backend)
                if args.memory:
                    measured["memory"] = memory_breakdown()
                    if args.tracemalloc:
                        measured["traced"] = traced_by_owner()
                        grown_since(first_snapshot)
                        first_snapshot = first_snapshot or _snapshot()
                if day + 1 == CHECKPOINTS[0]:
                    per_row = batch_row_bytes(service, backend, apps)
                measured["batch_bytes_per_row"] = per_row
                measured["batches_mb"] = _batches_bytes(service, backend) / 1e6
                measured["rows"] = row_counts(service)
                measured["seconds"] = time.perf_counter() - started
                report.append(measured)
                print_checkpoint(backend, args, measured)
        if args.full_rate_hours:
            report.append(
                {"full_rate": full_rate(service, backend, apps, clock, args.full_rate_hours)}
            )
        service.stop()
    return report


def print_checkpoint(backend: str, args: argparse.Namespace, m: dict[str, object]) -> None:
    rows = m["rows"]
    assert isinstance(rows, dict)
    per_row = float(str(m["batch_bytes_per_row"]))
    real = per_row * REAL_BATCHES_PER_HOUR * args.apps * (1 + PRUNE_EVERY / 3600) / 1e6
    extra = ""
    if backend == "sqlite":
        extra = (
            f" (free {m['free_mb']:.1f} MB, file {m['file_mb']:.1f} MB, WAL {m['wal_mb']:.1f} MB)"
        )
    mode = "retention" if args.retention else "NO retention"
    print(
        f"[{backend}, {mode}] day {m['day']:>2}: database {m['db_mb']:.1f} MB{extra}, "
        f"RSS {m['rss_mb']:.0f} MB"
        + (f" ({m['untrimmed_rss_mb']:.0f} before malloc_trim)" if "untrimmed_rss_mb" in m else "")
        + f" (the fakes' process: {m['fakes_rss_mb']:.0f} MB), "
        f"{m['seconds']:.0f} s so far"
    )
    at_rate = float(str(m["db_mb"])) - float(str(m["batches_mb"])) + real
    print(
        f"    rows: {', '.join(f'{k} {v}' for k, v in rows.items() if v)}; log_batches at "
        f"2 batches/s would hold ~{real:.0f} MB ({per_row:.0f} B/row): the database at that "
        f"rate ~{at_rate:.0f} MB (--full-rate-hours 2 measures it)"
    )
    for key in ("memory", "traced", "tables"):
        part = m.get(key)
        if isinstance(part, dict):
            print(f"    {key}: " + ", ".join(f"{k} {float(v):.1f}" for k, v in part.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--batches", type=int, default=2, help="drain batches per app-hour")
    parser.add_argument("--round-hours", type=int, default=24)
    parser.add_argument("--tick-hours", type=int, default=12, help="tend incidents every")
    parser.add_argument(
        "--all-days", action="store_true", help="drains every day (default: 3 days a checkpoint)"
    )
    parser.add_argument("--deploy-hours", type=int, default=4)
    parser.add_argument("--vacuum-hours", type=int, default=6)
    parser.add_argument("--no-retention", dest="retention", action="store_false")
    parser.add_argument(
        "--full-rate-hours",
        type=int,
        default=0,
        help="after the days: hours of drains at 2 batches/s (the batch ids' steady state)",
    )
    parser.add_argument(
        "--memory", action="store_true", help="where the RSS is, at each checkpoint (MB)"
    )
    parser.add_argument(
        "--trim", action="store_true", help="malloc_trim before each RSS (glibc's free pages)"
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="with --memory: the Python heap by owner"
    )
    args = parser.parse_args(argv)
    # As the service's build does, but before the simulator's and fake Slack's threads start
    # here: glibc fixes its arena count when a second thread first allocates.
    memory.limit_malloc_arenas()
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and (problem := postgres_problem()):
        print(f"PostgreSQL soak skipped: no server at {POSTGRES_ADMIN} ({problem}).")
        backends.remove("postgres")
    for backend in backends:
        soak(backend, args)


if __name__ == "__main__":
    main()
