"""Benchmark: the dashboard's overview (`GET /`) and `/healthz` at many apps (SPEC §6:
at 500 monitored apps, `/` in at most 300 ms and 300 KB, in a fixed number of queries).

    .venv/bin/python bench/dashboard_bench.py            # 41 and 500 apps
    .venv/bin/python bench/dashboard_bench.py --apps 5 200 500 --runs 7

Each size gets a throwaway SQLite database filled directly through the store
(tests/support/many_apps.py: every app's monitor and last snapshot, a deploy alert on
every fourth, an open crash incident on every fiftieth), and the Flask app's test client:
no network. Printed per size: the median wall time of rendering `/` (after one warm-up),
its size, the SQL statements `/` and `/healthz` each execute, and the median time of
`/healthz` and of the page of an app with an open incident (`/apps/{app}`, and its size;
"—" where there is no such page). `rows()` gives the same figures as (measure, value,
goal) rows for bench/bench.py's table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heroku_monitor import service as service_module
from heroku_monitor.service import Service
from heroku_monitor.settings import Settings
from heroku_monitor.web import create_app
from tests.support.many_apps import populate

GOAL_MS, GOAL_KB = 300, 300


@dataclass(frozen=True)
class Figures:
    apps: int
    ms: float
    kb: float
    statements: int  # of one `GET /`
    healthz_statements: int
    healthz_ms: float
    app_ms: float | None  # one app's page (`GET /apps/{app}`, an app with an open incident)
    app_kb: float | None  # (None: no such page, as before there was one)


@contextmanager
def counted(service: Service) -> Iterator[list[str]]:
    """Every SQL statement the service's engine executes meanwhile."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(service.db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(service.db.engine, "before_cursor_execute", note)


def measure(apps: int, runs: int = 5) -> Figures:
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(
            heroku_api_key="bench",
            slack_bot_token="",
            monitored_app_name=None,
            database_url=f"sqlite:///{workdir}/monitor.db",
            heroku_api_url="http://127.0.0.1:9",  # never called: nothing is checked
        )
        service = service_module.build(settings)
        try:
            herd = populate(service, apps, service.clock())
            client = create_app(service).test_client()
            troubled = f"/apps/{(herd.crashed or herd.apps)[0]}"

            def timed(path: str) -> tuple[float | None, float | None]:
                """Median ms and KB of `runs` renders of `path`, after one warm-up (None
                when there is no such page)."""
                if client.get(path).status_code == 404:  # warm-up: templates compiled
                    return None, None
                times, size = [], 0
                for _ in range(runs):
                    start = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - start)
                    assert response.status_code in (200, 503), (path, response.status_code)
                    size = len(response.data)
                return statistics.median(times) * 1000, size / 1024

            ms, kb = timed("/")
            healthz_ms, _ = timed("/healthz")
            assert ms is not None and kb is not None and healthz_ms is not None
            app_ms, app_kb = timed(troubled)
            with counted(service) as page:
                client.get("/")
            with counted(service) as health:
                client.get("/healthz")
            return Figures(apps, ms, kb, len(page), len(health), healthz_ms, app_ms, app_kb)
        finally:
            service.stop()


def rows(sizes: tuple[int, ...] = (41, 500)) -> list[tuple[str, str, str]]:
    """(measure, ours, goal) rows for bench/bench.py's table."""
    out = []
    for f in map(measure, sizes):
        out.append(
            (
                f"dashboard `/`, {f.apps} apps",
                f"{f.ms:,.0f} ms, {f.kb:,.0f} KB, {f.statements} SQL statements "
                f"(/healthz: {f.healthz_ms:,.0f} ms, {f.healthz_statements} statements)",
                f"≤ {GOAL_MS} ms, ≤ {GOAL_KB} KB, a fixed number of statements",
            )
        )
    return out


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[41, 500])
    parser.add_argument("--runs", type=int, default=5, help="renders timed per size")
    args = parser.parse_args()
    print(
        f"{'apps':>5}  {'GET / ms':>9}  {'KB':>7}  {'SQL /':>6}  {'SQL /healthz':>12}  "
        f"{'/healthz ms':>11}  {'app page ms':>11}  {'app page KB':>11}"
    )
    for apps in args.apps:
        f = measure(apps, args.runs)
        print(
            f"{f.apps:>5}  {f.ms:>9.0f}  {f.kb:>7.0f}  {f.statements:>6}  "
            f"{f.healthz_statements:>12}  {f.healthz_ms:>11.0f}  {_n(f.app_ms):>11}  "
            f"{_n(f.app_kb):>11}",
            flush=True,
        )
    print(f"goal at 500 apps: ≤ {GOAL_MS} ms and ≤ {GOAL_KB} KB, statements equal at every size")


if __name__ == "__main__":
    main()
