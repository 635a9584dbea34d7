"""The simulator's teams and account-wide lists (`GET /apps`, `GET /addons`,
`GET /teams/{team}/apps`), and the app `updated_at` / `released_at` rules, over real HTTP.

Each test is named after the rule it holds. Time comes from an injected clock; nothing
sleeps (webhook tests wait on a condition with a deadline).
"""

from __future__ import annotations

from typing import Any

import pytest

from heroku_sim import (
    ConflictError,
    InvalidParamsError,
    Simulator,
    SimulatorServer,
    UnknownResourceError,
)
from tests.support.receiver import Receiver
from tests.support.simulator import ADDON_FIELDS, APP, APP_FIELDS, FakeClock
from tests.support.simulator_api import Api

TEAM = "acme"
TEAM_APP = "acme-api"
# Properties of the `team-app` definition in the Platform API schema (heroku/platform-api
# schema.json, "Heroku Platform API - Team App"); its `team` has `name` only.
TEAM_APP_FIELDS = {
    "archived_at", "buildpack_provided_description", "build_stack", "created_at", "git_url",
    "id", "internal_routing", "joined", "locked", "maintenance", "name", "owner", "region",
    "released_at", "repo_size", "slug_size", "space", "stack", "team", "updated_at",
    "web_url",
}  # fmt: skip


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Simulator:
    simulator = Simulator(clock=clock, seed=11)
    simulator.create_app(APP)
    simulator.create_team(TEAM)
    simulator.create_app(TEAM_APP, team=TEAM)
    return simulator


def names(response: Any) -> list[str]:
    return [item["name"] for item in response.json()]


def app_of(api: Api, app: str = APP) -> dict[str, Any]:
    response = api.get(f"/apps/{app}")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def walk(api: Api, path: str, first_range: str = "") -> tuple[list[dict[str, Any]], list[int]]:
    """Every item of list `path`, following Next-Range; and the status of each page."""
    items: list[dict[str, Any]] = []
    statuses: list[int] = []
    headers = {"Range": first_range} if first_range else {}
    while True:
        response = api.get(path, **headers)
        statuses.append(response.status_code)
        items.extend(response.json())
        if "Next-Range" not in response.headers:
            return items, statuses
        headers = {"Range": response.headers["Next-Range"]}


# -- teams and team apps --------------------------------------------------------------------


def test_team_apps_are_listed_with_exactly_the_schema_team_app_fields(
    sim: Simulator, api: Api
) -> None:
    response = api.get(f"/teams/{TEAM}/apps")
    assert response.status_code == 200
    [item] = response.json()
    assert set(item) == TEAM_APP_FIELDS
    app = app_of(api, TEAM_APP)
    assert item["team"] == {"name": TEAM}
    assert (item["joined"], item["locked"]) == (False, False)
    for key in TEAM_APP_FIELDS - {"team", "joined", "locked"}:
        assert item[key] == app[key], key
    assert response.headers["Accept-Ranges"] == "id, name"


def test_team_apps_can_be_listed_by_team_id(sim: Simulator, api: Api) -> None:
    team_id = app_of(api, TEAM_APP)["team"]["id"]
    assert names(api.get(f"/teams/{team_id}/apps")) == [TEAM_APP]


def test_team_ids_are_stable_across_simulators(sim: Simulator) -> None:
    other = Simulator(seed=99)
    assert other.create_team(TEAM)["id"] == sim.app_json(TEAM_APP)["team"]["id"]


def test_unknown_team_is_404_not_found_with_a_heroku_error_body(api: Api) -> None:
    response = api.get("/teams/no-such-team/apps")
    assert response.status_code == 404
    body = response.json()
    assert body["id"] == "not_found"
    assert body["resource"] == "team"
    assert isinstance(body["message"], str) and body["message"]


def test_app_created_in_a_team_shows_in_the_team_list_and_in_get_apps(api: Api) -> None:
    team = api.control("POST", "/_sim/teams", {"name": "beta-team"})
    assert team.status_code == 201
    created = api.control("POST", "/_sim/apps", {"name": "beta-web", "team": "beta-team"})
    assert created.status_code == 201
    reference = {"id": team.json()["id"], "name": "beta-team"}
    assert created.json()["team"] == reference
    assert names(api.get("/teams/beta-team/apps")) == ["beta-web"]
    listed = {a["name"]: a for a in api.get("/apps").json()}
    assert set(listed) == {APP, TEAM_APP, "beta-web"}
    assert set(listed["beta-web"]) == APP_FIELDS
    # `organization` is the deprecated name of `team`: Heroku fills both the same way.
    assert listed["beta-web"]["team"] == listed["beta-web"]["organization"] == reference
    assert listed[APP]["team"] is None and listed[APP]["organization"] is None


