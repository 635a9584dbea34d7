"""Benchmark against the simulator and the fake Slack (not a test: it prints numbers).

    make bench            # or: .venv/bin/python bench/bench.py [--apps 100] [--latency 0.1]

Prints Heroku requests and bytes per check (first and steady state), wall time to check
1, 10 and 100 apps with 100 ms of API latency, the time from a dyno crash to the Slack
post, and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heroku_monitor import runtime
from heroku_monitor.runtime import Runtime
from heroku_monitor.settings import Settings
from heroku_monitor.simulator import Simulator, SimulatorServer
from tests.fakes import FakeSlack


def build(sim: Simulator, heroku: SimulatorServer, slack: FakeSlack, workdir: str) -> Runtime:
    settings = Settings(
        heroku_api_key=sim.token,
        slack_bot_token=slack.token,
        database_url=f"sqlite:///{workdir}/bench.db",
        heroku_api_url=heroku.url,
        slack_api_url=slack.url,
    )
    return runtime.build(settings)


def per_check(sim: Simulator, service: Runtime, mid: int) -> tuple[int, int]:
    sim.reset_counters()
    service.engine.check(mid)
    stats = sim.stats()
    return int(stats["requests"]), int(stats["bytes"])


def check_many(service: Runtime, ids: list[int], workers: int) -> float:
    """Wall time for one round of checks of `ids` on the scheduler's bounded pool size."""
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(service.engine.check, ids))
    return time.perf_counter() - start


def crash_to_post(sim: Simulator, slack: FakeSlack, service: Runtime, mid: int, app: str) -> float:
    """Seconds from a crash to the Slack post when a check is triggered at once (what a
    webhook or "check now" does); polling adds up to one interval on top."""
    service.scheduler.start()
    try:
        before = len(slack.messages)
        start = time.perf_counter()
        sim.crash_dyno(app, "web.1")
        service.scheduler.run_now(mid)
        slack.wait_for_messages(before + 1, timeout=10)
        return time.perf_counter() - start
    finally:
        service.scheduler.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    tracemalloc.start()
    sim = Simulator(seed=1)
    names = [f"bench-app-{i:03d}" for i in range(args.apps)]
    for name in names:
        sim.create_app(name)
    rows: list[tuple[str, str]] = []
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        with tempfile.TemporaryDirectory() as workdir:
            service = build(sim, heroku, slack, workdir)
            mid = service.store.add_monitor(names[0], "#alerts", 5, service.engine.clock())
            requests_first, bytes_first = per_check(sim, service, mid)
            requests_steady, bytes_steady = per_check(sim, service, mid)
            rows.append(
                ("Heroku requests / bytes, first check", f"{requests_first} / {bytes_first}")
            )
            rows.append(
                ("Heroku requests / bytes, steady check", f"{requests_steady} / {bytes_steady}")
            )
            seconds = crash_to_post(sim, slack, service, mid, names[0])
            rows.append(
                ("crash -> Slack post (check triggered at once)", f"{seconds * 1000:.0f} ms")
            )
            service.stop()

        with tempfile.TemporaryDirectory() as workdir:
            service = build(sim, heroku, slack, workdir)
            ids = [
                service.store.add_monitor(n, "#alerts", 5, service.engine.clock()) for n in names
            ]
            sim.set_latency(args.latency)
            for count in sorted({1, 10, args.apps}):
                seconds = check_many(service, ids[:count], args.workers)
                latency_ms = args.latency * 1000
                label = f"check {count} apps, {latency_ms:.0f} ms latency, {args.workers} workers"
                rows.append((label, f"{seconds:.2f} s"))
            sim.set_latency(0)
            service.stop()
    _, peak = tracemalloc.get_traced_memory()
    rows.append(("peak Python heap (tracemalloc)", f"{peak / 1e6:.1f} MB"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak RSS (includes simulator and fake Slack)", f"{rss:.0f} MB"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
