"""Checks never wedge (SPEC section 16, "nothing wedges"): a check that hits a bug counts as
a failed check, a round whose shared lists cannot be read checks its apps one by one, and
the polling leader keeps its lease while a long round runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from heroku_monitor.core import detect
from heroku_monitor.heroku.errors import Unavailable
from heroku_monitor.runtime import recording
from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support.world import APP, World

TROUBLE = "🔥 *Monitoring Trouble* 🔥"
RECOVERED = "🩹 *Monitoring Recovered* 🩹"
CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"


def firsts(world: World) -> list[str]:
    return [t.split("\n")[0] for t in world.texts()]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info]


# -- a bug in a check ----------------------------------------------------------------------


def a_bug(*args: Any, **kwargs: Any) -> Any:
    return 1 / 0  # a bug in comparing snapshots: every check of the app hits it


def test_a_check_that_hits_a_bug_counts_as_a_failed_check_and_three_are_monitoring_trouble(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    service, mid = world.baseline()
    web = create_app(service).test_client()
    monkeypatch.setattr(detect, "observe", a_bug)
    caplog.set_level(logging.INFO)
    for _ in range(6):
        result = service.checker.check(mid)
        assert result is not None and not result.ok
        assert result.error is not None and result.error.startswith("internal error: ")
    assert firsts(world) == [TROUBLE]  # one alert, as for Heroku failing three times
    assert "3 checks in a row failed: internal error: ZeroDivisionError" in world.texts()[0]
    assert "Heroku API failed" not in world.texts()[0]  # Heroku did nothing wrong
    view = service.monitors.get(mid)
    assert view is not None and view.failures == 6 and not view.last_ok
    assert view.last_error is not None and "internal error: ZeroDivisionError" in view.last_error
    response = web.get("/healthz")
    assert response.status_code == 503 and response.json is not None
    assert response.json["apps_in_trouble"] == [APP]
    assert response.json["internal_errors"] == 6
    assert len(tracebacks(caplog)) == 1  # logged once, then counted
    monkeypatch.undo()
    world.sim.crash_dyno(APP, "web.1")
    result = service.checker.check(mid)
    assert result is not None and result.ok
    assert firsts(world) == [TROUBLE, CRASH, RECOVERED]
    service.stop()


def test_a_bug_in_recording_a_check_still_counts_the_failed_check_and_healthz_names_the_app(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    service, mid = world.baseline()
    web = create_app(service).test_client()
    monkeypatch.setattr(recording.detect, "decide", a_bug)  # even a failure cannot be decided
    for _ in range(4):
        result = service.checker.check(mid)
        assert result is not None and not result.ok
    view = service.monitors.get(mid)
    assert view is not None and view.failures == 4 and view.last_check_at is not None
    assert view.last_error is not None and view.last_error.startswith("internal error: ")
    response = web.get("/healthz")
    assert response.status_code == 503 and response.json is not None
    assert response.json["apps_in_trouble"] == [APP]
    assert len(tracebacks(caplog)) == 1
    service.stop()


def test_a_bug_in_a_round_check_counts_for_that_app_and_the_round_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    world.sim.create_app("other-app")
    service = world.service()
    try:
        service.monitors.add("other-app", "#alerts", 1, service.clock())
        ids = {m.id for m in service.monitors.all()}
        service.scheduler.run_round(ids)
        broken = service.checker.heroku.app_parts

        def app_parts(app: str, **kwargs: Any) -> Any:
            if app == "other-app":
                raise KeyError("dynos")  # a bug reading this app's answer
            return broken(app, **kwargs)

        monkeypatch.setattr(service.checker.heroku, "app_parts", app_parts)
        world.sim.crash_dyno(APP, "web.1")
        for _ in range(3):
            service.scheduler.run_round(ids)
        by_app = {m.app_name: m for m in service.monitors.all()}
        assert by_app["other-app"].failures == 3 and by_app[APP].failures == 0
        assert firsts(world) == [CRASH, TROUBLE]
        assert len(tracebacks(caplog)) == 1
    finally:
        service.stop()


# -- a round whose shared lists cannot be read ---------------------------------------------


def failing(service: Service, path: str) -> Callable[[], None]:
    """Heroku answers 500 to `path` (a list the round reads) until the returned heal."""
    heroku = service.checker.heroku
    pages = heroku.pages

    def answer(asked: str) -> tuple[list[Any], int]:
        if asked == path:
            raise Unavailable("Simulated failure.", status=500)
        return pages(asked)

    heroku.pages = answer  # type: ignore[method-assign,assignment]
    return lambda: setattr(heroku, "pages", pages)


def one_by_one_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "one by one" in r.getMessage()]


@pytest.mark.parametrize("path", ["/apps", "/addons", "/addon-attachments"])
def test_a_round_whose_lists_cannot_be_read_checks_its_apps_one_by_one(
    world: World, path: str, caplog: pytest.LogCaptureFixture
):
    world.sim.create_app("other-app")
    service = world.service()
    try:
        service.monitors.add("other-app", "#alerts", 1, service.clock())
        ids = {m.id for m in service.monitors.all()}
        service.scheduler.run_round(ids)
        heal = failing(service, path)
        world.sim.crash_dyno(APP, "web.1")
        caplog.set_level(logging.INFO)
        for _ in range(3):
            service.scheduler.run_round(ids)
        assert firsts(world) == [CRASH]  # seen, and no monitoring trouble
        assert all(m.last_ok and m.failures == 0 for m in service.monitors.all())
        assert len(one_by_one_lines(caplog)) == 1  # said once, not at every round
        heal()
        world.sim.reset_counters()
        service.scheduler.run_round(ids)
        service.scheduler.run_round(ids)
        assert world.sim.requests_by_path[path] == 2  # the lists again, every round
        said = [r.getMessage() for r in caplog.records if "read again" in r.getMessage()]
        assert len(said) == 1 and len(one_by_one_lines(caplog)) == 1
        assert firsts(world) == [CRASH]
    finally:
        service.stop()


def test_a_team_watch_whose_list_cannot_be_read_keeps_its_apps_and_checks_them_one_by_one(
    world: World, caplog: pytest.LogCaptureFixture
):
    world.sim.create_team("acme")
    for name in ("acme-api", "acme-web"):
        world.sim.create_app(name, team="acme")
    service = world.service(monitored_app_name=None)
    try:
        service.teams.add("acme", "#alerts", 1, service.clock())
        service.scheduler.run_round(set())
        ids = {m.id for m in service.monitors.all()}
        assert len(ids) == 2
        failing(service, "/teams/acme/apps")
        world.sim.crash_dyno("acme-api", "web.1")
        caplog.set_level(logging.INFO)
        for _ in range(3):
            service.scheduler.run_round(ids)
        assert {m.id for m in service.monitors.all()} == ids  # none dropped, none added
        assert firsts(world) == [CRASH]
        assert all(m.last_ok and m.failures == 0 for m in service.monitors.all())
        assert len(one_by_one_lines(caplog)) == 1
        (watch,) = service.teams.all()
        assert watch.last_error and "500" in watch.last_error  # the watch says why
    finally:
        service.stop()


# -- the lease under load ------------------------------------------------------------------


def test_the_leader_keeps_its_lease_while_a_round_runs_longer_than_the_lease(world: World):
    lease = 2  # seconds; the round below takes about 3
    # One worker each: the round holds the scheduler's only one while it runs.
    services = [
        world.service(leader_lease_seconds=lease, max_concurrent_checks=1) for _ in range(2)
    ]
    leader, other = services
    try:
        world.sim.set_latency(1.5)  # the round: the lists, then the app's parts, 3 s+
        leader.scheduler.start()  # it leads, and its starting round begins at once
        assert leader.leadership.leads()
        other.scheduler.start()
        deadline = time.monotonic() + 20
        while leader.scheduler.rounds < 1:
            assert not other.leadership.leads(), "a second process took the lease"
            assert time.monotonic() < deadline, "the round did not end"
            time.sleep(0.05)
        world.sim.set_latency(0)
        assert leader.leadership.leads() and not other.leadership.leads()
        assert other.scheduler.rounds == 0  # nothing polled twice
    finally:
        world.sim.set_latency(0)
        for service in services:
            service.stop()


def test_a_delivery_that_hits_a_bug_is_not_charged_to_the_apps_check(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """The check was recorded before its delivery ran: a bug in delivering is logged (once)
    and the alert waits in the outbox, but the app's checks did not fail."""
    service, mid = world.baseline()
    try:
        monkeypatch.setattr(service.delivery, "run", a_bug)
        world.sim.crash_dyno(APP, "web.1")
        for _ in range(4):
            result = service.checker.check(mid)
            assert result is not None and result.ok, result
        monitor = service.monitors.get(mid)
        assert monitor is not None and monitor.failures == 0
        assert len(tracebacks(caplog)) == 1
        monkeypatch.undo()
        service.delivery.run()
        assert firsts(world) == [CRASH]  # it was kept, and goes once delivery works
    finally:
        service.stop()
