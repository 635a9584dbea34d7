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
from its measured bytes per row.

`--no-retention` runs what pruned before retention.py: the alert log after 90 days
(daily) and the Heroku spend (hourly); nothing else.

On PostgreSQL, autovacuum cannot keep up with compressed time (a simulated day passes in
seconds): a plain VACUUM runs every `--vacuum-hours` simulated hours in its place.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, insert, select, text

from heroku_monitor import service as service_module
from heroku_monitor.core.logs.parse import parse_logplex
from heroku_monitor.runtime import drains
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
START = datetime(2026, 1, 1, tzinfo=UTC)
QUICK = Patience(heroku_backoff=0.01, slack_backoff=0.01)


class SoakClock:
    """The one clock of the simulator and the service; the soak moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


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


def vacuum(service: Service) -> None:
    with service.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM"))


def soak(backend: str, args: argparse.Namespace) -> list[dict[str, object]]:
    clock = SoakClock()
    sim = Simulator(seed=7, clock=clock)
    apps = [f"soak-app-{n:02d}" for n in range(args.apps)]
    for app in apps:
        sim.create_app(app)
    report: list[dict[str, object]] = []
    with (
        tempfile.TemporaryDirectory() as workdir,
        SimulatorServer(sim) as heroku,
        FakeSlack() as slack,
        database(backend, workdir) as url,
    ):
        settings = Settings(
            heroku_api_key=sim.token,
            slack_bot_token=slack.token,
            database_url=url,
            heroku_api_url=heroku.url,
            slack_api_url=slack.url,
        )
        service = service_module.build(settings, clock=clock, patience=QUICK)
        ids = {app: service.monitors.add(app, "#alerts", 1, clock()) for app in apps}
        everyone = set(ids.values())
        service.leadership.tend()
        service.scheduler.run_round(everyone)  # the baselines
        started, deploys, per_row = time.perf_counter(), 0, 0.0
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
            if (hour + 1) % 24 == 0 and (day + 1) in CHECKPOINTS:
                measured: dict[str, object] = {"day": day + 1, **sizes(service, backend)}
                measured["rss_mb"] = rss_kb() / 1024
                if day + 1 == CHECKPOINTS[0]:
                    per_row = batch_row_bytes(service, backend, apps)
                measured["batch_bytes_per_row"] = per_row
                measured["rows"] = row_counts(service)
                measured["seconds"] = time.perf_counter() - started
                report.append(measured)
                print_checkpoint(backend, args, measured)
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
        f"RSS {m['rss_mb']:.0f} MB, {m['seconds']:.0f} s so far"
    )
    print(
        f"    rows: {', '.join(f'{k} {v}' for k, v in rows.items() if v)}; log_batches at "
        f"2 batches/s would hold ~{real:.0f} MB ({per_row:.0f} B/row)"
    )


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
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and (problem := postgres_problem()):
        print(f"PostgreSQL soak skipped: no server at {POSTGRES_ADMIN} ({problem}).")
        backends.remove("postgres")
    for backend in backends:
        soak(backend, args)


if __name__ == "__main__":
    main()
