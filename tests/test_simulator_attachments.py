"""The simulator's add-on attachments ("heroku addons:attach"): one app's add-on attached to
another app, over real HTTP on 127.0.0.1.

Each test is named after the rule it holds. Time comes from an injected clock; nothing
sleeps (webhook tests wait on a condition with a deadline).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from heroku_sim import (
    InvalidParamsError,
    Simulator,
    UnknownAppError,
    UnknownResourceError,
)
from tests.support.receiver import FAST, Receiver, entity_actions
from tests.support.simulator import ADDON_FIELDS, TIMESTAMP, FakeClock
from tests.support.simulator_api import Api

OWNER = "shop-api"  # owns (is billed for) the Postgres add-on
OTHER = "shop-worker"  # no add-on of its own: the attachment takes the primary name
BUSY = "shop-admin"  # has its own Postgres add-on, so DATABASE is taken there
# Properties of the `add-on-attachment` definition in the Platform API schema
# (heroku/platform-api schema.json), and of its `addon` and `app` objects.
ATTACHMENT_FIELDS = {
    "addon", "app", "created_at", "id", "name", "namespace", "updated_at", "web_url",
    "log_input_url",
}  # fmt: skip
ATTACHMENT_ADDON_FIELDS = {"id", "name", "app"}
APP_REF_FIELDS = {"id", "name"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Simulator]:
    simulator = Simulator(clock=clock, seed=23, webhook_retry_delays=FAST)
    simulator.create_app(OWNER)
    simulator.create_app(OTHER, addons=[])
    simulator.create_app(BUSY)
    yield simulator
    simulator.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def get_json(api: Api, path: str) -> Any:
    response = api.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def database(api: Api) -> dict[str, Any]:
    """The owner's Postgres add-on as `GET /apps/{OWNER}/addons` shows it."""
    [addon] = get_json(api, f"/apps/{OWNER}/addons")
    assert isinstance(addon, dict)
    return addon


def newest_release(api: Api, app: str) -> dict[str, Any]:
    response = api.get(f"/apps/{app}/releases", Range="version ..; order=desc, max=1")
    [release] = response.json()
    assert isinstance(release, dict)
    return release


def subscribe(sim: Simulator, receiver: Receiver, app: str, include: list[str]) -> None:
    sim.create_webhook(app, include=include, level="notify", url=f"{receiver.url}/{app}")


# -- listing -----------------------------------------------------------------------------------


def test_an_attached_addon_is_listed_on_both_apps_billed_to_its_owner(
    sim: Simulator, api: Api
) -> None:
    owned = database(api)
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    assert get_json(api, f"/apps/{OWNER}/addons") == [owned]
    [attached] = get_json(api, f"/apps/{OTHER}/addons")
    assert attached == owned
    assert set(attached) == ADDON_FIELDS
    owner_id = get_json(api, f"/apps/{OWNER}")["id"]
    assert attached["app"] == {"id": owner_id, "name": OWNER}
    assert attached["billing_entity"] == {"id": owner_id, "name": OWNER, "type": "app"}


def test_an_app_lists_its_own_addons_before_the_attached_ones(sim: Simulator, api: Api) -> None:
    sim.attach_addon(OWNER, "DATABASE", BUSY)
    listed = get_json(api, f"/apps/{BUSY}/addons")
    assert [a["app"]["name"] for a in listed] == [BUSY, OWNER]


def test_the_account_addon_list_shows_an_attached_addon_once_under_its_owner(
    sim: Simulator, api: Api
) -> None:
    before = get_json(api, "/addons")
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.attach_addon(OWNER, "DATABASE", BUSY)
    after = get_json(api, "/addons")
    assert after == before
    assert [a["app"]["name"] for a in after].count(OWNER) == 1


def test_an_addon_attached_twice_to_one_app_is_listed_there_once(sim: Simulator, api: Api) -> None:
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.attach_addon(OWNER, "DATABASE", OTHER, name="REPORTING_DB")
    assert get_json(api, f"/apps/{OTHER}/addons") == [database(api)]


