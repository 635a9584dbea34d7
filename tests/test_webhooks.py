"""Heroku app webhooks: verified deliveries trigger the same check the scheduler runs."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.date import DateTrigger
from flask.testing import FlaskClient

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from heroku_monitor.web.heroku_webhooks import SIGNATURE_HEADER, app_name_of, signature
from tests.web import wait_until
from tests.world import APP, World

SECRET = "dcbff0c4430a2960a2552389d587bc58d30a37a8cf3f75f8fb77abe667ad"
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "heroku-api-reference.json"


def example(name: str, app: str = APP) -> dict[str, Any]:
    """A real delivery body from Heroku's docs, pointed at `app`."""
    if REFERENCE.exists():
        body = copy.deepcopy(json.loads(REFERENCE.read_text())["_webhook_delivery_examples"][name])
    else:  # the shape of the reference's examples, for a checkout without ../shared
        body = {"resource": name.split("-")[1], "action": name.split("-")[2], "data": {}}
    if body["resource"] == "app":
        body["data"]["name"] = app
    else:
        body["data"]["app"] = {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": app}
    return body


def quiet(service: Service) -> bool:
    """No check running and none waiting to run (one-off jobs are `run_now`'s)."""
    one_off = [j for j in service.scheduler.aps.get_jobs() if isinstance(j.trigger, DateTrigger)]
    return not one_off and not service.scheduler._running


class Hook:
    def __init__(self, service: Service, client: FlaskClient) -> None:
        self.service, self.client = service, client

    def deliver(self, body: dict[str, Any], *, secret: str = SECRET, signed: bool = True):
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            headers[SIGNATURE_HEADER] = signature(secret, raw)
        return self.client.post("/webhooks/heroku", data=raw, headers=headers)


@pytest.fixture
def hook(world: World) -> Iterator[Hook]:
    service = world.service(heroku_webhook_secret=SECRET)
    service.scheduler.start()
    wait_until(lambda: service.checker.last_check.ok is True and quiet(service))
    yield Hook(service, create_app(service).test_client())
    service.stop()


def test_a_verified_delivery_brings_the_alert_in_seconds(hook: Hook, world: World):
    world.sim.crash_dyno(APP, "web.1")
    started = time.monotonic()
    response = hook.deliver(example("api-dyno-create"))
    assert response.status_code == 202 and response.json == {"app": APP, "checks": 1}
    (message,) = world.slack.wait_for_messages(1)
    assert message["text"].startswith("🚨 *ALERT: Dyno Crash Detected* 🚨")
    assert time.monotonic() - started < 2.0


def test_a_release_create_update_and_retried_deliveries_make_one_alert(hook: Hook, world: World):
    world.sim.deploy(APP, "ann@example.com")
    create, update = example("api-release-create"), example("api-release-update")
    for body in (create, update, create, update):
        assert hook.deliver(body).status_code == 202
    world.slack.wait_for_messages(1)
    wait_until(lambda: quiet(hook.service))
    assert [m["text"].split("\n")[0] for m in world.slack.messages] == [
        "🚀 *New Deploy Detected* 🚀"
    ]


@pytest.mark.parametrize("secret", ["not-the-secret", ""])
def test_a_bad_signature_is_401_and_triggers_nothing(hook: Hook, world: World, secret: str):
    world.sim.reset_counters()
    world.sim.crash_dyno(APP, "web.1")
    assert hook.deliver(example("api-dyno-create"), secret=secret).status_code == 401
    assert quiet(hook.service) and world.sim.request_count == 0


def test_a_missing_signature_is_401(hook: Hook):
    assert hook.deliver(example("api-dyno-create"), signed=False).status_code == 401


def test_a_delivery_for_an_app_nobody_watches_is_accepted_and_ignored(hook: Hook):
    response = hook.deliver(example("api-dyno-create", app="someone-else"))
    assert response.status_code == 202 and response.json["checks"] == 0


def test_without_a_secret_webhooks_are_off_and_say_how_to_turn_them_on(world: World):
    service = world.service()
    response = create_app(service).test_client().post("/webhooks/heroku", data=b"{}")
    assert response.status_code == 503 and b"HEROKU_WEBHOOK_SECRET" in response.data


@pytest.mark.parametrize(
    "name",
    [
        "api-dyno-create",
        "api-release-create",
        "api-addon-update",
        "api-formation-update",
        "api-app-update",
    ],
)
def test_the_app_is_found_in_every_kind_of_delivery(name: str):
    assert app_name_of(example(name)) == APP


def test_a_crash_reaches_slack_in_under_two_seconds_through_a_real_webhook(world: World):
    from tests.web import LiveSite

    service = world.service(heroku_webhook_secret=SECRET)
    with LiveSite(service) as live:
        wait_until(lambda: service.checker.last_check.ok is True and quiet(service))
        world.sim.create_webhook(
            APP,
            include=["dyno", "api:release"],
            level="sync",
            url=f"{live.url}/webhooks/heroku",
            secret=SECRET,
        )
        started = time.monotonic()
        world.sim.crash_dyno(APP, "web.1")
        (message,) = world.slack.wait_for_messages(1, timeout=5)
        elapsed = time.monotonic() - started
    assert message["text"].startswith("🚨 *ALERT: Dyno Crash Detected* 🚨")
    assert elapsed < 2.0, f"{elapsed:.2f} s"


def test_duplicate_deliveries_of_every_change_still_make_one_alert_each(sqlite_url: str):
    from heroku_sim import Simulator, SimulatorServer
    from tests.fakes import FakeSlack
    from tests.web import LiveSite

    sim = Simulator(seed=9, duplicate_deliveries=True)
    sim.create_app(APP)
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        world = World(sim, heroku, slack, sqlite_url)
        service = world.service(heroku_webhook_secret=SECRET)
        with LiveSite(service) as live:
            wait_until(lambda: service.checker.last_check.ok is True and quiet(service))
            sim.create_webhook(
                APP,
                include=["dyno", "api:release", "api:addon", "api:app"],
                level="sync",
                url=f"{live.url}/webhooks/heroku",
                secret=SECRET,
            )
            sim.deploy(APP, "ann@example.com")
            slack.wait_for_messages(1)
            sim.set_maintenance(APP, True)
            slack.wait_for_messages(2)
            sim.wait_for_deliveries(len(sim.deliveries), timeout=5)
            wait_until(lambda: sim.pending_deliveries == 0 and quiet(service))
        firsts = [m["text"].split("\n")[0] for m in slack.messages]
    assert firsts == ["🚀 *New Deploy Detected* 🚀", "🚧 *Maintenance Mode On* 🚧"]


def test_an_oversized_body_is_refused_before_it_is_read(hook: Hook):
    response = hook.client.post(
        "/webhooks/heroku", data=b"x" * (2 * 1024 * 1024), headers={SIGNATURE_HEADER: "x"}
    )
    assert response.status_code == 413
