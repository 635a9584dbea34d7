"""The commit behind each deploy (SPEC §14), end to end against the simulator and the fake
Slack: the deploy alert's commit line, read from one slug request per deploy; the links
with the monitor's repository; `/heroku-status` showing the newest build and the commit
that runs."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from heroku_monitor.store import changes
from heroku_monitor.web import create_app
from tests.support.slack import SECRET
from tests.support.web import slack_signed
from tests.support.world import APP, World

DEPLOY = "🚀 *New Deploy Detected* 🚀\nApp: my-app\nVersion: v{v}\nDeployed by: ann@example.com"


def slugs_read(world: World) -> int:
    return sum(n for path, n in world.sim.requests_by_path.items() if "/slugs/" in path)


def test_the_deploy_alert_keeps_its_prd_text_and_names_the_commit_from_one_slug_read(
    world: World,
):
    service, monitor_id = world.baseline()
    world.sim.reset_counters()
    build_id = world.sim.builds.push(APP, user="ann@example.com", message="Speed up the page\n\nx")
    sha = world.sim.builds.build_json(APP, build_id)["source_blob"]["version"]
    service.checker.check(monitor_id)
    (message,) = world.slack.wait_for_messages(1)
    version = world.sim.releases_json(APP)[-1]["version"]
    assert message["text"] == f"{DEPLOY.format(v=version)}\nCommit: {sha[:7]} Speed up the page"
    assert slugs_read(world) == 1  # one request for the deploy ...
    for _ in range(3):
        service.checker.check(monitor_id)
    world.sim.set_config(APP, {"FLAG": "on"})  # a release on the same slug
    service.checker.check(monitor_id)
    assert slugs_read(world) == 1  # ... and none per check, nor for a config release
    service.stop()


def test_a_rollback_names_the_commit_it_goes_back_to(world: World):
    service, monitor_id = world.baseline()
    before = world.sim.releases_json(APP)[-1]
    world.sim.builds.push(APP)
    service.checker.check(monitor_id)
    world.sim.rollback(APP, before["version"])
    service.checker.check(monitor_id)
    rollback = world.slack.wait_for_messages(2)[-1]["text"]
    slug = world.sim.builds.slug_json(APP, before["slug"]["id"])
    assert rollback.startswith("⏪ *Rollback Detected* ⏪")
    assert f"Commit: {slug['commit'][:7]} {slug['commit_description']}" in rollback
    service.stop()


def test_a_deploy_with_a_repository_links_its_commit_and_what_it_brought(world: World):
    service, monitor_id = world.baseline()
    changes.set_routing(
        service.db, monitor_id, changes_channel=None, repository="acme/shop", now=service.clock()
    )
    first = world.sim.builds.push(APP)
    service.checker.check(monitor_id)
    second = world.sim.builds.push(APP)
    service.checker.check(monitor_id)
    old, new = (
        world.sim.builds.build_json(APP, b)["source_blob"]["version"] for b in (first, second)
    )
    text = world.slack.wait_for_messages(2)[-1]["text"]
    assert f"<https://github.com/acme/shop/commit/{new}|{new[:7]}>" in text
    assert f"<https://github.com/acme/shop/compare/{old}...{new}|{old[:7]}...{new[:7]}>" in text
    service.stop()


def test_heroku_status_shows_the_newest_build_and_the_commit_that_runs(world: World):
    service, monitor_id = world.baseline(slack_signing_secret=SECRET)
    build_id = world.sim.builds.push(APP, message="Speed up the page")
    sha = world.sim.builds.build_json(APP, build_id)["source_blob"]["version"]
    world.sim.builds.push(APP, message="Break the build", status="failed")
    service.checker.check(monitor_id)
    body = urlencode(
        {
            "command": "/heroku-status",
            "text": APP,
            "team_id": "T0FAKE0001",
            "user_id": "U0FAKEUSR1",
            "channel_id": "C0FAKE0001",
            "response_url": world.slack.response_url("status"),
        }
    )
    client = create_app(service).test_client()
    answer = client.post("/slack/commands", data=body, headers=slack_signed(SECRET, body)).json
    assert answer is not None
    assert f"*Running commit:* {sha[:7]} Speed up the page" in answer["text"]
    assert "*Newest build:* 💥 failed · " in answer["text"] and "Break the build" in answer["text"]
    fields = [f["text"] for b in answer["blocks"] for f in b.get("fields", ())]
    assert any(f.startswith("*Newest build:*\n💥 failed") for f in fields)
    service.stop()


def test_a_fir_release_names_the_commit_of_its_oci_image(monkeypatch: pytest.MonkeyPatch):
    from heroku_monitor.heroku import mapping
    from heroku_monitor.heroku.client import HerokuClient

    fir = {
        "version": 7,
        "status": "succeeded",
        "slug": None,
        "artifacts": [{"type": "oci-image", "id": "img-7"}],
        "description": "Deploy 1a2b3c4",
    }
    (release,) = mapping.releases([fir], "/apps/fir-app")
    assert (release.slug_id, release.image_id) == (None, "img-7")
    client = HerokuClient("http://127.0.0.1:9", "token")
    asked: list[str] = []

    def get(path: str, **_: object) -> tuple[dict[str, str], None]:
        asked.append(path)
        return {"commit": "1a2b3c4" + "0" * 33, "commit_description": "Move to Fir"}, None

    monkeypatch.setattr(client, "get", get)
    (named,) = client._with_commits("/apps/fir-app", [release], {})
    assert asked == ["/apps/fir-app/oci-images/img-7"]
    assert (named.commit[:7], named.commit_description) == ("1a2b3c4", "Move to Fir")
    client.close()
