"""SPEC §15 in `make bench`: what the certificate reads cost in Heroku requests per app per
hour (goal ≤ 0.5): 200 apps, the leader's job every 10 minutes over two simulated days, on
the simulator's clock; the requests to `/domains` and `/sni-endpoints` counted by the
simulator. And the time one run of the job takes with Heroku answering at once."""

from __future__ import annotations

import statistics
import tempfile
import time

from heroku_monitor import service as service_module
from heroku_monitor.core.certificates import JOB_EVERY
from heroku_monitor.runtime.certificates import CertificateChecks
from heroku_monitor.settings import Settings
from heroku_monitor.store.certificates import CertificateReads
from heroku_sim import Simulator, SimulatorServer
from tests.support.simulator import FakeClock

APPS = 200
HOURS = 48


def run(apps: int = APPS, hours: int = HOURS) -> dict[str, float]:
    clock = FakeClock()
    sim = Simulator(seed=3, clock=clock)
    names = [f"cert-app-{n:03d}" for n in range(apps)]
    for name in names:
        sim.create_app(name, releases=1, addons=[])
    with tempfile.TemporaryDirectory() as tmp, SimulatorServer(sim) as heroku:
        settings = Settings(
            heroku_api_key=sim.token,
            database_url=f"sqlite:///{tmp}/bench.db",
            heroku_api_url=heroku.url,
            demo=True,
        )
        service = service_module.build(settings, clock=clock)
        for name in names:
            service.monitors.add(name, "#alerts", 5, clock.now)
        checks = CertificateChecks(
            service.monitors,
            service.outbox,
            service.checker.incident_store,
            service.heroku,
            CertificateReads(service.db),
            clock,
        )
        runs = int(hours * 3600 / JOB_EVERY.total_seconds())
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            checks.run()
            seconds.append(time.perf_counter() - started)
            clock.advance(seconds=JOB_EVERY.total_seconds())
        by_path = sim.stats()["by_path"]
        spent = sum(
            n["requests"]
            for path, n in by_path.items()
            if path.endswith(("/domains", "/sni-endpoints"))
        )
        service.stop()
    busy = [s for s in seconds if s > 0.001]
    return {
        "requests_per_app_hour": spent / apps / hours,
        "run_p50_s": statistics.median(busy) if busy else 0.0,
        "run_max_s": max(seconds),
    }


if __name__ == "__main__":
    found = run()
    print(
        f"certificates: {found['requests_per_app_hour']:.3f} Heroku requests per app per hour "
        f"(goal ≤ 0.5; {APPS} apps over {HOURS} h); a run of the job: p50 "
        f"{found['run_p50_s'] * 1000:.0f} ms, max {found['run_max_s'] * 1000:.0f} ms"
    )
