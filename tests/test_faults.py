"""Faults, proven: Heroku and Slack failing in every documented way never produce a false
dyno or deploy alert, never lose one, raise one monitoring-trouble alert with its cause
after three failed checks and one when it recovers, and the dashboard says what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from heroku_monitor.service import Service
from heroku_monitor.slack.notifier import DeliveryError
from heroku_monitor.store.outbox import FAILED
from heroku_monitor.web import create_app
from heroku_sim import DEFAULT_TOKEN, Simulator
from tests.support.world import APP, QUICK, World, first_monitor

TROUBLE = "🔥 *Monitoring Trouble* 🔥"
RECOVERED = "🩹 *Monitoring Recovered* 🩹"
CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
CRASH_TEXT = f"{CRASH}\nApp: my-app\nCrashed dynos:\n• web.1 (web)"
DEPLOY = "🚀 *New Deploy Detected* 🚀"


# Timeouts short enough that a test of them waits on little (retries and back-off kept).
IMPATIENT = replace(QUICK, heroku_timeout=(1.0, 0.1), slack_timeout=1)


def firsts(world: World) -> list[str]:
    return [t.split("\n")[0] for t in world.texts()]


def slow(sim: Simulator) -> None:
    sim.set_latency(0.5)  # the test's client gives up after 0.1 s (IMPATIENT)


HEROKU_FAULTS: dict[str, tuple[Callable[[Simulator], None], str]] = {
    "500": (lambda sim: sim.inject_fault(APP, status=500, count=10_000), "500 unavailable"),
    "503": (lambda sim: sim.inject_fault(APP, status=503, count=10_000), "503 unavailable"),
    "timeout": (slow, "did not answer"),
    "malformed": (lambda sim: sim.inject_malformed(APP, count=10_000), "malformed JSON"),
    "401": (lambda sim: sim.set_token("rotated"), "401 invalid token"),
    "404": (lambda sim: sim.inject_fault(APP, status=404, count=10_000), "404 not found"),
}


def heal(sim: Simulator) -> None:
    sim.clear_faults()
    sim.set_latency(0)
    sim.set_token(DEFAULT_TOKEN)


@pytest.mark.parametrize("fault", list(HEROKU_FAULTS))
def test_heroku_fault_gives_one_trouble_alert_with_its_cause_and_loses_nothing(
    world: World, fault: str
):
    service = world.service(patience=IMPATIENT)
    mid = first_monitor(service)
    service.checker.check(mid)
    world.sim.deploy(APP, "ann@example.com")  # these happen while Heroku is failing us
    world.sim.crash_dyno(APP, "web.1")
    inject, cause = HEROKU_FAULTS[fault]
    inject(world.sim)
    for _ in range(5):
        result = service.checker.check(mid)
        assert result is not None and not result.ok
    assert firsts(world) == [TROUBLE]  # no false crash or deploy from a failing API
    assert cause in world.texts()[0]
    view = service.monitors.get(mid)
    assert view is not None and view.last_error and cause in view.last_error
    page = create_app(service).test_client().get("/").get_data(as_text=True)
    assert cause in page
    heal(world.sim)
    service.checker.check(mid)
    assert firsts(world) == [TROUBLE, CRASH, DEPLOY, RECOVERED]
    service.checker.check(mid)
    assert len(world.texts()) == 4


def test_two_failed_checks_in_a_row_are_noise_not_trouble(world: World):
    service, mid = world.baseline()
    world.sim.inject_fault(APP, status=500, count=10_000)
    service.checker.check(mid)
    service.checker.check(mid)
    world.sim.clear_faults()
    service.checker.check(mid)
    world.sim.inject_fault(APP, status=500, count=10_000)
    service.checker.check(mid)
    service.checker.check(mid)
    assert world.texts() == []  # the counter restarted after the success


def later(service: Service, minutes: int) -> None:
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    service.checker.clock = service.delivery.clock = lambda: moment


@pytest.mark.parametrize("fault", ["429", "500", "503", "timeout"])
def test_slack_faults_keep_the_alert_until_it_is_delivered(world: World, fault: str):
    service = world.service(patience=IMPATIENT)
    mid = first_monitor(service)
    service.checker.check(mid)
    if fault == "429":
        world.slack.fail_next(10, status=429, retry_after=1)
    elif fault == "timeout":
        world.slack.set_latency(1.2)  # past IMPATIENT's 1 s
    else:
        world.slack.fail_next(10, status=int(fault))
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    pending = service.outbox.recent(status="pending")
    assert len(pending) == 1 and pending[0].last_error
    page = create_app(service).test_client().get("/").get_data(as_text=True)
    assert "waiting to send" in page
    world.slack.reset()
    later(service, 30)
    assert service.delivery.run() == 1
    service.delivery.run()
    assert CRASH in firsts(world)
    assert service.outbox.recent(status="pending") == []
    if fault != "timeout":  # a timed-out post may have landed too (see the README)
        assert world.texts() == [CRASH_TEXT]


# Each from the issue that found them treated as passing, plus the classic three.
PERMANENT = [
    "channel_not_found",
    "not_in_channel",
    "invalid_auth",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "msg_blocks_too_long",
    "invalid_blocks_format",
    "team_not_found",
    "access_denied",
    "not_allowed_token_type",
    "is_bot",
    "app_access_restricted",
]


@pytest.mark.parametrize("error", PERMANENT)
def test_permanent_slack_error_is_shown_on_the_dashboard_and_not_retried(world: World, error: str):
    service, mid = world.baseline()
    world.slack.fail_next(1, error=error)
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    assert service.outbox.count(FAILED) == 1
    view = service.monitors.get(mid)
    assert (
        view is not None
        and view.delivery_error == f"#alerts: {DeliveryError(error, permanent=True)!s}"
    )
    page = create_app(service).test_client().get("/").get_data(as_text=True)
    assert error in page and "not delivered" in page
    calls = world.slack.calls["chat.postMessage"]
    later(service, 60)
    service.delivery.run()
    assert world.slack.calls["chat.postMessage"] == calls


def test_a_slack_rate_limit_ends_the_delivery_run_instead_of_hammering(world: World):
    service, mid = world.baseline()
    world.slack.fail_next(1, status=429, retry_after=30)
    world.sim.deploy(APP)
    world.sim.crash_dyno(APP, "web.1")
    world.sim.stop_dyno(APP, "worker.1")
    service.checker.check(mid)  # the crash, the down in its thread, its edit, the deploy
    assert world.slack.calls["chat.postMessage"] == 1
    assert service.outbox.count("pending") == 4
    later(service, 1)  # past Retry-After: all four go, in order
    assert service.delivery.run() == 4
    assert firsts(world) == [CRASH, "⚠️ *WARNING: Dynos Down* ⚠️", DEPLOY]
    crash, down, _ = world.slack.messages
    assert down["thread_ts"] == crash["ts"] and len(world.slack.updates) == 1


def test_two_processes_delivering_through_a_slow_slack_send_each_alert_once(world: World):
    import threading

    services = [world.service(), world.service()]
    mid = first_monitor(services[0])
    services[0].checker.check(mid)
    world.slack.set_latency(0.5)
    world.sim.deploy(APP)
    world.sim.crash_dyno(APP, "web.1")
    world.sim.stop_dyno(APP, "worker.1")
    with services[0].delivery._lock:  # as if a run were going: the check only queues
        services[0].checker.check(mid)
    assert services[0].outbox.count("pending") == 4  # crash, down in its thread, edit, deploy
    runs = [threading.Thread(target=s.delivery.run) for s in services]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=30)
    assert sorted(firsts(world)) == sorted([CRASH, "⚠️ *WARNING: Dynos Down* ⚠️", DEPLOY])


def test_undelivered_alerts_can_be_sent_again_from_the_dashboard(world: World):
    from tests.support.web import csrf_token

    service, mid = world.baseline()
    world.slack.fail_next(1, error="not_in_channel")
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    client = create_app(service).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "Send the 1 undelivered alert again" in page
    service.scheduler.start()
    response = client.post("/alerts/retry", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 303
    world.slack.wait_for_messages(1)
    assert firsts(world) == [CRASH]
    service.stop()


def test_a_restart_tries_undelivered_alerts_again(world: World):
    service, mid = world.baseline()
    world.slack.fail_next(1, error="invalid_auth")
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    service.stop()
    restarted = world.service()  # e.g. with a renewed SLACK_BOT_TOKEN
    restarted.start()
    world.slack.wait_for_messages(1)
    restarted.stop()
    assert firsts(world) == [CRASH]
