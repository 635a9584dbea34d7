"""Log drains in `make bench`: how fast batches are parsed and counted, what a 1 MB batch
costs through `POST /drains/heroku/{app}` end to end, and what 100 apps sending 100 lines
a second for a minute cost in time and memory, the counts and the response-time histograms
(SPEC §15) written to the database by the process's flusher included (SPEC section 12:
≥ 100,000 lines a second, ≤ 50 ms)."""

from __future__ import annotations

import base64
import resource
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime

from heroku_monitor import service as service_module
from heroku_monitor.core.logs.count import count_logplex
from heroku_monitor.settings import Settings
from heroku_monitor.store.log_counts import LATENCY_METRIC, LogCounts
from heroku_monitor.web import create_app
from heroku_sim.logs import logplex_body, router_error

SECRET = "bench-drain-secret"
NO_DRAINS = "no log alerts"


def _batch(app: str, lines: int) -> bytes:
    """A Logplex body of router lines: most fine, some H12."""
    rows = []
    for i in range(lines):
        procid, message = router_error(app, "H12", path=f"/p/{i % 7}", dyno=f"web.{i % 3 + 1}")
        if i % 10:
            message = message.replace("at=error code=H12", "at=info").replace(
                "status=503", "status=200"
            )
        rows.append((procid, message))
    return logplex_body(rows, datetime.now(UTC))


def _written(counts: LogCounts, apps: list[str], since: datetime) -> tuple[int, int]:
    """Router lines counted, and response times in the histograms, in the database."""
    rows = [row for app in apps for row in counts.since(app, since)]
    requests = sum(n for _, metric, n in rows if metric == "requests")
    return requests, sum(n for _, metric, n in rows if metric.startswith(LATENCY_METRIC))


def rows() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    big = _batch("bench-app", 3300)  # about 1 MB: real router lines run ~300 bytes
    repeats, took = 20, float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        counted = count_logplex(big)
        took = min(took, time.perf_counter() - started)
    out.append((f"log lines parsed and counted, one core ({len(big) // 1024} KB batches)",
                f"{counted.lines / took:,.0f} lines/s", NO_DRAINS))  # fmt: skip
    out.append(("a 1 MB Logplex batch: parse and count", f"{took * 1000:.1f} ms", NO_DRAINS))
    since = datetime.now(UTC).replace(second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(database_url=f"sqlite:///{workdir}/logs.db", heroku_drain_secret=SECRET)
        service = service_module.build(settings)
        counts = service.checker.log_counts
        client = create_app(service).test_client()
        token = base64.b64encode(f"h:{SECRET}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Content-Type": "application/logplex-1"}
        posts: list[float] = []
        flushes: list[float] = []
        for n in range(7):
            headers["Logplex-Frame-Id"] = f"big-{n}"
            started = time.perf_counter()
            response = client.post("/drains/heroku/bench-app", data=big, headers=headers)
            posts.append(time.perf_counter() - started)
            assert response.status_code == 200
            started = time.perf_counter()
            counts.flush()  # the write the answer did not wait for
            flushes.append(time.perf_counter() - started)
        out.append(("a 1 MB batch through POST /drains/heroku/{app}, end to end (median of 7)",
                    f"{statistics.median(posts) * 1000:.0f} ms", NO_DRAINS))  # fmt: skip
        out.append(("  ... its counts' write, by the flusher, after the answer",
                    f"{statistics.median(flushes) * 1000:.0f} ms", NO_DRAINS))  # fmt: skip
        apps = [f"bench-app-{i:03d}" for i in range(100)]
        batches = {app: _batch(app, 100) for app in apps}
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started, cpu = time.perf_counter(), time.process_time()
        for second in range(60):
            for app in apps:
                headers["Logplex-Frame-Id"] = f"{app}-{second}"
                client.post(f"/drains/heroku/{app}", data=batches[app], headers=headers)
        counts.flush()  # the last second's counts, written: the whole minute is in
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        written = _written(counts, apps, since)
        assert written == (600_000, 600_000), written  # every line reached the shared counters
        tracemalloc.start()  # the heap of one more round, traced apart (tracing slows it)
        for app in apps:
            headers["Logplex-Frame-Id"] = f"{app}-traced"
            client.post(f"/drains/heroku/{app}", data=batches[app], headers=headers)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        service.stop()
    out.append(("100 apps x 100 lines/s for a minute, one process, counts and histograms written",
                f"{took:.1f} s ({600_000 / took:,.0f} lines/s)", NO_DRAINS))  # fmt: skip
    # The machine is shared: the process's own CPU time (its flusher thread's included)
    # says what one core takes when nothing else runs.
    out.append(("  ... the same per second of the process's CPU (all its threads)",
                f"{cpu:.1f} s ({600_000 / cpu:,.0f} lines/s)", NO_DRAINS))  # fmt: skip
    grown = (rss_after - rss_before) / 1024
    memory = f"{peak / 1e6:.1f} MB / {grown:.1f} MB"
    out.append(("  ... peak Python heap (one round) / peak RSS growth", memory, NO_DRAINS))
    return out