def test_app_outside_any_team_is_in_no_team_list(api: Api) -> None:
    assert APP not in names(api.get(f"/teams/{TEAM}/apps"))


def test_creating_an_app_in_an_unknown_team_fails_and_creates_nothing(
    sim: Simulator, api: Api
) -> None:
    with pytest.raises(UnknownResourceError):
        sim.create_app("orphan-app", team="ghosts")
    response = api.control("POST", "/_sim/apps", {"name": "orphan-app", "team": "ghosts"})
    assert (response.status_code, response.json()["resource"]) == (404, "team")
    assert "orphan-app" not in sim.app_names()


def test_team_names_are_validated_and_unique(sim: Simulator, api: Api) -> None:
    for bad in ("Acme", "acme team", "", "-acme", "acme_1"):
        with pytest.raises(InvalidParamsError):
            sim.create_team(bad)
    with pytest.raises(ConflictError):
        sim.create_team(TEAM)
    assert api.control("POST", "/_sim/teams", {"name": "Bad Name"}).status_code == 422
    assert api.control("POST", "/_sim/teams", {"name": TEAM}).status_code == 409
    assert api.control("POST", "/_sim/teams", {}).status_code == 422
    assert api.control("POST", "/_sim/teams", {"name": "team-2"}).status_code == 201
    assert api.control("GET", "/_sim/teams").json() == {"teams": [TEAM, "team-2"]}


def test_moving_an_app_out_of_a_team_takes_it_off_the_team_list_and_bumps_updated_at(
    api: Api, clock: FakeClock
) -> None:
    before = app_of(api, TEAM_APP)
    clock.advance(minutes=5)
    moved = api.control("POST", f"/_sim/apps/{TEAM_APP}/team", {"team": None})
    assert moved.status_code == 200
    assert moved.json()["team"] is None and moved.json()["organization"] is None
    assert api.get(f"/teams/{TEAM}/apps").json() == []
    after = app_of(api, TEAM_APP)
    assert after["updated_at"] == "2026-01-01T12:05:00Z" != before["updated_at"]
    assert after["released_at"] == before["released_at"]
    assert TEAM_APP in names(api.get("/apps"))


def test_moving_an_app_into_a_team_lists_it_there(sim: Simulator, api: Api) -> None:
    team_id = sim.app_json(TEAM_APP)["team"]["id"]
    moved = api.control("POST", f"/_sim/apps/{APP}/team", {"team": team_id})
    assert moved.json()["team"] == {"id": team_id, "name": TEAM}
    assert sorted(names(api.get(f"/teams/{TEAM}/apps"))) == sorted([APP, TEAM_APP])


def test_move_control_route_needs_the_team_key_and_a_known_team(api: Api) -> None:
    assert api.control("POST", f"/_sim/apps/{APP}/team", {}).status_code == 422
    unknown = api.control("POST", f"/_sim/apps/{APP}/team", {"team": "ghosts"})
    assert (unknown.status_code, unknown.json()["resource"]) == (404, "team")
    assert api.control("POST", "/_sim/apps/ghost-app/team", {"team": None}).status_code == 404


def test_moving_an_app_sends_an_api_app_update_with_the_previous_team(sim: Simulator) -> None:
    team = sim.app_json(TEAM_APP)["team"]
    with Receiver() as receiver, SimulatorServer(sim):
        sim.create_webhook(TEAM_APP, include=["api:app"], level="notify", url=receiver.url)
        sim.move_app(TEAM_APP, None)
        [received] = receiver.wait_for(1)
    event = received.json
    assert (event["resource"], event["action"]) == ("app", "update")
    assert event["data"]["team"] is None
    assert event["previous_data"] == {"team": team} and team["name"] == TEAM


# -- deleting an app ------------------------------------------------------------------------


def test_deleted_app_is_gone_from_every_list_and_answers_404(sim: Simulator, api: Api) -> None:
    addon_ids = {a["id"] for a in sim.addons_json(TEAM_APP)}
    deleted = api.control("DELETE", f"/_sim/apps/{TEAM_APP}")
    assert deleted.status_code == 200
    assert TEAM_APP not in names(api.get("/apps"))
    assert api.get(f"/teams/{TEAM}/apps").json() == []
    assert not addon_ids & {a["id"] for a in api.get("/addons").json()}
    gone = api.get(f"/apps/{TEAM_APP}")
    assert gone.status_code == 404
    assert (gone.json()["id"], gone.json()["resource"]) == ("not_found", "app")
    assert api.get(f"/apps/{TEAM_APP}/dynos").status_code == 404
    assert api.control("GET", "/_sim/apps").json() == {"apps": [APP]}
    assert api.control("DELETE", f"/_sim/apps/{TEAM_APP}").status_code == 404