def test_an_attached_addon_is_found_by_its_attachment_name_on_the_attached_app(
    sim: Simulator, api: Api
) -> None:
    owned = database(api)
    sim.attach_addon(OWNER, "DATABASE", BUSY)  # DATABASE is BUSY's own: HEROKU_POSTGRESQL_RED
    assert get_json(api, f"/apps/{BUSY}/addons/HEROKU_POSTGRESQL_RED") == owned
    assert get_json(api, f"/apps/{BUSY}/addons/{owned['name']}") == owned
    assert get_json(api, f"/apps/{BUSY}/addons/DATABASE")["app"]["name"] == BUSY
    assert api.get(f"/apps/{OTHER}/addons/{owned['id']}").status_code == 404


# -- the attachment resource -------------------------------------------------------------------


def test_addon_attachments_lists_every_attachment_with_exactly_the_schema_fields(
    sim: Simulator, api: Api
) -> None:
    owned = database(api)
    attachment_id = sim.attach_addon(OWNER, "DATABASE", OTHER)
    listed = get_json(api, "/addon-attachments")
    # Each app's own add-ons' attachments (OWNER's and BUSY's), and the one to OTHER.
    assert len(listed) == 3
    for item in listed:
        assert set(item) == ATTACHMENT_FIELDS
        assert set(item["addon"]) == ATTACHMENT_ADDON_FIELDS
        assert set(item["addon"]["app"]) == APP_REF_FIELDS
        assert set(item["app"]) == APP_REF_FIELDS
        assert (item["namespace"], item["log_input_url"]) == (None, None)
        assert TIMESTAMP.match(item["created_at"]) and TIMESTAMP.match(item["updated_at"])
        assert item["web_url"].startswith("https://")
    of_owner = [i for i in listed if i["addon"]["id"] == owned["id"]]
    assert {(i["app"]["name"], i["name"]) for i in of_owner} == {
        (OWNER, "DATABASE"),
        (OTHER, "DATABASE"),
    }
    addon_ref = {"id": owned["id"], "name": owned["name"], "app": owned["app"]}
    assert all(i["addon"] == addon_ref for i in of_owner)
    [foreign] = [i for i in of_owner if i["app"]["name"] == OTHER]
    assert foreign["id"] == attachment_id
    assert foreign["app"]["id"] == get_json(api, f"/apps/{OTHER}")["id"]


def test_app_addon_attachments_lists_the_attachments_on_that_app(sim: Simulator, api: Api) -> None:
    attachment_id = sim.attach_addon(OWNER, "DATABASE", BUSY)
    on_busy = get_json(api, f"/apps/{BUSY}/addon-attachments")
    assert [(i["name"], i["addon"]["app"]["name"]) for i in on_busy] == [
        ("DATABASE", BUSY),
        ("HEROKU_POSTGRESQL_RED", OWNER),
    ]
    assert on_busy[1]["id"] == attachment_id
    assert [i["app"]["name"] for i in get_json(api, f"/apps/{OWNER}/addon-attachments")] == [OWNER]
    assert get_json(api, f"/apps/{BUSY}/addon-attachments/{attachment_id}") == on_busy[1]
    assert get_json(api, f"/apps/{BUSY}/addon-attachments/HEROKU_POSTGRESQL_RED") == on_busy[1]
    assert api.get(f"/apps/{OTHER}/addon-attachments/{attachment_id}").status_code == 404


def test_an_addons_own_attachment_has_a_stable_id_of_its_own(sim: Simulator) -> None:
    [own] = sim.attachments_json(OWNER)
    uuid.UUID(own["id"])
    assert own["id"] != own["addon"]["id"]
    sim.deploy(OWNER)
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    assert sim.attachments_json(OWNER) == [own]
    assert own["created_at"] == sim.addon_json(OWNER, "DATABASE")["created_at"]


