"""Failed builds without webhooks (SPEC §14): polling reads an app's builds every 16 to 24
of its rounds, so a failed build is found within 24 rounds at ≤ 0.05 requests an app a
round, and a round right after a read never reads them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heroku_monitor import service as service_module
from heroku_monitor.core.builds import BUILDS_EVERY, SPREAD
from tests.support.simulator import FakeClock
from tests.support.world import APP, QUICK, World, clocked_world

APPS = [APP, *(f"app-{n:02d}" for n in range(1, 20))]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with clocked_world(sqlite_url, clock) as made:
        for app in APPS[1:]:
            made.sim.create_app(app)
        yield made


def build_reads(world: World) -> int:
    return sum(n for path, n in world.sim.requests_by_path.items() if path.endswith("/builds"))


def test_polling_finds_a_failed_build_within_twenty_rounds_at_a_twentieth_of_a_request(
    world: World, clock: FakeClock
):
    service = service_module.build(
        world.settings(check_interval_minutes=1), clock=clock, patience=QUICK
    )
    try:
        for app in APPS[1:]:
            service.monitors.add(app, "#alerts", 1, clock())
        ids = {m.id for m in service.monitors.all()}
        for monitor_id in ids:  # each monitor's first check: whole, its builds read
            service.checker.check(monitor_id)
        world.sim.builds.push(APP, status="failed", message="Break the build")
        world.sim.reset_counters()
        clock.advance(minutes=1)
        service.scheduler.run_round(ids)
        assert build_reads(world) == 0  # a round right after a read reads no builds
        rounds = 2 * BUILDS_EVERY
        for n in range(2, rounds + 1):
            clock.advance(minutes=1)
            service.scheduler.run_round(ids)
            if n == BUILDS_EVERY + SPREAD // 2:  # every app's builds were read by now
                failed = [t for t in world.texts() if t.startswith("💥 *Build Failed* 💥")]
                assert len(failed) == 1 and "Break the build" in failed[0]
        assert len(APPS) <= build_reads(world) <= 2 * len(APPS)
        assert build_reads(world) / (len(APPS) * rounds) <= 0.05
    finally:
        service.stop()