def test_deleted_app_name_can_be_used_again(sim: Simulator) -> None:
    old_id = sim.app_json(APP)["id"]
    sim.delete_app(APP)
    sim.create_app(APP)
    assert sim.app_json(APP)["id"] != old_id


def test_deleted_app_delivers_nothing_more_to_its_webhooks(sim: Simulator) -> None:
    with Receiver() as receiver, SimulatorServer(sim):
        sim.create_webhook(TEAM_APP, include=["api:release"], level="notify", url=receiver.url)
        sim.create_webhook(APP, include=["api:release"], level="notify", url=receiver.url + "/x")
        sim.pause_deliveries()
        sim.deploy(TEAM_APP)
        assert sim.pending_deliveries == 1
        sim.delete_app(TEAM_APP)
        assert sim.pending_deliveries == 0
        sim.resume_deliveries()
        sim.deploy(APP)  # delivered in order: once it arrives, nothing older is left
        [received] = receiver.wait_for(1)
    assert received.path == "/x"
    assert received.json["data"]["app"]["name"] == APP


# -- account-wide lists -----------------------------------------------------------------------


def test_get_addons_lists_every_add_on_of_the_account_with_its_app(
    sim: Simulator, api: Api
) -> None:
    sim.add_addon(APP, "heroku-redis", "mini")
    response = api.get("/addons")
    assert response.status_code == 200
    listed = response.json()
    expected = sim.addons_json(APP) + sim.addons_json(TEAM_APP)
    assert sorted(listed, key=lambda a: a["id"]) == sorted(expected, key=lambda a: a["id"])
    assert len(listed) == 3
    for addon in listed:
        assert set(addon) == ADDON_FIELDS
        assert set(addon["app"]) == {"id", "name"}
    owners = {a["app"]["name"] for a in listed}
    assert owners == {APP, TEAM_APP}
    assert response.headers["Accept-Ranges"] == "id, name"


def test_get_addons_pages_by_range_with_next_range(sim: Simulator, api: Api) -> None:
    for plan in ("mini", "mini", "mini"):
        sim.add_addon(APP, "heroku-redis", plan)
    first = api.get("/addons", Range="id ..; max=2")
    assert first.status_code == 206 and len(first.json()) == 2
    items, statuses = walk(api, "/addons", "id ..; max=2")
    assert statuses == [206, 206, 200]
    ids = [a["id"] for a in items]
    assert ids == sorted(ids) and len(set(ids)) == 5
    by_name, _ = walk(api, "/addons", "name ..; max=3")
    assert [a["name"] for a in by_name] == sorted(a["name"] for a in items)
    assert api.get("/addons", Range="version ..").status_code == 400


def test_get_apps_pages_250_apps_across_two_pages_via_next_range(sim: Simulator, api: Api) -> None:
    for n in range(248):
        sim.create_app(f"bulk-{n:03d}", dynos={}, addons=[], releases=1)
    first = api.get("/apps")
    assert first.status_code == 206
    assert len(first.json()) == 200
    assert first.headers["Content-Range"].endswith("; max=200")
    second = api.get("/apps", Range=first.headers["Next-Range"])
    assert second.status_code == 200
    assert "Next-Range" not in second.headers
    assert len(second.json()) == 50
    ids = [a["id"] for a in first.json() + second.json()]
    assert ids == sorted(ids) and len(set(ids)) == 250
    assert {a["name"] for a in first.json() + second.json()} == set(sim.app_names())


def test_get_apps_accepts_the_schema_ranges_id_name_and_updated_at(api: Api) -> None:
    response = api.get("/apps", Range="name ..; max=1")
    assert (response.status_code, names(response)) == (206, [TEAM_APP])
    assert response.headers["Next-Range"] == f"name ]{TEAM_APP}..; max=1"
    assert api.get("/apps", Range="updated_at ..").status_code == 200
    assert response.headers["Accept-Ranges"] == "id, name, updated_at"


def test_team_apps_page_by_range(sim: Simulator, api: Api) -> None:
    for n in range(4):
        sim.create_app(f"acme-w{n}", team=TEAM, dynos={}, addons=[], releases=1)
    items, statuses = walk(api, f"/teams/{TEAM}/apps", "name ..; max=2")
    assert statuses == [206, 206, 200]
    assert [a["name"] for a in items] == sorted([TEAM_APP] + [f"acme-w{n}" for n in range(4)])