def test_addon_attachments_pages_with_range_like_the_other_lists(sim: Simulator, api: Api) -> None:
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.attach_addon(OWNER, "DATABASE", OTHER, name="REPORTING_DB")
    everything = get_json(api, "/addon-attachments")
    assert len(everything) == 4
    first = api.get("/addon-attachments", Range="id ..; max=3")
    assert first.status_code == 206
    assert first.headers["Accept-Ranges"] == "id, name"
    second = api.get("/addon-attachments", Range=first.headers["Next-Range"])
    assert second.status_code == 200
    assert "Next-Range" not in second.headers
    paged = first.json() + second.json()
    assert [i["id"] for i in paged] == sorted(i["id"] for i in everything)
    by_name = api.get(f"/apps/{OTHER}/addon-attachments", Range="name ..; max=1, order=desc")
    assert by_name.status_code == 206
    assert [i["name"] for i in by_name.json()] == ["REPORTING_DB"]


def test_a_fault_for_any_app_hits_the_account_wide_attachment_list(
    sim: Simulator, api: Api
) -> None:
    sim.inject_fault(status=503)
    assert api.get("/addon-attachments").status_code == 503
    sim.inject_fault(OWNER, status=500)
    assert api.get("/addon-attachments").status_code == 200
    assert api.get(f"/apps/{OWNER}/addon-attachments").status_code == 500


# -- attach: config var and release ------------------------------------------------------------


def test_the_attached_app_gets_the_owners_config_value_under_the_attachment_name(
    sim: Simulator, api: Api
) -> None:
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    owner_url = get_json(api, f"/apps/{OWNER}/config-vars")["DATABASE_URL"]
    assert get_json(api, f"/apps/{OTHER}/config-vars")["DATABASE_URL"] == owner_url
    sim.attach_addon(OWNER, "DATABASE", BUSY)
    busy = get_json(api, f"/apps/{BUSY}/config-vars")
    assert busy["HEROKU_POSTGRESQL_RED_URL"] == owner_url
    assert busy["DATABASE_URL"] != owner_url  # BUSY's own database is left alone


