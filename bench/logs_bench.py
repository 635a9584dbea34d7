"""Log drains in `make bench`: how fast batches are parsed and counted, and what 100 apps
sending 100 lines a second for a minute cost in memory (SPEC section 12)."""

from __future__ import annotations

import base64
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime

from heroku_monitor import service as service_module
from heroku_monitor.core.logs.count import count
from heroku_monitor.core.logs.parse import parse_logplex
from heroku_monitor.settings import Settings
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


def rows() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    big = _batch("bench-app", 3300)  # about 1 MB: real router lines run ~300 bytes
    started = time.perf_counter()
    repeats = 20
    for _ in range(repeats):
        counted = count(parse_logplex(big).lines)
    took = (time.perf_counter() - started) / repeats
    lines = sum(m.requests for m in counted.rows())
    out.append((f"log lines parsed and counted, one core ({len(big) // 1024} KB batches)",
                f"{lines / took:,.0f} lines/s", NO_DRAINS))  # fmt: skip
    out.append(("a 1 MB Logplex batch: parse and count", f"{took * 1000:.1f} ms", NO_DRAINS))
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(database_url=f"sqlite:///{workdir}/logs.db", heroku_drain_secret=SECRET)
        service = service_module.build(settings)
        client = create_app(service).test_client()
        token = base64.b64encode(f"h:{SECRET}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Content-Type": "application/logplex-1"}
        started = time.perf_counter()
        response = client.post("/drains/heroku/bench-app", data=big, headers=headers)
        assert response.status_code == 200
        out.append(("a 1 MB batch through POST /drains (parse, count, one DB statement)",
                    f"{(time.perf_counter() - started) * 1000:.0f} ms", NO_DRAINS))  # fmt: skip
        apps = [f"bench-app-{i:03d}" for i in range(100)]
        batches = {app: _batch(app, 100) for app in apps}
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        for second in range(60):
            for app in apps:
                headers["Logplex-Frame-Id"] = f"{app}-{second}"
                client.post(f"/drains/heroku/{app}", data=batches[app], headers=headers)
        took = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()  # the heap of one more round, traced apart (tracing slows it)
        for app in apps:
            headers["Logplex-Frame-Id"] = f"{app}-traced"
            client.post(f"/drains/heroku/{app}", data=batches[app], headers=headers)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        service.stop()
    out.append(("100 apps x 100 lines/s for a minute (6,000 batches), one process",
                f"{took:.1f} s ({600_000 / took:,.0f} lines/s)", NO_DRAINS))  # fmt: skip
    grown = (rss_after - rss_before) / 1024
    memory = f"{peak / 1e6:.1f} MB / {grown:.1f} MB"
    out.append(("  ... peak Python heap (one round) / peak RSS growth", memory, NO_DRAINS))
    return out