def test_new_lists_are_counted_by_path(sim: Simulator, api: Api) -> None:
    sim.reset_counters()
    api.get("/addons")
    api.get(f"/teams/{TEAM}/apps")
    api.get("/teams/ghosts/apps")
    api.get("/apps")
    assert sim.requests_by_path == {
        "/addons": 1,
        f"/teams/{TEAM}/apps": 1,
        "/teams/ghosts/apps": 1,
        "/apps": 1,
    }
    assert sim.stats()["by_status"] == {"200": 3, "404": 1}


def test_new_lists_need_the_api_headers_and_cost_a_rate_limit_token(
    sim: Simulator, api: Api
) -> None:
    for path in ("/addons", f"/teams/{TEAM}/apps"):
        no_token = api.raw("GET", path, headers={"Accept": api.headers["Accept"]})
        no_version = api.raw("GET", path, headers={"Authorization": "Bearer sim-token"})
        assert (no_token.status_code, no_version.status_code) == (401, 406)
    remaining = sim.rate_limit_remaining
    api.get("/addons")
    api.get(f"/teams/{TEAM}/apps")
    assert sim.rate_limit_remaining == remaining - 2


def test_fault_for_any_app_hits_the_account_wide_lists(sim: Simulator, api: Api) -> None:
    sim.inject_fault(status=503, count=2)
    assert api.get("/addons").status_code == 503
    assert api.get(f"/teams/{TEAM}/apps").status_code == 503
    assert api.get("/addons").status_code == 200
    sim.inject_fault(APP, status=500)
    assert api.get("/addons").status_code == 200  # a fault for one app stays with that app
    assert api.get(f"/apps/{APP}").status_code == 500


# -- updated_at and released_at ---------------------------------------------------------------


def test_failed_release_bumps_updated_at_but_not_released_at(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    before = app_of(api)
    clock.advance(minutes=1)
    sim.deploy(APP, status="failed")
    failed = app_of(api)
    assert failed["updated_at"] == "2026-01-01T12:01:00Z" != before["updated_at"]
    assert failed["released_at"] == before["released_at"]


def test_pending_release_bumps_updated_at_and_finishing_it_failed_bumps_it_again(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    before = app_of(api)
    clock.advance(minutes=1)
    version = sim.deploy(APP, status="pending")
    pending = app_of(api)
    assert pending["updated_at"] == "2026-01-01T12:01:00Z"
    assert pending["released_at"] == before["released_at"]
    clock.advance(minutes=1)
    api.control("POST", f"/_sim/apps/{APP}/releases/{version}/finish", {"status": "failed"})
    finished = app_of(api)
    assert finished["updated_at"] == "2026-01-01T12:02:00Z"
    assert finished["released_at"] == before["released_at"]


def test_pending_release_that_succeeds_moves_released_at(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    version = sim.deploy(APP, status="pending")
    clock.advance(minutes=3)
    sim.finish_release(APP, version)
    app = app_of(api)
    assert app["updated_at"] == app["released_at"] == "2026-01-01T12:03:00Z"


def test_older_release_finishing_late_bumps_updated_at_only(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    older = sim.deploy(APP, status="pending")
    clock.advance(minutes=1)
    sim.deploy(APP)
    released = app_of(api)["released_at"]
    clock.advance(minutes=1)
    sim.finish_release(APP, older)
    app = app_of(api)
    assert app["updated_at"] == "2026-01-01T12:02:00Z"
    assert app["released_at"] == released == "2026-01-01T12:01:00Z"


def test_deploy_bumps_updated_at_and_released_at(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    before = app_of(api)
    clock.advance(minutes=2)
    api.control("POST", f"/_sim/apps/{APP}/deploy", {})
    after = app_of(api)
    assert after["updated_at"] == after["released_at"] == "2026-01-01T12:02:00Z"
    assert before["released_at"] != after["released_at"]


@pytest.mark.parametrize(
    "change",
    [
        lambda sim: sim.set_config(APP, {"FEATURE": "on"}),
        lambda sim: sim.unset_config(APP, ["LANG"]),
        lambda sim: sim.rollback(APP, 2),
        lambda sim: sim.add_addon(APP, "heroku-redis", "mini"),
        lambda sim: sim.remove_addon(APP, "DATABASE"),
    ],
    ids=["set-config", "unset-config", "rollback", "attach-addon", "detach-addon"],
)
def test_every_change_that_makes_a_release_bumps_both_timestamps(
    sim: Simulator, api: Api, clock: FakeClock, change: Any
) -> None:
    clock.advance(minutes=4)
    change(sim)
    app = app_of(api)
    assert app["updated_at"] == app["released_at"] == "2026-01-01T12:04:00Z"