def test_attach_creates_an_attach_release_on_the_attached_apps_current_slug(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    owner_before = newest_release(api, OWNER)
    before = newest_release(api, OTHER)
    clock.advance(minutes=5)
    sim.attach_addon(OWNER, "DATABASE", OTHER, user="ops@example.com")
    release = newest_release(api, OTHER)
    assert release["version"] == before["version"] + 1
    assert release["description"] == f"Attach DATABASE (@ref:{database(api)['name']})"
    assert release["slug"] == before["slug"] and release["slug"] is not None
    assert release["user"]["email"] == "ops@example.com"
    assert release["current"] is True
    assert get_json(api, f"/apps/{OTHER}")["released_at"] == "2026-01-01T12:05:00Z"
    assert newest_release(api, OWNER) == owner_before


def test_an_explicit_attachment_name_names_the_config_var(sim: Simulator, api: Api) -> None:
    attachment_id = sim.attach_addon(OWNER, "DATABASE", OTHER, name="REPORTING_DB")
    assert sim.attachment_json(OTHER, attachment_id)["name"] == "REPORTING_DB"
    assert "REPORTING_DB_URL" in get_json(api, f"/apps/{OTHER}/config-vars")
    assert newest_release(api, OTHER)["description"].startswith("Attach REPORTING_DB (@ref:")


def test_the_addon_can_be_named_by_id_name_or_attachment_name(sim: Simulator) -> None:
    owned = sim.addon_json(OWNER, "DATABASE")
    for ident, name in ((owned["id"], "A_DB"), (owned["name"], "B_DB"), ("DATABASE", "C_DB")):
        attachment_id = sim.attach_addon(OWNER, ident, OTHER, name=name)
        assert sim.attachment_json(OTHER, attachment_id)["addon"]["id"] == owned["id"]


def test_a_rollback_keeps_an_attached_addons_config_var(sim: Simulator) -> None:
    before = sim.releases_json(OTHER)[-1]["version"]
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.rollback(OTHER, before)
    assert sim.config_vars(OTHER)["DATABASE_URL"] == sim.config_vars(OWNER)["DATABASE_URL"]


def test_completed_provisioning_sets_the_new_value_on_attached_apps_too(sim: Simulator) -> None:
    addon_id = sim.add_addon(OWNER, "heroku-redis", "mini")
    sim.attach_addon(OWNER, addon_id, OTHER)
    sim.set_addon_state(OWNER, addon_id, "provisioned")
    assert sim.config_vars(OTHER)["REDIS_URL"] == sim.config_vars(OWNER)["REDIS_URL"]
    assert sim.releases_json(OTHER)[-1]["description"].endswith(
        "completed provisioning, setting REDIS_URL."
    )


# -- detach, removal, deletion -----------------------------------------------------------------


def test_detach_unsets_the_config_var_and_creates_a_detach_release(
    sim: Simulator, api: Api
) -> None:
    attachment_id = sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.detach_addon(OTHER, attachment_id)
    assert "DATABASE_URL" not in get_json(api, f"/apps/{OTHER}/config-vars")
    assert get_json(api, f"/apps/{OTHER}/addons") == []
    assert get_json(api, f"/apps/{OTHER}/addon-attachments") == []
    assert newest_release(api, OTHER)["description"] == (
        f"Detach DATABASE (@ref:{database(api)['name']})"
    )
    assert "DATABASE_URL" in get_json(api, f"/apps/{OWNER}/config-vars")


def test_detach_by_name_leaves_the_other_attachments_of_the_addon(sim: Simulator) -> None:
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.attach_addon(OWNER, "DATABASE", OTHER, name="REPORTING_DB")
    sim.detach_addon(OTHER, "REPORTING_DB")
    assert [a["name"] for a in sim.attachments_json(OTHER)] == ["DATABASE"]
    assert "REPORTING_DB_URL" not in sim.config_vars(OTHER)
    assert "DATABASE_URL" in sim.config_vars(OTHER)


def test_removing_the_owners_addon_detaches_it_from_every_other_app(
    sim: Simulator, api: Api
) -> None:
    name = database(api)["name"]
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.attach_addon(OWNER, "DATABASE", BUSY)
    sim.remove_addon(OWNER, "DATABASE")
    assert get_json(api, f"/apps/{OTHER}/addons") == []
    assert [a["app"]["name"] for a in get_json(api, f"/apps/{BUSY}/addons")] == [BUSY]
    assert "DATABASE_URL" not in get_json(api, f"/apps/{OTHER}/config-vars")
    assert "HEROKU_POSTGRESQL_RED_URL" not in get_json(api, f"/apps/{BUSY}/config-vars")
    assert newest_release(api, OTHER)["description"] == f"Detach DATABASE (@ref:{name})"
    assert newest_release(api, BUSY)["description"] == (
        f"Detach HEROKU_POSTGRESQL_RED (@ref:{name})"
    )
    assert all(i["addon"]["name"] != name for i in get_json(api, "/addon-attachments"))


def test_deleting_the_owner_app_detaches_its_addons_from_other_apps(
    sim: Simulator, api: Api
) -> None:
    name = database(api)["name"]
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.delete_app(OWNER)
    assert get_json(api, f"/apps/{OTHER}/addons") == []
    assert "DATABASE_URL" not in get_json(api, f"/apps/{OTHER}/config-vars")
    assert newest_release(api, OTHER)["description"] == f"Detach DATABASE (@ref:{name})"
    assert {i["app"]["name"] for i in get_json(api, "/addon-attachments")} == {BUSY}


def test_deleting_the_attached_app_just_drops_the_attachment(sim: Simulator, api: Api) -> None:
    owner_releases = get_json(api, f"/apps/{OWNER}/releases")
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    sim.delete_app(OTHER)
    assert get_json(api, f"/apps/{OWNER}/releases") == owner_releases
    assert {i["app"]["name"] for i in get_json(api, "/addon-attachments")} == {OWNER, BUSY}
    sim.remove_addon(OWNER, "DATABASE")  # nothing left to detach elsewhere
    sim.create_app(OTHER, addons=[])
    assert sim.addons_json(OTHER) == []


# -- webhook events ----------------------------------------------------------------------------


def test_attach_and_detach_deliver_addon_attachment_create_and_destroy_to_the_attached_app(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, OTHER, ["api:addon-attachment", "api:release"])
    subscribe(sim, receiver, OWNER, ["api:addon-attachment", "api:release"])
    attachment_id = sim.attach_addon(OWNER, "DATABASE", OTHER, user="ops@example.com")
    rendered = sim.attachment_json(OTHER, attachment_id)
    sim.detach_addon(OTHER, "DATABASE")
    records = sim.wait_for_deliveries(4)
    assert entity_actions(records) == [
        ("api:addon-attachment", "create"),
        ("api:release", "create"),
        ("api:addon-attachment", "destroy"),
        ("api:release", "create"),
    ]
    assert {r["url"] for r in records} == {f"{receiver.url}/{OTHER}"}
    bodies = [r.json for r in receiver.wait_for(4)]
    created, destroyed = bodies[0], bodies[2]
    assert created["resource"] == "addon-attachment"
    assert created["actor"]["email"] == "ops@example.com"
    assert set(created["data"]) == ATTACHMENT_FIELDS
    assert created["data"] == destroyed["data"] == rendered
    assert created["data"]["app"]["name"] == OTHER
    assert created["data"]["addon"]["app"]["name"] == OWNER


def test_removing_the_owners_addon_delivers_a_destroy_to_each_attached_app(
    sim: Simulator, receiver: Receiver
) -> None:
    attachment_id = sim.attach_addon(OWNER, "DATABASE", OTHER)
    subscribe(sim, receiver, OTHER, ["api:addon-attachment"])
    sim.remove_addon(OWNER, "DATABASE")
    [record] = sim.wait_for_deliveries(1)
    assert (record["entity"], record["action"]) == ("api:addon-attachment", "destroy")
    assert receiver.wait_for(1)[0].json["data"]["id"] == attachment_id


def test_deleting_the_owner_app_delivers_a_destroy_to_each_attached_app(
    sim: Simulator, receiver: Receiver
) -> None:
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    subscribe(sim, receiver, OTHER, ["api:addon-attachment"])
    sim.delete_app(OWNER)
    [record] = sim.wait_for_deliveries(1)
    assert (record["entity"], record["action"]) == ("api:addon-attachment", "destroy")


def test_adding_and_removing_an_addon_delivers_its_own_attachment_events(
    sim: Simulator, receiver: Receiver
) -> None:
    subscribe(sim, receiver, OWNER, ["api:addon", "api:addon-attachment"])
    addon_id = sim.add_addon(OWNER, "heroku-redis", "mini")
    sim.remove_addon(OWNER, addon_id)
    records = sim.wait_for_deliveries(4)
    assert entity_actions(records) == [
        ("api:addon", "create"),
        ("api:addon-attachment", "create"),
        ("api:addon-attachment", "destroy"),
        ("api:addon", "destroy"),
    ]
    data = [r.json["data"] for r in receiver.wait_for(4)]
    assert data[1] == data[2]
    assert set(data[1]) == ATTACHMENT_FIELDS
    assert (data[1]["name"], data[1]["addon"]["id"]) == ("REDIS", addon_id)
    assert data[1]["app"] == data[1]["addon"]["app"]


# -- refusals ----------------------------------------------------------------------------------


def test_attaching_an_addon_to_its_own_app_is_refused(sim: Simulator) -> None:
    with pytest.raises(InvalidParamsError, match="billing app"):
        sim.attach_addon(OWNER, "DATABASE", OWNER)


def test_attaching_under_a_name_taken_on_the_app_is_refused(sim: Simulator) -> None:
    sim.attach_addon(OWNER, "DATABASE", OTHER)
    with pytest.raises(InvalidParamsError, match="already taken"):
        sim.attach_addon(OWNER, "DATABASE", OTHER, name="DATABASE")
    with pytest.raises(InvalidParamsError, match="already taken"):
        sim.attach_addon(OWNER, "DATABASE", BUSY, name="DATABASE")  # BUSY's own
    sim.set_config(OTHER, {"REPORTING_DB_URL": "postgres://elsewhere"})
    with pytest.raises(InvalidParamsError, match="REPORTING_DB_URL"):
        sim.attach_addon(OWNER, "DATABASE", OTHER, name="REPORTING_DB")


def test_attaching_under_a_name_heroku_refuses_is_refused(sim: Simulator) -> None:
    for bad in ("database", "1DB", "MY-DB", ""):
        with pytest.raises(InvalidParamsError):
            sim.attach_addon(OWNER, "DATABASE", OTHER, name=bad)


def test_attaching_a_deprovisioned_addon_is_refused(sim: Simulator) -> None:
    sim.set_addon_state(OWNER, "DATABASE", "deprovisioned")
    with pytest.raises(InvalidParamsError):
        sim.attach_addon(OWNER, "DATABASE", OTHER)


def test_detaching_an_addons_own_attachment_says_to_remove_the_addon(sim: Simulator) -> None:
    [own] = sim.attachments_json(OWNER)
    for ident in (own["id"], "DATABASE"):
        with pytest.raises(InvalidParamsError, match="remove the add-on"):
            sim.detach_addon(OWNER, ident)


def test_unknown_apps_addons_and_attachments_are_lookup_errors(sim: Simulator) -> None:
    with pytest.raises(UnknownAppError):
        sim.attach_addon(OWNER, "DATABASE", "ghost-app")
    with pytest.raises(UnknownResourceError):
        sim.attach_addon(OWNER, "REDIS", OTHER)
    with pytest.raises(UnknownResourceError):
        sim.attach_addon(OTHER, "DATABASE", OWNER)  # OTHER owns no add-on
    with pytest.raises(UnknownResourceError):
        sim.detach_addon(OTHER, "DATABASE")
    with pytest.raises(UnknownAppError):
        sim.attachments_json("ghost-app")


# -- control API -------------------------------------------------------------------------------


def test_control_api_attaches_with_201_and_the_attachment_then_detaches(
    sim: Simulator, api: Api
) -> None:
    created = api.control("POST", f"/_sim/apps/{OWNER}/addons/DATABASE/attachments", {"app": OTHER})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == ATTACHMENT_FIELDS
    assert (body["name"], body["app"]["name"], body["addon"]["app"]["name"]) == (
        "DATABASE",
        OTHER,
        OWNER,
    )
    named = api.control(
        "POST",
        f"/_sim/apps/{OWNER}/addons/DATABASE/attachments",
        {"app": OTHER, "name": "REPORTING_DB"},
    )
    assert named.status_code == 201 and named.json()["name"] == "REPORTING_DB"
    gone = api.control("DELETE", f"/_sim/apps/{OTHER}/addon-attachments/{body['id']}")
    assert gone.status_code == 200
    assert [a["name"] for a in sim.attachments_json(OTHER)] == ["REPORTING_DB"]


def test_control_api_refusals_are_422_and_unknown_apps_404(sim: Simulator, api: Api) -> None:
    path = f"/_sim/apps/{OWNER}/addons/DATABASE/attachments"
    own_app = api.control("POST", path, {"app": OWNER})
    assert own_app.status_code == 422
    assert own_app.json()["id"] == "invalid_params"
    assert api.control("POST", path, {}).status_code == 422
    ghost = api.control("POST", path, {"app": "ghost-app"})
    assert ghost.status_code == 404 and "ghost-app" in ghost.json()["message"]
    ghost_owner = api.control(
        "POST", "/_sim/apps/ghost-app/addons/DATABASE/attachments", {"app": OTHER}
    )
    assert ghost_owner.status_code == 404 and "ghost-app" in ghost_owner.json()["message"]
    own = api.control("DELETE", f"/_sim/apps/{OWNER}/addon-attachments/DATABASE")
    assert own.status_code == 422
    assert "remove the add-on" in own.json()["message"]
    missing = api.control("DELETE", f"/_sim/apps/{OTHER}/addon-attachments/DATABASE")
    assert missing.status_code == 404
