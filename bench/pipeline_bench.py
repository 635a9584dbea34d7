"""SPEC §14 and §15 in `make bench`: what polling for failed builds costs (requests to
`/builds` per app per round, goal ≤ 0.05, and the rounds until a failed build is alerted),
and what certificate reads cost per app per hour (goal ≤ 0.5, bench/certificates_bench.py).
Both on the simulator's clock, moved on between rounds."""

from __future__ import annotations

import tempfile

from bench import certificates_bench
from heroku_monitor import service as service_module
from heroku_monitor.core.builds import BUILDS_EVERY, SPREAD
from heroku_monitor.settings import Settings
from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.support.simulator import FakeClock

APPS = 100
FAILED = "💥 *Build Failed* 💥"


def builds_share(apps: int = APPS, rounds: int = 2 * BUILDS_EVERY) -> dict[str, float]:
    """`apps` apps polled every minute for `rounds` rounds after their first checks, one
    build failing after the first; requests to `/builds` per app and round, and the round
    whose check alerted the failure."""
    clock = FakeClock()
    sim = Simulator(seed=5, clock=clock)
    names = [f"build-app-{n:03d}" for n in range(apps)]
    for name in names:
        sim.create_app(name, releases=1, addons=[])
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimulatorServer(sim) as heroku,
        FakeSlack() as slack,
    ):
        settings = Settings(
            heroku_api_key=sim.token,
            slack_bot_token=slack.token,
            slack_api_url=slack.url,
            database_url=f"sqlite:///{tmp}/bench.db",
            heroku_api_url=heroku.url,
        )
        service = service_module.build(settings, clock=clock)
        ids = {service.monitors.add(n, "#alerts", 1, clock.now) for n in names}
        for monitor_id in sorted(ids):
            service.checker.check(monitor_id)  # the first check: whole, its builds read
        sim.builds.push(names[-1], status="failed")
        sim.reset_counters()
        found_in = 0.0
        for n in range(1, rounds + 1):
            clock.advance(minutes=1)
            sim.set_rate_limit_remaining(4500)  # a moved clock refills nothing
            service.scheduler.run_round(ids)
            if not found_in and any(m["text"].startswith(FAILED) for m in slack.messages):
                found_in = n
        reads = sum(n for path, n in sim.requests_by_path.items() if path.endswith("/builds"))
        service.stop()
    return {"per_app_round": reads / (apps * rounds), "found_in": found_in}


def rows() -> list[tuple[str, str, str]]:
    builds = builds_share()
    certs = certificates_bench.run()
    return [
        (
            f"failed builds by polling: /builds requests per app per round ({APPS} apps, "
            "1-min interval; goal ≤ 0.05)",
            f"{builds['per_app_round']:.3f}; a failed build alerted in round "
            f"{builds['found_in']:.0f} (≤ {BUILDS_EVERY + SPREAD // 2})",
            "no builds",
        ),
        (
            "certificate reads: Heroku requests per app per hour "
            f"({certificates_bench.APPS} apps, {certificates_bench.HOURS} h; goal ≤ 0.5)",
            f"{certs['requests_per_app_hour']:.3f}; a run of the job p50 "
            f"{certs['run_p50_s'] * 1000:.0f} ms",
            "no certificates",
        ),
    ]


if __name__ == "__main__":
    for row in rows():
        print(" | ".join(row))
