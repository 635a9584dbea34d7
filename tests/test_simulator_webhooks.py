"""The simulator's app webhook deliveries, received by a real HTTP endpoint on 127.0.0.1.

Each test is named after the rule it holds. Nothing sleeps: tests wait on a condition
with a deadline (`Simulator.wait_for_deliveries`, `Receiver.wait_for`). Retry delays are a
few hundredths of a second (`FAST`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests

from heroku_sim import (
    HEROKU_SYNC_RETRY_DELAYS,
    SIGNATURE_HEADER,
    Simulator,
    SimulatorServer,
    webhook_signature,
)
from tests.support.receiver import FAST, Received, Receiver, entity_actions
from tests.support.simulator import (
    ADDON_FIELDS,
    APP,
    APP_FIELDS,
    DYNO_FIELDS,
    FORMATION_FIELDS,
    RELEASE_FIELDS,
    TIMESTAMP,
    FakeClock,
)
from tests.support.simulator_api import ACCEPT

if TYPE_CHECKING:
    pass

SECRET = "dcbff0c4430a2960a2552389d587bc58d30a37a8cf3f75f8fb77abe667ad"
AUTHORIZATION = "Bearer 9266671b2767f804c9d5809c2d384ed57d8f8ce1abd1043e1fb3fbbcb8c3"
ALL_ENTITIES = ["dyno", "api:release", "api:addon", "api:formation", "api:app"]
# Keys of the delivery bodies in heroku-api-reference.json `_webhook_delivery_examples`
# (heroku/webhooks-docs docs/event-examples/*.json).
ENVELOPE_FIELDS = {
    "action", "actor", "created_at", "id", "data", "previous_data", "published_at",
    "resource", "sequence", "updated_at", "version", "webhook_metadata",
}  # fmt: skip
METADATA_FIELDS = {"attempt", "delivery", "event", "webhook"}
EVENT_VERSION = "application/vnd.heroku+json; version=3"


# -- what a receiver checks ----------------------------------------------------------------


def verify(received: Received, secret: str) -> bool:
    """What a receiver must do: base64 HMAC-SHA256 of the raw body, compared in constant time."""
    expected = base64.b64encode(
        hmac.new(secret.encode(), received.body, hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected, received.headers.get(SIGNATURE_HEADER, ""))


# -- fixtures -------------------------------------------------------------------------------


def make_sim(**options: Any) -> Simulator:
    options.setdefault("webhook_retry_delays", FAST)
    simulator = Simulator(clock=FakeClock(), seed=7, **options)
    simulator.create_app(APP)
    return simulator


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = make_sim()
    yield simulator
    simulator.close()


def subscribe(
    sim: Simulator,
    receiver: Receiver,
    include: list[str],
    *,
    level: str = "notify",
    path: str = "/hooks",
    secret: str | None = SECRET,
    authorization: str | None = None,
) -> str:
    hook = sim.create_webhook(
        APP,
        include=include,
        level=level,
        url=receiver.url + path,
        secret=secret,
        authorization=authorization,
    )
    return str(hook["id"])


# -- signature and headers ------------------------------------------------------------------


def test_signature_is_base64_hmac_sha256_of_the_raw_body_with_the_secret(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"])
    sim.crash_dyno(APP, "web.1")
    (received,) = receiver.wait_for(1)
    assert verify(received, SECRET)
    assert not verify(received, SECRET + "x")
    assert received.headers[SIGNATURE_HEADER] == webhook_signature(SECRET, received.body)
    tampered = Received(received.path, received.headers, received.body + b" ", received.at)
    assert not verify(tampered, SECRET)


def test_subscription_without_secret_sends_no_signature_header(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"], secret=None)
    sim.crash_dyno(APP, "web.1")
    (received,) = receiver.wait_for(1)
    assert SIGNATURE_HEADER not in received.headers
    assert "Authorization" not in received.headers


def test_post_is_json_with_the_subscriptions_authorization_header(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"], path="/webhooks/heroku", authorization=AUTHORIZATION)
    sim.crash_dyno(APP, "web.1")
    (received,) = receiver.wait_for(1)
    assert received.path == "/webhooks/heroku"
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["Authorization"] == AUTHORIZATION
    assert "simulator" in received.headers["User-Agent"]


def test_webhook_created_through_the_api_signs_with_its_stored_secret(
    receiver: Receiver,
) -> None:
    sim = make_sim()
    with SimulatorServer(sim) as server:
        created = requests.post(
            f"{server.url}/apps/{APP}/webhooks",
            headers={"Accept": ACCEPT, "Authorization": f"Bearer {sim.token}"},
            json={
                "include": ["api:release"],
                "level": "sync",
                "url": receiver.url + "/hooks",
                "secret": SECRET,
                "authorization": AUTHORIZATION,
            },
            timeout=5,
        )
        assert created.status_code == 201
        sim.deploy(APP)
        (received,) = receiver.wait_for(1)
    assert verify(received, SECRET)
    assert received.headers["Authorization"] == AUTHORIZATION
    assert received.json["webhook_metadata"]["webhook"]["id"] == created.json()["id"]


def test_after_a_patch_later_events_are_signed_with_the_new_secret_at_the_new_url(
    receiver: Receiver,
) -> None:
    sim = make_sim()
    with SimulatorServer(sim) as server:
        hook_id = subscribe(sim, receiver, ["api:release"], path="/old")
        response = requests.patch(
            f"{server.url}/apps/{APP}/webhooks/{hook_id}",
            headers={"Accept": ACCEPT, "Authorization": f"Bearer {sim.token}"},
            json={"secret": "rotated", "url": receiver.url + "/new"},
            timeout=5,
        )
        assert response.status_code == 200
        sim.deploy(APP)
        (received,) = receiver.wait_for(1)
    sim.close()
    assert received.path == "/new" and verify(received, "rotated")
    assert not verify(received, SECRET)


# -- envelope -------------------------------------------------------------------------------


def test_envelope_has_the_keys_and_values_of_the_reference_deliveries(
    sim: Simulator, receiver: Receiver
) -> None:
    hook_id = subscribe(sim, receiver, ["dyno"])
    sim.crash_dyno(APP, "web.1")
    (record,) = sim.wait_for_deliveries(1)
    body = receiver.requests[0].json
    assert set(body) == ENVELOPE_FIELDS
    assert set(body["webhook_metadata"]) == METADATA_FIELDS
    assert body["version"] == EVENT_VERSION
    assert body["published_at"] is None and body["sequence"] is None
    assert TIMESTAMP.match(body["created_at"]) and body["updated_at"] == body["created_at"]
    assert set(body["actor"]) == {"email", "id"}
    assert body["actor"]["email"] == "dev@example.com"
    meta = body["webhook_metadata"]
    assert meta["event"] == {"id": body["id"], "include": "dyno"}
    assert meta["webhook"] == {"id": hook_id}
    assert meta["delivery"] == {"id": record["delivery_id"]}
    assert re.match(r"^[0-9a-f-]{36}$", meta["attempt"]["id"])
    assert record["event_id"] == body["id"]


def test_crash_delivers_a_dyno_update_whose_data_state_is_crashed(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"])
    sim.crash_dyno(APP, "web.1")
    (record,) = sim.wait_for_deliveries(1, entity="dyno")
    body = receiver.requests[0].json
    assert (record["resource"], record["action"], record["status"]) == ("dyno", "update", 204)
    assert (body["resource"], body["action"]) == ("dyno", "update")
    assert body["data"]["state"] == "crashed" and body["data"]["name"] == "web.1"
    assert body["previous_data"] == {"state": "up"}
    assert set(body["data"]) == DYNO_FIELDS
    assert body["data"] == sim.dyno_json(APP, "web.1")


def test_deploy_delivers_an_api_release_create_of_the_new_current_release(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["api:release"])
    version = sim.deploy(APP, "ops@example.com")
    sim.wait_for_deliveries(1)
    body = receiver.requests[0].json
    assert (body["resource"], body["action"], body["previous_data"]) == ("release", "create", {})
    assert set(body["data"]) == RELEASE_FIELDS
    assert body["data"]["version"] == version and body["data"]["current"] is True
    assert body["data"]["status"] == "succeeded"
    assert body["actor"]["email"] == "ops@example.com"
    assert body["data"]["user"] == body["actor"]


def test_finished_release_phase_delivers_an_update_with_previous_status_pending(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["api:release"])
    version = sim.deploy(APP, status="pending")
    sim.finish_release(APP, version, "failed")
    sim.wait_for_deliveries(2)
    created, updated = (r.json for r in receiver.requests)
    assert (created["action"], created["data"]["status"]) == ("create", "pending")
    assert created["data"]["output_stream_url"]
    assert (updated["action"], updated["data"]["status"]) == ("update", "failed")
    assert updated["previous_data"] == {"status": "pending"}
    assert updated["data"]["id"] == created["data"]["id"]


def test_maintenance_delivers_an_api_app_update_with_previous_maintenance(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["api:app"])
    sim.set_maintenance(APP, True)
    sim.set_maintenance(APP, False)
    sim.wait_for_deliveries(2)
    on, off = (r.json for r in receiver.requests)
    assert (on["resource"], on["action"]) == ("app", "update")
    assert set(on["data"]) == APP_FIELDS
    assert (on["data"]["maintenance"], on["previous_data"]) == (True, {"maintenance": False})
    assert (off["data"]["maintenance"], off["previous_data"]) == (False, {"maintenance": True})


def test_scale_delivers_a_formation_update_with_previous_quantity(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["api:formation"])
    sim.scale(APP, "web", 3)
    sim.wait_for_deliveries(1)
    body = receiver.requests[0].json
    assert (body["resource"], body["action"]) == ("formation", "update")
    assert set(body["data"]) == FORMATION_FIELDS
    assert (body["data"]["quantity"], body["previous_data"]) == (3, {"quantity": 2})


def test_addon_lifecycle_delivers_api_addon_create_update_destroy(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["api:addon"])
    addon_id = sim.add_addon(APP, "heroku-redis", "mini")
    sim.set_addon_state(APP, addon_id, "provisioned")
    sim.remove_addon(APP, addon_id)
    sim.wait_for_deliveries(3)
    bodies = [r.json for r in receiver.requests]
    assert [(b["resource"], b["action"]) for b in bodies] == [
        ("addon", "create"),
        ("addon", "update"),
        ("addon", "destroy"),
    ]
    assert all(set(b["data"]) == ADDON_FIELDS and b["data"]["id"] == addon_id for b in bodies)
    assert [b["data"]["state"] for b in bodies] == ["provisioning", "provisioned", "deprovisioned"]
    assert bodies[1]["previous_data"] == {"state": "provisioning"}


# Each change, for a subscription to every entity: what it delivers, in order.
RESTART = [("dyno", "update")] * 3  # web.1, web.2, worker.1 restart on every release
RELEASE = [("api:release", "create"), *RESTART]
FORMATION = ("api:formation", "update")


def crash_twice(sim: Simulator) -> None:
    sim.crash_dyno(APP, "web.1")
    sim.crash_dyno(APP, "web.1")  # already crashed: no change, no event


CHANGES: list[tuple[str, Callable[[Simulator], object], list[tuple[str, str]]]] = [
    ("crash", lambda s: s.crash_dyno(APP, "web.1"), [("dyno", "update")]),
    ("crash twice", crash_twice, [("dyno", "update")]),
    ("restart", lambda s: s.restart_dyno(APP, "web.1"), [("dyno", "update")]),
    ("deploy", lambda s: s.deploy(APP), RELEASE),
    ("pending deploy", lambda s: s.deploy(APP, status="pending"), [("api:release", "create")]),
    ("rollback", lambda s: s.rollback(APP, 2), RELEASE),
    ("set config", lambda s: s.set_config(APP, {"A": "1"}), RELEASE),
    ("unset config", lambda s: s.unset_config(APP, ["LANG"]), RELEASE),
    ("scale up", lambda s: s.scale(APP, "web", 3), [FORMATION, ("dyno", "create")]),
    ("scale down", lambda s: s.scale(APP, "web", 1), [FORMATION, ("dyno", "destroy")]),
    ("same scale", lambda s: s.scale(APP, "web", 2), []),
    ("maintenance", lambda s: s.set_maintenance(APP, True), [("api:app", "update")]),
    ("no-op maintenance", lambda s: s.set_maintenance(APP, False), []),
    (
        "add add-on",
        lambda s: s.add_addon(APP, "heroku-redis", "mini"),
        [("api:addon", "create"), *RELEASE],
    ),
    (
        "remove add-on",
        lambda s: s.remove_addon(APP, "DATABASE"),
        [("api:addon", "destroy"), *RELEASE],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in CHANGES], ids=[n for n, _, _ in CHANGES]
)
def test_each_change_delivers_its_entity_and_action_in_order(
    sim: Simulator,
    receiver: Receiver,
    change: Callable[[Simulator], object],
    expected: list[tuple[str, str]],
) -> None:
    subscribe(sim, receiver, ALL_ENTITIES)
    change(sim)
    # A last, known event: once it arrived, everything queued before it has too.
    sim.restart_dyno(APP, "worker.1")
    records = sim.wait_for_deliveries(len(expected) + 1)
    assert entity_actions(records) == [*expected, ("dyno", "update")]
    assert sim.pending_deliveries == 0
    assert [r.json["webhook_metadata"]["event"]["include"] for r in receiver.requests] == [
        e for e, _ in [*expected, ("dyno", "update")]
    ]


def test_completed_provisioning_delivers_addon_update_then_release_create(
    sim: Simulator, receiver: Receiver
) -> None:
    addon_id = sim.add_addon(APP, "heroku-redis", "mini")
    subscribe(sim, receiver, ALL_ENTITIES)
    sim.set_addon_state(APP, addon_id, "provisioned")
    records = sim.wait_for_deliveries(5)
    assert entity_actions(records) == [("api:addon", "update"), *RELEASE]
    release = receiver.requests[1].json["data"]
    assert release["description"].endswith("completed provisioning, setting REDIS_URL.")


def test_only_subscribed_entities_are_delivered_one_per_event(
    sim: Simulator, receiver: Receiver
) -> None:
    releases = subscribe(sim, receiver, ["api:release"], path="/releases")
    dynos = subscribe(sim, receiver, ["dyno"], path="/dynos")
    sim.set_maintenance(APP, True)  # api:app: nobody subscribed
    sim.scale(APP, "worker", 2)  # api:formation: nobody; dyno create: /dynos
    sim.crash_dyno(APP, "web.1")  # dyno: /dynos
    sim.deploy(APP)  # api:release: /releases; 4 dyno restarts: /dynos
    sim.wait_for_deliveries(7)
    assert sim.pending_deliveries == 0  # nothing else is on its way
    records = sim.deliveries
    assert len(records) == 7
    release_records = [r for r in records if r["webhook_id"] == releases]
    dyno_records = [r for r in records if r["webhook_id"] == dynos]
    assert entity_actions(release_records) == [("api:release", "create")]
    assert entity_actions(dyno_records) == [("dyno", "create"), *[("dyno", "update")] * 5]
    assert {r.path for r in receiver.requests} == {"/releases", "/dynos"}
    assert len({r["event_id"] for r in sim.deliveries}) == 7


def test_simulator_without_webhooks_starts_no_delivery_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    sim = make_sim()
    sim.crash_dyno(APP, "web.1")
    sim.deploy(APP)
    sim.scale(APP, "web", 4)
    sim.set_maintenance(APP, True)
    sim.add_addon(APP, "heroku-redis", "mini")
    assert not sim.delivering
    assert sim.deliveries == [] and sim.pending_deliveries == 0
    assert "heroku-simulator-webhooks" not in {t.name for t in threading.enumerate()} - before
    sim.close()  # harmless without a thread


# -- retries --------------------------------------------------------------------------------


def test_sync_level_retries_a_failed_delivery_with_backoff_until_it_succeeds(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["api:app"], level="sync")
    receiver.answer(500, 503)
    sim.set_maintenance(APP, True)
    records = sim.wait_for_deliveries(3)
    assert [(r["attempt"], r["status"], r["ok"]) for r in records] == [
        (1, 500, False),
        (2, 503, False),
        (3, 204, True),
    ]
    assert len({r["event_id"] for r in records}) == len({r["delivery_id"] for r in records}) == 1
    bodies = [r.json for r in receiver.requests]
    assert len({b["id"] for b in bodies}) == 1
    assert len({b["webhook_metadata"]["attempt"]["id"] for b in bodies}) == 3
    assert all(verify(r, SECRET) for r in receiver.requests)  # each attempt signed anew
    gaps = [b.at - a.at for a, b in itertools.pairwise(receiver.requests)]
    assert gaps[0] >= FAST[0] and gaps[1] >= FAST[1]
    assert sim.pending_deliveries == 0


def test_sync_level_gives_up_after_the_last_retry_delay(sim: Simulator, receiver: Receiver) -> None:
    subscribe(sim, receiver, ["api:app"], level="sync")
    receiver.answer(*[500] * 4, 410)
    sim.set_maintenance(APP, True)
    first = sim.wait_for_deliveries(1 + len(FAST))
    assert [r["status"] for r in first] == [500] * 4
    assert sim.pending_deliveries == 0
    sim.set_maintenance(APP, False)
    later = sim.wait_for_deliveries(1, action="update", attempt=1, status=410)
    assert later[0]["event_id"] != first[0]["event_id"]
    attempts = [r for r in sim.deliveries if r["event_id"] == first[0]["event_id"]]
    assert len(attempts) == 1 + len(FAST)


def test_sync_level_retries_when_the_url_does_not_answer(receiver: Receiver) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    sim = make_sim(webhook_retry_delays=(0.01,), webhook_timeout=1.0)
    try:
        sim.create_webhook(APP, include=["dyno"], level="sync", url=f"http://127.0.0.1:{port}/x")
        sim.crash_dyno(APP, "web.1")
        records = sim.wait_for_deliveries(2)
        assert [(r["status"], r["ok"]) for r in records] == [(None, False)] * 2
        assert all("ConnectionError" in r["error"] for r in records)
        assert sim.pending_deliveries == 0
    finally:
        sim.close()


def test_deliveries_to_one_sync_subscription_stay_in_order_during_retries(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"], level="sync")
    receiver.answer(500)
    sim.crash_dyno(APP, "web.1")
    sim.crash_dyno(APP, "web.2")
    sim.wait_for_deliveries(3)
    names = [(r.json["data"]["name"]) for r in receiver.requests]
    assert names == ["web.1", "web.1", "web.2"]


def test_notify_level_makes_one_attempt_and_never_retries(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["api:app"], level="notify")
    receiver.answer(500)
    sim.set_maintenance(APP, True)
    (failed,) = sim.wait_for_deliveries(1)
    assert (failed["status"], failed["ok"], failed["level"]) == (500, False, "notify")
    assert sim.pending_deliveries == 0
    sim.set_maintenance(APP, False)
    sim.wait_for_deliveries(2)
    assert [r["event_id"] for r in sim.deliveries].count(failed["event_id"]) == 1


def test_default_retry_schedule_follows_heroku_exponential_then_hourly_within_72_hours() -> None:
    delays = HEROKU_SYNC_RETRY_DELAYS
    assert delays[:3] == (1.0, 2.0, 4.0)
    assert max(delays) == 3600.0 and delays[-1] == 3600.0
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert sum(delays) <= 72 * 3600 < sum(delays) + 3600


# -- duplicates -----------------------------------------------------------------------------


def test_duplicate_deliveries_sends_each_notification_twice_with_the_same_event_id(
    receiver: Receiver,
) -> None:
    sim = make_sim(duplicate_deliveries=True)
    try:
        subscribe(sim, receiver, ["dyno"])
        sim.crash_dyno(APP, "web.1")
        first, second = sim.wait_for_deliveries(2)
        assert sim.pending_deliveries == 0
        assert (first["duplicate"], second["duplicate"]) == (False, True)
        assert first["event_id"] == second["event_id"]
        assert first["delivery_id"] == second["delivery_id"]
        one, two = (r.json for r in receiver.requests)
        assert one["id"] == two["id"] and one["data"] == two["data"]
        assert one["webhook_metadata"]["attempt"] != two["webhook_metadata"]["attempt"]
        assert all(verify(r, SECRET) for r in receiver.requests)
    finally:
        sim.close()


# -- control --------------------------------------------------------------------------------


def test_paused_deliveries_wait_until_resumed_and_the_timeout_says_what_arrived(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"])
    sim.pause_deliveries()
    sim.crash_dyno(APP, "web.1")
    with pytest.raises(AssertionError, match=r"got 0\..*none.*queued: 1 \(deliveries are paused\)"):
        sim.wait_for_deliveries(1, timeout=0.2)
    assert receiver.requests == [] and sim.pending_deliveries == 1
    sim.resume_deliveries()
    sim.wait_for_deliveries(1)
    with pytest.raises(AssertionError, match=r"Expected 2 .*dyno update attempt 1: 204"):
        sim.wait_for_deliveries(2, timeout=0.1)


def test_deleting_a_webhook_drops_its_pending_deliveries(
    sim: Simulator, receiver: Receiver
) -> None:
    hook_id = subscribe(sim, receiver, ["dyno"])
    sim.pause_deliveries()
    sim.crash_dyno(APP, "web.1")
    sim.delete_webhook(APP, hook_id)
    assert sim.pending_deliveries == 0
    sim.resume_deliveries()
    sim.crash_dyno(APP, "web.2")  # no subscription left: nothing queued
    assert sim.pending_deliveries == 0


def test_model_is_not_locked_while_a_delivery_is_in_flight(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"])
    receiver.gate.clear()  # the receiver holds its answer
    sim.crash_dyno(APP, "web.1")
    receiver.wait_for(1)
    started = time.monotonic()
    sim.deploy(APP)  # takes the model lock, and queues 3 more deliveries
    assert sim.app_json(APP)["name"] == APP
    assert time.monotonic() - started < 1.0
    assert sim.deliveries == []  # the first POST is still waiting for its answer
    receiver.gate.set()
    sim.wait_for_deliveries(4)


def test_control_route_lists_deliveries_without_secrets_and_pauses(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"], authorization=AUTHORIZATION)
    with SimulatorServer(sim) as server:
        sim.crash_dyno(APP, "web.1")
        sim.wait_for_deliveries(1)
        listed = requests.get(f"{server.url}/_sim/deliveries", timeout=5)
        assert listed.status_code == 200
        assert listed.json() == {"deliveries": sim.deliveries, "pending": 0}
        assert SECRET not in listed.text and AUTHORIZATION not in listed.text
        paused = requests.post(f"{server.url}/_sim/deliveries/pause", timeout=5)
        assert paused.json() == {"ok": True, "pending": 0}
        sim.crash_dyno(APP, "web.2")
        assert requests.get(f"{server.url}/_sim/deliveries", timeout=5).json()["pending"] == 1
        requests.post(f"{server.url}/_sim/deliveries/resume", timeout=5)
        sim.wait_for_deliveries(2)
        assert requests.post(f"{server.url}/_sim/deliveries/x", timeout=5).status_code == 404


def test_server_stop_closes_the_dispatcher_and_the_simulator_stays_usable(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, ["dyno"])
    with SimulatorServer(sim):
        sim.crash_dyno(APP, "web.1")
        sim.wait_for_deliveries(1)
        assert sim.delivering
    assert not sim.delivering
    sim.crash_dyno(APP, "web.2")  # a new notification starts a new thread
    sim.wait_for_deliveries(2)
    sim.close()
    sim.close()
    assert not sim.delivering
