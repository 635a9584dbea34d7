"""Heroku app webhooks: verified deliveries trigger the same check the scheduler runs."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.date import DateTrigger

from heroku_monitor.heroku.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    app_name_of,
)
from heroku_monitor.service import Service
from heroku_monitor.store.sightings import SIGHTING_TTL
from heroku_monitor.web import create_app
from tests.support.web import NO_INTERVAL_POLLS, wait_until
from tests.support.webhooks import SECRET, Hook, example, fresh
from tests.support.world import APP, World, first_monitor


def quiet(service: Service) -> bool:
    """No check running and none waiting to run (one-off jobs are `run_now`'s)."""
    one_off = [j for j in service.scheduler.aps.get_jobs() if isinstance(j.trigger, DateTrigger)]
    return not one_off and not service.scheduler.triggers.checking


def checks(world: World) -> int:
    """Checks the simulated Heroku answered so far: each reads the app once."""
    return world.sim.requests_by_path.get(f"/apps/{APP}", 0)


@pytest.fixture
def hook(world: World) -> Iterator[Hook]:
    service = world.service(heroku_webhook_secret=SECRET)
    service.scheduler.minute = NO_INTERVAL_POLLS  # the tests count the webhooks' checks
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
    statuses = [hook.deliver(body).status_code for body in (create, update, create, update)]
    assert statuses == [202, 202, 200, 200]  # the retries are known by their event ids
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
    from tests.support.web import LiveSite

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
    from tests.support.web import LiveSite

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


# -- storms, replays and rate-limit pauses -------------------------------------------------------


def test_fifty_deliveries_in_a_second_cost_one_or_two_checks_and_the_last_change_is_seen(
    hook: Hook, world: World
):
    hook.service.scheduler.debounce = 1.5  # longer than the 50 posts take
    world.sim.reset_counters()
    for _ in range(49):
        assert hook.deliver(fresh("api-dyno-create")).status_code == 202
    world.sim.crash_dyno(APP, "web.1")  # the last change of the storm
    assert hook.deliver(fresh("api-dyno-create")).status_code == 202
    (message,) = world.slack.wait_for_messages(1)
    assert message["text"].startswith("🚨 *ALERT: Dyno Crash Detected* 🚨")
    wait_until(lambda: quiet(hook.service))
    # A full check: the app, dynos, releases, add-ons, config vars and builds (SPEC §14).
    assert 1 <= checks(world) <= 2 and world.sim.request_count == 6 * checks(world)
    # ... and the rate budget, every process's, knows what the webhooks spent.
    spent = hook.service.scheduler.spend.since(hook.service.clock() - SIGHTING_TTL)
    assert spent.get("webhook") == world.sim.request_count


def test_one_delivery_replayed_300_times_costs_one_check(hook: Hook, world: World):
    hook.service.scheduler.debounce = 0.1
    world.sim.reset_counters()
    body = fresh("api-dyno-create")
    statuses = [hook.deliver(body).status_code for _ in range(300)]
    assert statuses == [202] + [200] * 299
    wait_until(lambda: checks(world) == 1 and quiet(hook.service))
    assert world.sim.request_count == 6  # one full check, its builds included (SPEC §14)


def test_a_delivery_another_process_sharing_the_database_took_is_ignored(hook: Hook, world: World):
    other = world.service(heroku_webhook_secret=SECRET)  # another dyno or gunicorn worker
    try:
        body = fresh("api-release-create")
        assert Hook(other, create_app(other).test_client()).deliver(body).status_code == 202
        again = hook.deliver(body)
        assert again.status_code == 200 and again.json == {
            "app": APP,
            "checks": 0,
            "duplicate": True,
        }
    finally:
        other.stop()


def test_a_delivery_without_an_event_id_is_known_by_its_heroku_webhook_id_header(hook: Hook):
    body = example("api-dyno-create")
    del body["id"]
    header = {ID_HEADER: str(uuid.uuid4())}
    assert hook.deliver(body, headers=header).status_code == 202
    assert hook.deliver(body, headers=header).status_code == 200
    assert hook.deliver(body).status_code == 202  # nothing to know it by: checked


def test_a_delivery_is_new_again_once_its_sighting_expired(hook: Hook):
    ledger, now = hook.service.scheduler.ledger, hook.service.clock()
    assert ledger.first_sighting("event:e1", now) and not ledger.first_sighting("event:e1", now)
    later = now + SIGHTING_TTL + timedelta(seconds=1)
    assert ledger.first_sighting("event:e1", later)
    assert ledger.prune(later + SIGHTING_TTL + timedelta(seconds=1)) == 1


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ('{"a":', "}")])
def test_a_signed_delivery_nested_100000_deep_is_400_without_a_traceback(
    hook: Hook, caplog: pytest.LogCaptureFixture, opening: str, closing: str
):
    raw = (opening * 100_000 + "1" + closing * 100_000).encode()
    with caplog.at_level(logging.WARNING):
        response = hook.post(raw)
    assert response.status_code == 400 and b"nested too deeply" in response.data
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_crash_whose_webhook_lands_in_a_rate_limit_pause_is_alerted_right_after_it_ends(
    hook: Hook, world: World
):
    service, pause = hook.service, 2.0  # the deliveries below all fall in it
    service.scheduler.debounce = 0.05
    world.sim.reset_counters()
    ends = time.monotonic() + pause
    service.checker.throttled_until = service.clock() + timedelta(seconds=pause)
    world.sim.crash_dyno(APP, "web.1")
    for _ in range(3):  # more deliveries, and a person's "check now", during the pause
        assert hook.deliver(fresh("api-dyno-create")).status_code == 202
    service.scheduler.run_now(first_monitor(service), force=True)
    (message,) = world.slack.wait_for_messages(1, timeout=10)
    arrived = time.monotonic()
    assert message["text"].startswith("🚨 *ALERT: Dyno Crash Detected* 🚨")
    assert ends <= arrived < ends + 1.5, f"{arrived - ends:+.2f} s after the pause"
    wait_until(lambda: quiet(service))
    assert checks(world) == 1  # one deferred check for the monitor, not one per request


def test_of_two_processes_given_one_delivery_at_once_exactly_one_takes_it(database_url: str):
    from concurrent.futures import ThreadPoolExecutor

    from heroku_monitor.store.database import Database
    from heroku_monitor.store.sightings import WebhookLedger

    ledgers = [WebhookLedger(Database(database_url)) for _ in range(2)]  # two processes
    now = datetime.now(UTC)
    keys = [f"event:{uuid.uuid4()}" for _ in range(20)]
    with ThreadPoolExecutor(4) as pool:
        taken = [
            list(pool.map(lambda ledger, k=key: ledger.first_sighting(k, now), ledgers))
            for key in keys
        ]
    assert all(sorted(pair) == [False, True] for pair in taken)
    later = now + SIGHTING_TTL + timedelta(seconds=1)
    renewed = [ledger.first_sighting(keys[0], later) for ledger in ledgers]
    assert renewed == [True, False]  # expired: new again, once
    for ledger in ledgers:
        ledger.db.close()
