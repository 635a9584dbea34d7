"""The simulator's builds, slugs and output streams follow the Platform API's schema
(heroku/platform-api `schema.json`: `build`, `slug`), and a push delivers `api:build`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from heroku_sim import Simulator
from tests.support.receiver import FAST, Receiver
from tests.support.simulator import APP, TIMESTAMP
from tests.support.simulator_api import Api

# The schema's `build` and `slug` properties (heroku/platform-api schema.json; `generation`
# left out, as the Cedar apps the simulator has do not say it).
BUILD_FIELDS = {
    "app", "buildpacks", "created_at", "id", "output_stream_url", "source_blob", "release",
    "slug", "stack", "status", "updated_at", "user",
}  # fmt: skip
SOURCE_BLOB_FIELDS = {"checksum", "url", "version", "version_description"}
SLUG_FIELDS = {
    "blob", "buildpack_provided_description", "checksum", "commit", "commit_description",
    "created_at", "id", "process_types", "size", "stack", "updated_at", "deleted_at",
}  # fmt: skip
NEWEST = "created_at ..; max=1, order=desc"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(seed=3, webhook_retry_delays=FAST)
    simulator.create_app(APP)
    yield simulator
    simulator.close()


def test_a_build_has_the_schemas_fields(sim: Simulator, api: Api):
    build_id = sim.builds.push(APP, message="Add a page")
    (build,) = api.get(f"/apps/{APP}/builds").json()
    assert set(build) == BUILD_FIELDS and build["id"] == build_id
    assert set(build["source_blob"]) == SOURCE_BLOB_FIELDS
    assert build["status"] == "succeeded" and build["source_blob"]["version_description"] == (
        "Add a page"
    )
    assert len(build["source_blob"]["version"]) == 40 and TIMESTAMP.match(build["created_at"])
    assert set(build["user"]) == {"id", "email"} and build["app"]["name"] == APP
    assert build["release"]["id"] and build["slug"]["id"]
    assert api.get(f"/apps/{APP}/builds/{build_id}").json() == build


def test_the_newest_build_comes_first_with_the_clis_range(sim: Simulator, api: Api):
    ids = [sim.builds.push(APP, status=s) for s in ("succeeded", "failed", "pending")]
    response = api.get(f"/apps/{APP}/builds", Range=NEWEST)
    assert response.status_code == 206 and response.headers["Next-Range"]
    (newest,) = response.json()
    assert newest["id"] == ids[-1] and newest["status"] == "pending"
    oldest_first = api.get(f"/apps/{APP}/builds", Range="created_at ..; max=3").json()
    assert [b["id"] for b in oldest_first] == ids


def test_a_successful_push_releases_its_slug_with_its_commit(sim: Simulator, api: Api):
    build_id = sim.builds.push(APP, commit="ab" * 20, message="Fix totals\n\nDetails")
    build = api.get(f"/apps/{APP}/builds/{build_id}").json()
    release = api.get(f"/apps/{APP}/releases", Range="version ..; order=desc, max=1").json()[0]
    assert release["description"] == "Deploy abababa" and release["id"] == build["release"]["id"]
    slug = api.get(f"/apps/{APP}/slugs/{release['slug']['id']}").json()
    assert set(slug) == SLUG_FIELDS
    assert (slug["commit"], slug["commit_description"]) == ("ab" * 20, "Fix totals\n\nDetails")


def test_a_seeded_release_has_a_slug_whose_commit_matches_its_description(api: Api):
    release = api.get(f"/apps/{APP}/releases", Range="version ..; order=desc, max=1").json()[0]
    slug = api.get(f"/apps/{APP}/slugs/{release['slug']['id']}").json()
    assert release["description"] == f"Deploy {slug['commit'][:7]}"
    assert api.get(f"/apps/{APP}/slugs/no-such-slug").status_code == 404


def test_a_failed_build_has_coloured_output_served_at_its_stream_url(sim: Simulator, api: Api):
    build_id = sim.builds.push(APP, status="failed")
    build = api.get(f"/apps/{APP}/builds/{build_id}").json()
    assert build["release"] is None and build["slug"] is None
    url = build["output_stream_url"]
    assert url.startswith(api.base_url + "/_sim/streams/builds/")
    whole = requests.get(url, timeout=5)
    assert whole.headers["Content-Type"].startswith("text/plain")
    assert "\x1b[1;31m !     Push failed\x1b[0m\n" in whole.text and whole.text.count("\n") > 20
    tail = requests.get(url, headers={"Range": "bytes=-32"}, timeout=5)
    assert tail.status_code == 206 and tail.content == whole.content[-32:]
    total = len(whole.content)
    assert tail.headers["Content-Range"] == f"bytes {total - 32}-{total - 1}/{total}"
    resumed = requests.get(url, headers={"Range": "bytes=10-"}, timeout=5)
    assert resumed.status_code == 206 and resumed.content == whole.content[10:]
    beyond = requests.get(url, headers={"Range": f"bytes={total}-"}, timeout=5)
    assert beyond.status_code == 416


def test_output_streams_cost_no_rate_limit_and_need_no_token(sim: Simulator, api: Api):
    build_id = sim.builds.push(APP, status="failed")
    url = api.get(f"/apps/{APP}/builds/{build_id}").json()["output_stream_url"]
    before = sim.rate_limit_remaining
    assert requests.get(url, timeout=5).status_code == 200  # no Accept, no Authorization
    assert sim.rate_limit_remaining == before


def test_a_failed_release_phase_serves_its_output(sim: Simulator, api: Api):
    sim.deploy(APP, status="failed")
    release = api.get(f"/apps/{APP}/releases", Range="version ..; order=desc, max=1").json()[0]
    text = requests.get(release["output_stream_url"], timeout=5).text
    assert text.startswith("Running release command...") and "failed." in text


def test_a_push_delivers_api_build_create_then_update_with_previous_status(sim: Simulator):
    with Receiver() as receiver:
        sim.create_webhook(APP, include=["api:build"], level="sync", url=receiver.url)
        build_id = sim.builds.push(APP, status="pending")
        sim.builds.finish_build(APP, build_id, "failed")
        create, update = (json.loads(r.body) for r in receiver.wait_for(2))
    assert (create["resource"], create["action"], create["data"]["status"]) == (
        "build",
        "create",
        "pending",
    )
    assert (update["action"], update["data"]["status"], update["previous_data"]) == (
        "update",
        "failed",
        {"status": "pending"},
    )
    assert update["data"]["id"] == build_id and update["data"]["app"]["name"] == APP


def test_finishing_a_build_that_is_not_pending_is_refused(sim: Simulator, api: Api):
    build_id = sim.builds.push(APP)
    answer = api.control("POST", f"/_sim/apps/{APP}/builds/{build_id}/finish", {})
    assert answer.status_code == 422
    made = api.control("POST", f"/_sim/apps/{APP}/builds", {"status": "failed"})
    assert made.status_code == 201 and made.json()["status"] == "failed"
