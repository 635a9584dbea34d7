"""The Heroku API simulator, exercised over real HTTP on 127.0.0.1.

Each test is named after the rule it holds. Time comes from an injected clock, so nothing
sleeps and the rate limit does not refill unless a test moves the clock.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from heroku_sim import (
    HEROKU_REFILL_PER_MINUTE,
    ConflictError,
    InvalidParamsError,
    Simulator,
    SimulatorServer,
    UnknownAppError,
    parse_range,
)
from heroku_sim.api import ApiError
from tests.support.simulator import (
    ADDON_FIELDS,
    APP,
    APP_FIELDS,
    DYNO_FIELDS,
    FORMATION_FIELDS,
    RELEASE_FIELDS,
    TIMESTAMP,
    WEBHOOK_FIELDS,
    FakeClock,
)
from tests.support.simulator_api import ACCEPT, Api


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Simulator:
    simulator = Simulator(clock=clock, seed=7)
    simulator.create_app(APP)
    return simulator


def newest_releases(api: Api, n: int = 10) -> list[dict[str, Any]]:
    response = api.get(f"/apps/{APP}/releases", Range=f"version ..; order=desc, max={n}")
    assert response.status_code in (200, 206)
    releases: list[dict[str, Any]] = response.json()
    return releases


def dynos_by_name(api: Api) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in api.get(f"/apps/{APP}/dynos").json()}


# -- headers, auth, errors -----------------------------------------------------------------


def test_missing_accept_header_is_406(api: Api) -> None:
    response = api.raw("GET", f"/apps/{APP}", headers={"Authorization": "Bearer sim-token"})
    assert response.status_code == 406
    assert response.json()["id"] == "not_acceptable"
    assert "version=3" in response.json()["message"]


def test_wrong_api_version_is_406(api: Api) -> None:
    response = api.get(f"/apps/{APP}", Accept="application/vnd.heroku+json; version=2")
    assert response.status_code == 406
    assert api.get(f"/apps/{APP}", Accept="application/json").status_code == 406


def test_observed_mode_answers_missing_version_with_400(sim: Simulator, api: Api) -> None:
    sim.accept_error = "observed"
    response = api.raw("GET", f"/apps/{APP}", headers={"Authorization": "Bearer sim-token"})
    assert response.status_code == 400
    assert response.json()["id"] == "missing_version"


def test_invalid_token_is_401_unauthorized(server: SimulatorServer) -> None:
    response = Api(server.url, token="wrong").get(f"/apps/{APP}")
    assert response.status_code == 401
    assert response.json() == {"id": "unauthorized", "message": "Invalid credentials provided."}


def test_missing_authorization_is_401(api: Api) -> None:
    response = api.raw("GET", f"/apps/{APP}", headers={"Accept": ACCEPT})
    assert response.status_code == 401


def test_basic_auth_with_token_as_password_is_accepted(api: Api) -> None:
    response = api.raw("GET", f"/apps/{APP}", headers={"Accept": ACCEPT}, auth=("", "sim-token"))
    assert response.status_code == 200


def test_set_token_makes_the_old_token_401(sim: Simulator, api: Api) -> None:
    assert api.get(f"/apps/{APP}").status_code == 200
    sim.set_token("rotated")
    assert api.get(f"/apps/{APP}").status_code == 401
    api.headers["Authorization"] = "Bearer rotated"
    assert api.get(f"/apps/{APP}").status_code == 200


def test_unknown_app_is_404_not_found_with_resource(api: Api) -> None:
    response = api.get("/apps/no-such-app/dynos")
    assert response.status_code == 404
    assert response.json() == {
        "id": "not_found",
        "message": "Couldn't find that app.",
        "resource": "app",
    }


def test_unknown_endpoint_is_404_json_error(api: Api) -> None:
    response = api.get("/no/such/endpoint")
    assert response.status_code == 404
    assert set(response.json()) == {"id", "message"}
    assert response.json()["id"] == "not_found"


def test_app_can_be_addressed_by_id(api: Api) -> None:
    app_id = api.get(f"/apps/{APP}").json()["id"]
    assert api.get(f"/apps/{app_id}").json()["name"] == APP


# -- resource shapes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        (f"/apps/{APP}/dynos", DYNO_FIELDS),
        (f"/apps/{APP}/releases", RELEASE_FIELDS),
        (f"/apps/{APP}/addons", ADDON_FIELDS),
        (f"/apps/{APP}/formation", FORMATION_FIELDS),
    ],
)
def test_list_items_have_every_field_of_the_reference_shape(
    api: Api, path: str, fields: set[str]
) -> None:
    items = api.get(path).json()
    assert items
    for item in items:
        assert set(item) == fields


def test_app_has_every_field_of_the_reference_shape(api: Api) -> None:
    app = api.get(f"/apps/{APP}").json()
    assert set(app) == APP_FIELDS
    assert app["name"] == APP
    assert app["maintenance"] is False
    assert re.match(r"^https://demo-app-[0-9a-f]{12}\.herokuapp\.com/$", app["web_url"])
    assert set(app["owner"]) == {"email", "id"}
    assert app["region"]["name"] == "us"


def test_timestamps_are_iso8601_utc_from_the_injected_clock(api: Api) -> None:
    app = api.get(f"/apps/{APP}").json()
    dyno = api.get(f"/apps/{APP}/dynos").json()[0]
    for stamp in (app["created_at"], app["updated_at"], dyno["created_at"], dyno["updated_at"]):
        assert TIMESTAMP.match(stamp)
    assert dyno["updated_at"] == "2026-01-01T12:00:00Z"


def test_nested_references_match_the_reference_shape(api: Api) -> None:
    dyno = api.get(f"/apps/{APP}/dynos").json()[0]
    assert set(dyno["release"]) == {"id", "version"}
    assert set(dyno["app"]) == {"id", "name"}
    release = newest_releases(api, 1)[0]
    assert set(release["user"]) == {"id", "email"}
    assert set(release["slug"]) == {"id"}
    addon = api.get(f"/apps/{APP}/addons").json()[0]
    assert set(addon["addon_service"]) == {"id", "name"}
    assert set(addon["plan"]) == {"id", "name"}


def test_single_resource_endpoints_answer_the_list_item(api: Api) -> None:
    dyno = api.get(f"/apps/{APP}/dynos/web.1").json()
    assert dyno["name"] == "web.1"
    assert api.get(f"/apps/{APP}/releases/2").json()["version"] == 2
    addon = api.get(f"/apps/{APP}/addons").json()[0]
    assert api.get(f"/apps/{APP}/addons/{addon['name']}").json()["id"] == addon["id"]
    assert api.get(f"/apps/{APP}/formation/web").json()["quantity"] == 2
    missing = api.get(f"/apps/{APP}/dynos/web.99")
    assert missing.status_code == 404
    assert missing.json()["resource"] == "dyno"


# -- the app a new simulator holds -----------------------------------------------------------


def test_create_app_has_up_dynos_provisioned_addons_and_succeeded_releases(api: Api) -> None:
    dynos = dynos_by_name(api)
    assert sorted(dynos) == ["web.1", "web.2", "worker.1"]
    assert {d["state"] for d in dynos.values()} == {"up"}
    assert {d["type"] for d in dynos.values()} == {"web", "worker"}
    addons = api.get(f"/apps/{APP}/addons").json()
    assert [(a["addon_service"]["name"], a["state"]) for a in addons] == [
        ("heroku-postgresql", "provisioned")
    ]
    assert addons[0]["config_vars"] == ["DATABASE_URL"]
    releases = newest_releases(api)
    assert [r["version"] for r in releases] == [3, 2, 1]
    assert {r["status"] for r in releases} == {"succeeded"}
    assert [r["current"] for r in releases] == [True, False, False]
    assert "DATABASE_URL" in api.get(f"/apps/{APP}/config-vars").json()


def test_initial_release_has_no_slug_and_later_deploys_do(api: Api) -> None:
    by_version = {r["version"]: r for r in newest_releases(api)}
    assert by_version[1]["description"] == "Initial release"
    assert by_version[1]["slug"] is None
    for version in (2, 3):
        assert re.match(r"^Deploy [0-9a-f]{7}$", by_version[version]["description"])
        assert by_version[version]["slug"]["id"]
        assert by_version[version]["user"]["email"] == "dev@example.com"
    assert by_version[2]["slug"] != by_version[3]["slug"]


def test_create_app_rejects_invalid_and_duplicate_names(sim: Simulator) -> None:
    with pytest.raises(InvalidParamsError):
        sim.create_app("Bad_Name")
    with pytest.raises(ConflictError):
        sim.create_app(APP)
    with pytest.raises(UnknownAppError):
        sim.crash_dyno("missing-app", "web.1")


# -- ranges ------------------------------------------------------------------------------------


def test_releases_range_desc_returns_newest_first(sim: Simulator, api: Api) -> None:
    for _ in range(5):
        sim.deploy(APP)
    response = api.get(f"/apps/{APP}/releases", Range="version ..; order=desc, max=3")
    assert response.status_code == 206
    assert [r["version"] for r in response.json()] == [8, 7, 6]
    assert response.headers["Content-Range"] == "version 8..6; max=3, order=desc"


def test_next_range_pages_through_releases_without_gaps_or_overlap(
    sim: Simulator, api: Api
) -> None:
    for _ in range(7):
        sim.deploy(APP)
    seen: list[int] = []
    range_header = "version ..; order=desc, max=4"
    statuses = []
    while True:
        response = api.get(f"/apps/{APP}/releases", Range=range_header)
        statuses.append(response.status_code)
        seen.extend(r["version"] for r in response.json())
        if "Next-Range" not in response.headers:
            break
        range_header = response.headers["Next-Range"]
    assert seen == list(range(10, 0, -1))
    assert statuses == [206, 206, 200]


def test_default_list_is_paged_at_200_with_206_and_next_range(sim: Simulator, api: Api) -> None:
    sim.scale(APP, "web", 449)  # 449 web + 1 worker = 450 dynos
    first = api.get(f"/apps/{APP}/dynos")
    assert first.status_code == 206
    assert len(first.json()) == 200
    ids = [d["id"] for d in first.json()]
    assert ids == sorted(ids)  # default order: id ascending
    assert first.headers["Next-Range"] == f"id ]{ids[-1]}..; max=200"
    assert first.headers["Content-Range"] == f"id {ids[0]}..{ids[-1]}; max=200"
    second = api.get(f"/apps/{APP}/dynos", Range=first.headers["Next-Range"])
    third = api.get(f"/apps/{APP}/dynos", Range=second.headers["Next-Range"])
    assert (second.status_code, third.status_code) == (206, 200)
    assert "Next-Range" not in third.headers
    every = ids + [d["id"] for d in second.json()] + [d["id"] for d in third.json()]
    assert len(every) == len(set(every)) == 450


def test_short_list_is_200_with_content_range_and_accept_ranges(api: Api) -> None:
    response = api.get(f"/apps/{APP}/dynos")
    assert response.status_code == 200
    assert "Next-Range" not in response.headers
    assert response.headers["Accept-Ranges"] == "id, name"
    assert response.headers["Content-Range"].startswith("id ")
    assert api.get(f"/apps/{APP}/releases").headers["Accept-Ranges"] == "id, version"
    assert api.get(f"/apps/{APP}/formation").headers["Accept-Ranges"] == "id, type"


def test_max_is_capped_at_1000(sim: Simulator, api: Api) -> None:
    sim.scale(APP, "web", 1100)
    response = api.get(f"/apps/{APP}/dynos", Range="id ..; max=5000")
    assert response.status_code == 206
    assert len(response.json()) == 1000
    assert response.headers["Next-Range"].endswith("; max=1000")


def test_range_by_name_and_exclusive_start(api: Api) -> None:
    response = api.get(f"/apps/{APP}/dynos", Range="name ]web.1..; max=10")
    assert [d["name"] for d in response.json()] == ["web.2", "worker.1"]


@pytest.mark.parametrize(
    "header",
    [
        "version ..; max=10; order=desc",  # params are comma-separated, not `;`
        "slug ..",  # not an Accept-Ranges field of releases
        "version abc..",
        "version ..; max=0",
        "version ..; order=sideways",
        "version ..; limit=10",
        "nonsense",
    ],
)
def test_invalid_range_is_400_bad_request(api: Api, header: str) -> None:
    response = api.get(f"/apps/{APP}/releases", Range=header)
    assert response.status_code == 400
    assert response.json()["id"] == "bad_request"
    assert "Invalid `Range` header" in response.json()["message"]


@pytest.mark.parametrize(
    "header",
    ["id ..", "id ..;", "id ..; max=10;", "version ..; order=desc,max=1", "id ]..; max=1000"],
)
def test_heroku_range_spellings_are_accepted(header: str) -> None:
    spec = parse_range(header, ("id", "version"))
    assert spec.field in ("id", "version")


def test_parse_range_reports_bad_headers_as_api_errors() -> None:
    with pytest.raises(ApiError) as caught:
        parse_range("id ..; max=ten", ("id",))
    assert caught.value.status == 400


# -- caching and headers on every response ---------------------------------------------------


def test_every_response_has_etag_request_id_and_ratelimit_remaining(api: Api) -> None:
    ok = api.get(f"/apps/{APP}")
    error = api.get("/apps/no-such-app")
    unauthorized = Api(api.base_url, token="nope").get(f"/apps/{APP}")
    not_modified = api.get(f"/apps/{APP}", If_None_Match=ok.headers["ETag"])
    assert not_modified.status_code == 304
    for response in (ok, error, unauthorized, not_modified):
        assert re.match(r'^"[0-9a-f]{32}"$', response.headers["ETag"])
        assert response.headers["RateLimit-Remaining"].isdigit()
        assert response.headers["Request-Id"]
    assert ok.headers["Request-Id"] != error.headers["Request-Id"]


def test_if_none_match_gets_304_with_empty_body(api: Api) -> None:
    first = api.get(f"/apps/{APP}/releases", Range="version ..; order=desc, max=10")
    again = api.get(
        f"/apps/{APP}/releases",
        Range="version ..; order=desc, max=10",
        If_None_Match=first.headers["ETag"],
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_changed_resource_answers_200_despite_the_old_etag(sim: Simulator, api: Api) -> None:
    first = api.get(f"/apps/{APP}/dynos")
    sim.crash_dyno(APP, "web.1")
    again = api.get(f"/apps/{APP}/dynos", If_None_Match=first.headers["ETag"])
    assert again.status_code == 200
    assert again.headers["ETag"] != first.headers["ETag"]


def test_stale_list_etags_reproduce_the_known_api_bug(sim: Simulator, api: Api) -> None:
    sim.set_stale_list_etags(True)
    first = api.get(f"/apps/{APP}/dynos")
    sim.crash_dyno(APP, "web.1")
    again = api.get(f"/apps/{APP}/dynos", If_None_Match=first.headers["ETag"])
    assert again.status_code == 304  # the change is hidden: compare what you read


def test_conditional_request_still_costs_a_rate_limit_token(api: Api) -> None:
    first = api.get(f"/apps/{APP}")
    before = int(first.headers["RateLimit-Remaining"])
    again = api.get(f"/apps/{APP}", If_None_Match=first.headers["ETag"])
    assert again.status_code == 304
    assert int(again.headers["RateLimit-Remaining"]) == before - 1


# -- rate limit ------------------------------------------------------------------------------


def test_rate_limit_decrements_per_request_but_not_for_rate_limits_endpoint(api: Api) -> None:
    assert api.get("/account/rate-limits").json() == {"remaining": 4500}
    api.get(f"/apps/{APP}")
    api.get(f"/apps/{APP}/dynos")
    api.get("/apps/no-such-app")
    response = api.get("/account/rate-limits")
    assert response.json() == {"remaining": 4497}
    assert response.headers["RateLimit-Remaining"] == "4497"


def test_exhausted_rate_limit_is_429_rate_limit_and_never_negative(
    sim: Simulator, api: Api
) -> None:
    sim.set_rate_limit_remaining(1)
    assert api.get(f"/apps/{APP}").status_code == 200
    for _ in range(3):
        response = api.get(f"/apps/{APP}")
        assert response.status_code == 429
        assert response.json() == {
            "id": "rate_limit",
            "message": "Your account reached the API rate limit\n"
            "Please wait a few minutes before making new requests",
        }
        assert response.headers["RateLimit-Remaining"] == "0"
    assert api.get("/account/rate-limits").json() == {"remaining": 0}


def test_rate_limit_refills_about_75_a_minute_when_asked(clock: FakeClock) -> None:
    sim = Simulator(clock=clock, rate_limit_refill_per_minute=HEROKU_REFILL_PER_MINUTE)
    sim.create_app(APP)
    sim.set_rate_limit_remaining(0)
    with SimulatorServer(sim) as running:
        api = Api(running.url)
        assert api.get(f"/apps/{APP}").status_code == 429
        clock.advance(minutes=2)
        assert api.get("/account/rate-limits").json() == {"remaining": 150}
        clock.advance(hours=2)
        assert api.get("/account/rate-limits").json() == {"remaining": 4500}
        api.session.close()


def test_rate_limit_does_not_refill_by_default(sim: Simulator, api: Api, clock: FakeClock) -> None:
    api.get(f"/apps/{APP}")
    clock.advance(hours=1)
    assert api.get("/account/rate-limits").json() == {"remaining": 4499}


# -- faults ----------------------------------------------------------------------------------


def test_injected_fault_answers_its_status_count_times_then_recovers(
    sim: Simulator, api: Api
) -> None:
    sim.inject_fault(APP, status=503, count=2)
    statuses = [api.get(f"/apps/{APP}").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_fault_body_is_a_heroku_error_body(sim: Simulator, api: Api) -> None:
    sim.inject_fault(APP, status=500)
    body = api.get(f"/apps/{APP}/dynos").json()
    assert body["id"] == "internal_server_error"
    assert isinstance(body["message"], str)


def test_fault_for_one_app_leaves_other_apps_alone(sim: Simulator, api: Api) -> None:
    sim.create_app("other-app")
    sim.inject_fault("other-app", status=500)
    assert api.get(f"/apps/{APP}").status_code == 200
    assert api.get("/apps/other-app").status_code == 500
    assert api.get("/apps/other-app").status_code == 200


def test_fault_for_an_app_also_hits_requests_naming_it_by_id(sim: Simulator, api: Api) -> None:
    app_id = api.get(f"/apps/{APP}").json()["id"]
    sim.inject_fault(APP, status=500)
    assert api.get(f"/apps/{app_id}/dynos").status_code == 500


def test_fault_without_app_hits_any_app_but_not_rate_limits(sim: Simulator, api: Api) -> None:
    sim.inject_fault(status=502)
    assert api.get("/account/rate-limits").status_code == 200
    assert api.get(f"/apps/{APP}/releases").status_code == 502


def test_429_fault_has_rate_limit_id_and_retry_after(sim: Simulator, api: Api) -> None:
    sim.inject_fault(APP, status=429, retry_after=7)
    response = api.get(f"/apps/{APP}")
    assert response.status_code == 429
    assert response.json()["id"] == "rate_limit"
    assert response.headers["Retry-After"] == "7"


def test_fault_with_custom_body(sim: Simulator, api: Api) -> None:
    sim.inject_fault(APP, status=403, body={"id": "suspended", "message": "App suspended."})
    response = api.get(f"/apps/{APP}")
    assert (response.status_code, response.json()["id"]) == (403, "suspended")


def test_malformed_response_is_invalid_json_with_200(sim: Simulator, api: Api) -> None:
    sim.inject_malformed(APP)
    response = api.get(f"/apps/{APP}/dynos")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert api.get(f"/apps/{APP}/dynos").json()


def test_latency_delays_every_api_request(sim: Simulator, api: Api) -> None:
    sim.set_latency(0.5)
    with pytest.raises(requests.Timeout):
        api.session.get(api.base_url + f"/apps/{APP}", headers=api.headers, timeout=0.2)
    # Control routes are not delayed, so a demo can always undo it.
    assert api.control("POST", "/_sim/latency", {"seconds": 0}).status_code == 200
    assert api.get(f"/apps/{APP}").status_code == 200


# -- dynos ------------------------------------------------------------------------------------


def test_crash_stop_start_change_state_and_updated_at(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    clock.advance(minutes=5)
    sim.crash_dyno(APP, "web.1")
    sim.stop_dyno(APP, "worker.1")
    dynos = dynos_by_name(api)
    assert dynos["web.1"]["state"] == "crashed"
    assert dynos["web.1"]["updated_at"] == "2026-01-01T12:05:00Z"
    assert dynos["worker.1"]["state"] == "down"
    assert dynos["web.2"]["updated_at"] == "2026-01-01T12:00:00Z"
    sim.start_dyno(APP, "web.1")
    assert dynos_by_name(api)["web.1"]["state"] == "up"


def test_set_dyno_state_accepts_only_heroku_states(sim: Simulator, api: Api) -> None:
    sim.set_dyno_state(APP, "web.2", "idle")
    assert dynos_by_name(api)["web.2"]["state"] == "idle"
    with pytest.raises(InvalidParamsError):
        sim.set_dyno_state(APP, "web.2", "sleeping")


def test_restart_gives_a_new_dyno_id_in_state_starting(sim: Simulator, api: Api) -> None:
    before = dynos_by_name(api)["web.1"]
    sim.restart_dyno(APP, "web.1")
    after = dynos_by_name(api)["web.1"]
    assert after["id"] != before["id"]
    assert after["state"] == "starting"


def test_scale_down_removes_dynos_without_a_down_state(sim: Simulator, api: Api) -> None:
    sim.scale(APP, "web", 1)
    dynos = dynos_by_name(api)
    assert sorted(dynos) == ["web.1", "worker.1"]
    assert {d["state"] for d in dynos.values()} == {"up"}
    formation = {f["type"]: f["quantity"] for f in api.get(f"/apps/{APP}/formation").json()}
    assert formation == {"web": 1, "worker": 1}


def test_scale_up_adds_numbered_dynos_on_the_current_release(sim: Simulator, api: Api) -> None:
    sim.scale(APP, "web", 4)
    sim.scale(APP, "clock", 1)
    dynos = dynos_by_name(api)
    assert sorted(dynos) == ["clock.1", "web.1", "web.2", "web.3", "web.4", "worker.1"]
    assert dynos["web.4"]["release"]["version"] == 3


def test_scaling_creates_no_release(sim: Simulator, api: Api) -> None:
    sim.scale(APP, "web", 0)
    assert newest_releases(api)[0]["version"] == 3


# -- releases -------------------------------------------------------------------------------


def test_deploy_creates_a_current_release_with_a_new_slug(sim: Simulator, api: Api) -> None:
    old = newest_releases(api, 1)[0]
    version = sim.deploy(APP, user="ana@example.com")
    new = newest_releases(api, 1)[0]
    assert version == new["version"] == 4
    assert new["current"] is True
    assert new["status"] == "succeeded"
    assert new["user"]["email"] == "ana@example.com"
    assert re.match(r"^Deploy [0-9a-f]{7}$", new["description"])
    assert new["slug"]["id"] != old["slug"]["id"]
    assert new["artifacts"] == [{"type": "slug", "id": new["slug"]["id"]}]


def test_a_release_restarts_the_dynos_as_heroku_does(sim: Simulator, api: Api) -> None:
    before = dynos_by_name(api)
    sim.crash_dyno(APP, "web.1")
    sim.deploy(APP)
    after = dynos_by_name(api)
    assert {d["state"] for d in after.values()} == {"up"}
    assert {d["release"]["version"] for d in after.values()} == {4}
    assert all(after[n]["id"] != before[n]["id"] for n in before)


def test_restart_dynos_on_release_false_keeps_a_crashed_dyno(clock: FakeClock) -> None:
    sim = Simulator(clock=clock, restart_dynos_on_release=False)
    sim.create_app(APP)
    sim.crash_dyno(APP, "web.1")
    sim.deploy(APP)
    states = {d["name"]: d["state"] for d in sim.dynos_json(APP)}
    assert states["web.1"] == "crashed"


def test_pending_release_is_not_current_until_it_succeeds(sim: Simulator, api: Api) -> None:
    version = sim.deploy(APP, status="pending")
    pending = newest_releases(api, 2)
    assert (pending[0]["version"], pending[0]["status"], pending[0]["current"]) == (
        version,
        "pending",
        False,
    )
    assert pending[1]["current"] is True
    # Its release phase's output, served by the simulator as Heroku's stream host would.
    assert pending[0]["output_stream_url"].startswith(f"{api.base_url}/_sim/streams/releases/")
    sim.finish_release(APP, version)
    done = newest_releases(api, 2)
    assert (done[0]["status"], done[0]["current"], done[1]["current"]) == (
        "succeeded",
        True,
        False,
    )


def test_failed_release_phase_keeps_the_previous_release_current(sim: Simulator, api: Api) -> None:
    version = sim.deploy(APP, status="pending")
    sim.finish_release(APP, version, status="failed")
    releases = newest_releases(api, 2)
    assert (releases[0]["status"], releases[0]["current"]) == ("failed", False)
    assert releases[1]["current"] is True
    with pytest.raises(InvalidParamsError):
        sim.finish_release(APP, version)


def test_rollback_reuses_the_old_slug_and_config(sim: Simulator, api: Api) -> None:
    v2 = {r["version"]: r for r in newest_releases(api)}[2]
    sim.set_config(APP, {"FEATURE_X": "on"})
    sim.deploy(APP)
    version = sim.rollback(APP, 2, user="ops@example.com")
    newest = newest_releases(api, 1)[0]
    assert version == newest["version"] == 6
    assert newest["description"] == "Rollback to v2"
    assert newest["slug"] == v2["slug"]
    assert newest["current"] is True
    config = api.get(f"/apps/{APP}/config-vars").json()
    assert "FEATURE_X" not in config  # v2 had no FEATURE_X
    assert "DATABASE_URL" in config  # add-on vars are not rolled back


# -- config vars ------------------------------------------------------------------------------


def test_config_change_creates_release_with_same_slug(sim: Simulator, api: Api) -> None:
    current = newest_releases(api, 1)[0]
    version = sim.set_config(APP, {"FOO": "1", "BAR": "2"}, user="ana@example.com")
    newest = newest_releases(api, 1)[0]
    assert version == newest["version"] == current["version"] + 1
    assert newest["description"] == "Set FOO, BAR config vars"
    assert newest["slug"] == current["slug"]
    assert newest["current"] is True
    assert api.get(f"/apps/{APP}/config-vars").json()["FOO"] == "1"


def test_unset_config_creates_a_remove_release_with_same_slug(sim: Simulator, api: Api) -> None:
    sim.set_config(APP, {"FOO": "1"})
    slug = newest_releases(api, 1)[0]["slug"]
    sim.unset_config(APP, ["FOO"])
    newest = newest_releases(api, 1)[0]
    assert newest["description"] == "Remove FOO config vars"
    assert newest["slug"] == slug
    assert "FOO" not in api.get(f"/apps/{APP}/config-vars").json()
    with pytest.raises(InvalidParamsError):
        sim.unset_config(APP, ["NEVER_SET"])


def test_config_values_are_only_returned_by_the_config_vars_endpoint(
    sim: Simulator, api: Api
) -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    control = api.control("POST", f"/_sim/apps/{APP}/config", {"set": {"API_KEY": secret}})
    assert control.status_code == 200
    assert secret not in control.text
    sim.add_addon(APP, "heroku-redis", "heroku-redis:mini")
    redis_url = sim.config_vars(APP)["REDIS_URL"]
    bodies = [
        api.get(path).text
        for path in (
            f"/apps/{APP}",
            f"/apps/{APP}/dynos",
            f"/apps/{APP}/releases",
            f"/apps/{APP}/addons",
            f"/apps/{APP}/formation",
            "/apps",
        )
    ]
    bodies.append(api.control("GET", "/_sim/stats").text)
    for body in bodies:
        assert secret not in body
        assert redis_url not in body
    assert api.get(f"/apps/{APP}/config-vars").json()["API_KEY"] == secret


# -- add-ons -----------------------------------------------------------------------------------


def test_add_addon_sets_its_config_var_and_creates_an_attach_release(
    sim: Simulator, api: Api
) -> None:
    slug = newest_releases(api, 1)[0]["slug"]
    addon_id = sim.add_addon(APP, "heroku-redis", "heroku-redis:mini")
    addon = api.get(f"/apps/{APP}/addons/{addon_id}").json()
    assert addon["state"] == "provisioning"
    assert addon["config_vars"] == ["REDIS_URL"]
    assert addon["plan"]["name"] == "heroku-redis:mini"
    assert re.match(r"^redis-[a-z]+-\d{5}$", addon["name"])
    newest = newest_releases(api, 1)[0]
    assert newest["description"] == f"Attach REDIS (@ref:{addon['name']})"
    assert newest["slug"] == slug
    assert "heroku-redis:mini" in newest["addon_plan_names"]
    assert "REDIS_URL" in api.get(f"/apps/{APP}/config-vars").json()


def test_addon_finishing_provisioning_creates_a_config_release(sim: Simulator, api: Api) -> None:
    addon_id = sim.add_addon(APP, "heroku-redis", "heroku-redis:mini")
    sim.set_addon_state(APP, addon_id, "provisioned")
    addon = api.get(f"/apps/{APP}/addons/{addon_id}").json()
    assert addon["state"] == "provisioned"
    newest = newest_releases(api, 1)[0]
    assert newest["description"] == (
        f"@ref:{addon['name']} completed provisioning, setting REDIS_URL."
    )


def test_second_addon_of_a_service_gets_a_coloured_attachment(sim: Simulator) -> None:
    sim.add_addon(APP, "heroku-postgresql", "heroku-postgresql:essential-1")
    assert "HEROKU_POSTGRESQL_RED_URL" in sim.config_vars(APP)


def test_remove_addon_unsets_its_var_and_creates_a_detach_release(sim: Simulator, api: Api) -> None:
    addon = api.get(f"/apps/{APP}/addons").json()[0]
    sim.remove_addon(APP, addon["name"])
    assert api.get(f"/apps/{APP}/addons").json() == []
    assert "DATABASE_URL" not in api.get(f"/apps/{APP}/config-vars").json()
    newest = newest_releases(api, 1)[0]
    assert newest["description"] == f"Detach DATABASE (@ref:{addon['name']})"
    assert newest["addon_plan_names"] == []


def test_addon_state_can_be_deprovisioned(sim: Simulator, api: Api) -> None:
    addon = api.get(f"/apps/{APP}/addons").json()[0]
    sim.set_addon_state(APP, addon["id"], "deprovisioned")
    assert api.get(f"/apps/{APP}/addons").json()[0]["state"] == "deprovisioned"
    with pytest.raises(InvalidParamsError):
        sim.set_addon_state(APP, addon["id"], "gone")


# -- app -----------------------------------------------------------------------------------------


def test_maintenance_mode_shows_on_the_app_with_a_new_updated_at(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    clock.advance(minutes=3)
    sim.set_maintenance(APP, True)
    app = api.get(f"/apps/{APP}").json()
    assert app["maintenance"] is True
    assert app["updated_at"] == "2026-01-01T12:03:00Z"


# -- webhooks -------------------------------------------------------------------------------------


def test_webhook_post_is_stored_and_listed_without_secret(sim: Simulator, api: Api) -> None:
    body = {
        "include": ["api:release", "api:dyno"],
        "level": "notify",
        "url": "https://monitor.example.com/webhooks/heroku",
        "secret": "hook-secret",
    }
    created = api.raw("POST", f"/apps/{APP}/webhooks", headers=api.headers, json=body)
    assert created.status_code == 201
    hook = created.json()
    assert set(hook) == WEBHOOK_FIELDS
    assert hook["include"] == ["api:release", "api:dyno"]
    assert "hook-secret" not in created.text
    listed = api.get(f"/apps/{APP}/webhooks")
    assert [h["id"] for h in listed.json()] == [hook["id"]]
    assert "hook-secret" not in listed.text
    stored = sim.webhooks(APP)
    assert stored[0]["secret"] == "hook-secret"
    assert stored[0]["url"] == body["url"]


@pytest.mark.parametrize(
    "body",
    [
        {"include": [], "level": "notify", "url": "https://x.example.com/"},
        {"include": ["api:nothing"], "level": "notify", "url": "https://x.example.com/"},
        {"include": ["api:release"], "level": "loud", "url": "https://x.example.com/"},
        {"include": ["api:release"], "level": "notify"},
        {"include": "api:release", "level": "notify", "url": "https://x.example.com/"},
    ],
)
def test_invalid_webhook_body_is_422_invalid_params(api: Api, body: dict[str, Any]) -> None:
    response = api.raw("POST", f"/apps/{APP}/webhooks", headers=api.headers, json=body)
    assert response.status_code == 422
    assert response.json()["id"] == "invalid_params"


def test_a_second_webhook_at_the_same_url_is_409_conflict_in_herokus_error_shape(
    api: Api,
) -> None:
    body = {"include": ["api:release"], "level": "sync", "url": "https://m.example.com/w"}
    assert api.raw("POST", f"/apps/{APP}/webhooks", headers=api.headers, json=body).ok
    again = api.raw("POST", f"/apps/{APP}/webhooks", headers=api.headers, json=body)
    assert again.status_code == 409
    assert again.json() == {
        "id": "conflict",
        "message": "A webhook with that URL already exists for this app.",
    }


def test_webhook_patch_changes_what_it_is_given_and_answers_the_webhook(
    sim: Simulator, api: Api, clock: FakeClock
) -> None:
    body = {"include": ["api:release"], "level": "notify", "url": "https://old.example.com/w"}
    created = api.raw("POST", f"/apps/{APP}/webhooks", headers=api.headers, json=body).json()
    clock.advance(minutes=1)
    patch = {
        "include": ["api:release", "dyno"],
        "level": "sync",
        "url": "https://new.example.com/w",
        "secret": "rotated",
    }
    path = f"/apps/{APP}/webhooks/{created['id']}"
    updated = api.raw("PATCH", path, headers=api.headers, json=patch)
    assert updated.status_code == 200 and set(updated.json()) == WEBHOOK_FIELDS
    assert "rotated" not in updated.text
    hook = updated.json()
    assert (hook["id"], hook["created_at"]) == (created["id"], created["created_at"])
    assert hook["updated_at"] == "2026-01-01T12:01:00Z" != created["updated_at"]
    assert (hook["include"], hook["level"], hook["url"]) == (
        ["api:release", "dyno"],
        "sync",
        "https://new.example.com/w",
    )
    (stored,) = sim.webhooks(APP)
    assert stored["secret"] == "rotated"
    only_secret = api.raw("PATCH", path, headers=api.headers, json={"secret": None})
    assert only_secret.json()["url"] == "https://new.example.com/w"
    assert sim.webhooks(APP)[0]["secret"] is None
    assert api.get(f"/apps/{APP}/webhooks").json() == [only_secret.json()]


@pytest.mark.parametrize(
    ("patch", "status", "error_id"),
    [
        ({"url": "https://taken.example.com/w"}, 409, "conflict"),
        ({"level": "loud"}, 422, "invalid_params"),
        ({"include": "dyno"}, 422, "invalid_params"),
        ({"secret": 7}, 422, "invalid_params"),
    ],
)
def test_a_webhook_patch_heroku_would_refuse_is_refused_and_changes_nothing(
    sim: Simulator, api: Api, patch: dict[str, Any], status: int, error_id: str
) -> None:
    sim.create_webhook(APP, include=["dyno"], level="sync", url="https://taken.example.com/w")
    hook = sim.create_webhook(APP, include=["dyno"], level="sync", url="https://mine.example.com/w")
    path = f"/apps/{APP}/webhooks/{hook['id']}"
    response = api.raw("PATCH", path, headers=api.headers, json=patch)
    assert (response.status_code, response.json()["id"]) == (status, error_id)
    assert api.get(path).json() == hook


def test_a_patch_of_an_unknown_webhook_is_404_not_found(api: Api) -> None:
    path = f"/apps/{APP}/webhooks/01234567-89ab-cdef-0123-456789abcdef"
    response = api.raw("PATCH", path, headers=api.headers, json={"level": "sync"})
    assert (response.status_code, response.json()["id"]) == (404, "not_found")


# -- counters ----------------------------------------------------------------------------------


def test_counters_track_requests_and_bytes_per_path_and_reset(sim: Simulator, api: Api) -> None:
    app = api.get(f"/apps/{APP}")
    api.get(f"/apps/{APP}")
    dynos = api.get(f"/apps/{APP}/dynos")
    assert sim.request_count == 3
    assert sim.requests_by_path == {f"/apps/{APP}": 2, f"/apps/{APP}/dynos": 1}
    assert sim.bytes_by_path[f"/apps/{APP}"] == 2 * len(app.content)
    assert sim.bytes_sent == 2 * len(app.content) + len(dynos.content)
    stats = api.control("GET", "/_sim/stats").json()
    assert stats["requests"] == 3
    assert stats["by_path"][f"/apps/{APP}/dynos"]["bytes"] == len(dynos.content)
    sim.reset_counters()
    assert (sim.request_count, sim.bytes_sent) == (0, 0)


def test_a_304_counts_as_a_request_with_zero_bytes(sim: Simulator, api: Api) -> None:
    first = api.get(f"/apps/{APP}")
    sim.reset_counters()
    api.get(f"/apps/{APP}", If_None_Match=first.headers["ETag"])
    assert (sim.request_count, sim.bytes_sent) == (1, 0)


def test_control_routes_are_not_counted_or_rate_limited(sim: Simulator, api: Api) -> None:
    api.control("POST", f"/_sim/apps/{APP}/dynos/web.1/crash")
    api.control("GET", "/_sim/stats")
    assert sim.request_count == 0
    assert sim.rate_limit_remaining == 4500


# -- control API -------------------------------------------------------------------------------


def test_control_api_unknown_app_is_404_with_a_clear_message(api: Api) -> None:
    response = api.control("POST", "/_sim/apps/ghost-app/deploy", {})
    assert response.status_code == 404
    assert response.json()["id"] == "not_found"
    assert "ghost-app" in response.json()["message"]
    assert "POST /_sim/apps" in response.json()["message"]


def test_control_api_validates_its_input(api: Api) -> None:
    bad_state = api.control("POST", f"/_sim/apps/{APP}/dynos/web.1/state", {"state": "asleep"})
    assert bad_state.status_code == 422
    missing = api.control("POST", f"/_sim/apps/{APP}/rollback", {})
    assert missing.status_code == 422
    duplicate = api.control("POST", "/_sim/apps", {"name": APP})
    assert duplicate.status_code == 409
    not_json = api.raw("POST", f"/_sim/apps/{APP}/deploy", data=b"{not json")
    assert not_json.status_code == 400


def test_control_api_drives_every_event(sim: Simulator, api: Api) -> None:
    def ok(method: str, path: str, body: Any = None) -> Any:
        response = api.control(method, path, body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    assert ok("POST", "/_sim/apps", {"name": "second-app", "releases": 1})["name"] == "second-app"
    assert ok("GET", "/_sim/apps")["apps"] == [APP, "second-app"]
    assert ok("POST", f"/_sim/apps/{APP}/dynos/web.1/crash")["state"] == "crashed"
    assert ok("POST", f"/_sim/apps/{APP}/dynos/web.1/start")["state"] == "up"
    assert ok("POST", f"/_sim/apps/{APP}/dynos/web.2/stop")["state"] == "down"
    assert ok("POST", f"/_sim/apps/{APP}/dynos/web.2/restart")["state"] == "starting"
    assert ok("POST", f"/_sim/apps/{APP}/dynos/worker.1/state", {"state": "idle"})["state"] == (
        "idle"
    )
    assert ok("POST", f"/_sim/apps/{APP}/deploy", {"user": "ana@example.com"})["version"] == 4
    assert ok("POST", f"/_sim/apps/{APP}/deploy", {"status": "pending"})["version"] == 5
    ok("POST", f"/_sim/apps/{APP}/releases/5/finish", {"status": "failed"})
    assert ok("POST", f"/_sim/apps/{APP}/rollback", {"version": 2})["version"] == 6
    config = ok("POST", f"/_sim/apps/{APP}/config", {"set": {"A": "1"}, "unset": ["LANG"]})
    assert config["versions"] == [7, 8]
    addon = ok("POST", f"/_sim/apps/{APP}/addons", {"service": "papertrail", "plan": "choklad"})
    assert addon["plan"]["name"] == "papertrail:choklad"
    state = ok("POST", f"/_sim/apps/{APP}/addons/{addon['id']}/state", {"state": "provisioned"})
    assert state["state"] == "provisioned"
    ok("DELETE", f"/_sim/apps/{APP}/addons/{addon['name']}")
    assert ok("POST", f"/_sim/apps/{APP}/maintenance", {"on": True})["maintenance"] is True
    assert len(ok("POST", f"/_sim/apps/{APP}/scale", {"type": "web", "quantity": 3})) == 2
    descriptions = [r["description"] for r in newest_releases(api, 20)]
    assert descriptions[:8] == [
        f"Detach PAPERTRAIL (@ref:{addon['name']})",
        f"@ref:{addon['name']} completed provisioning, setting PAPERTRAIL_URL.",
        f"Attach PAPERTRAIL (@ref:{addon['name']})",
        "Remove LANG config vars",
        "Set A config vars",
        "Rollback to v2",
        descriptions[6],
        descriptions[7],
    ]
    ok("POST", "/_sim/faults", {"app": APP, "status": 503, "count": 1, "retry_after": 2})
    faulted = api.get(f"/apps/{APP}")
    assert (faulted.status_code, faulted.headers["Retry-After"]) == (503, "2")
    ok("POST", "/_sim/malformed", {"app": APP})
    assert api.get(f"/apps/{APP}").content.startswith(b'{"id"')
    ok("POST", "/_sim/faults", {"status": 500, "count": 5})
    ok("DELETE", "/_sim/faults")
    assert api.get(f"/apps/{APP}").status_code == 200
    assert ok("POST", "/_sim/rate-limit", {"remaining": 10})["remaining"] == 10
    ok("POST", "/_sim/token", {"token": "new-token"})
    assert api.get(f"/apps/{APP}").status_code == 401
    assert ok("GET", "/_sim/stats")["requests"] >= 1
    ok("POST", "/_sim/stats/reset")
    assert sim.request_count == 0


def test_control_webhooks_listing_redacts_secrets(sim: Simulator, api: Api) -> None:
    sim.create_webhook(
        APP, include=["api:release"], level="sync", url="https://a.example.com/", secret="zzz"
    )
    listed = api.control("GET", f"/_sim/apps/{APP}/webhooks")
    assert listed.json()[0]["secret"] == "[set]"
    assert "zzz" not in listed.text


# -- server -----------------------------------------------------------------------------------


def test_server_context_manager_serves_then_frees_the_port(sim: Simulator) -> None:
    with SimulatorServer(sim) as running:
        url = running.url
        assert re.match(r"^http://127\.0\.0\.1:\d+$", url)
        assert Api(url).get(f"/apps/{APP}").status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url + f"/apps/{APP}", timeout=2)


def test_concurrent_requests_and_changes_are_safe(sim: Simulator, api: Api) -> None:
    paths = [f"/apps/{APP}", f"/apps/{APP}/dynos", f"/apps/{APP}/releases"] * 30

    def fetch(path: str) -> int:
        return requests.get(api.base_url + path, headers=api.headers, timeout=5).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = pool.map(fetch, paths)
        for _ in range(20):
            sim.deploy(APP)
            sim.crash_dyno(APP, "web.1")
        statuses = list(results)
    assert set(statuses) == {200}
    assert sim.request_count == len(paths)
    versions = [r["version"] for r in newest_releases(api, 100)]
    assert versions == list(range(23, 0, -1))
