"""Team watches that run for months (SPEC §16: a team app missing from one listing is not
gone) and an app watched twice, by its own monitor and a team watch (SPEC §14: one app,
one alert per channel)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support.web import Site
from tests.support.world import World

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
FAREWELL = "👋 *No Longer Watched* 👋\nApp: acme-web"


@pytest.fixture
def team(world: World) -> Iterator[Service]:
    world.sim.create_team("acme")
    for name in ("acme-api", "acme-web"):
        world.sim.create_app(name, team="acme")
    service = world.service(monitored_app_name=None)
    service.teams.add("acme", "#alerts", 1, service.clock())
    yield service
    service.stop()


def hide_from_team_listing(world: World, app: str) -> None:
    """The team's listing lacks `app` (a blip: Heroku still shows the app in the team)."""
    listed = world.sim.team_apps_json

    def without(team: str) -> list[Any]:
        return [a for a in listed(team) if a["name"] != app]

    world.sim.team_apps_json = without  # type: ignore[method-assign]


def show_in_team_listing(world: World) -> None:
    del world.sim.team_apps_json  # the class's own again


def rounds(service: Service, n: int) -> None:
    for _ in range(n):
        service.scheduler.run_round({m.id for m in service.monitors.all()})


def monitor_of(service: Service, app: str) -> int | None:
    return next((m.id for m in service.monitors.all() if m.app_name == app), None)


def firsts(world: World, channel: str | None = None) -> list[str]:
    return [
        m["text"].split("\n")[0]
        for m in world.slack.messages
        if channel is None or m["channel_name"] == channel.lstrip("#")
    ]


@pytest.mark.parametrize("missing", [1, 2])
def test_a_team_app_missing_from_one_or_two_listings_keeps_its_monitor_and_incident(
    world: World, team: Service, missing: int
):
    rounds(team, 1)  # the baseline
    world.sim.crash_dyno("acme-web", "web.1")
    rounds(team, 1)
    world.slack.wait_for_messages(1)
    kept = monitor_of(team, "acme-web")
    (incident,) = [i for i in team.checker.incident_store.recent(team.clock()) if i.is_open]
    hide_from_team_listing(world, "acme-web")
    for _ in range(missing):
        world.sim.reset_counters()
        rounds(team, 1)
        # One read of the missing app (is it gone?), and its dynos as any round reads them.
        assert world.sim.requests_by_path.get("/apps/acme-web") == 1
        assert world.sim.requests_by_path.get("/apps/acme-web/dynos") == 1
        assert monitor_of(team, "acme-web") == kept
    show_in_team_listing(world)
    rounds(team, 2)
    assert monitor_of(team, "acme-web") == kept
    still = [i for i in team.checker.incident_store.recent(team.clock()) if i.is_open]
    assert [i.id for i in still] == [incident.id]
    assert firsts(world) == [CRASH]  # no farewell, no second crash alert


def test_a_team_app_missing_three_rounds_in_a_row_is_dropped_with_one_note(
    world: World, team: Service
):
    rounds(team, 1)
    hide_from_team_listing(world, "acme-web")
    rounds(team, 2)
    assert monitor_of(team, "acme-web") is not None
    rounds(team, 1)  # the third
    assert monitor_of(team, "acme-web") is None
    rounds(team, 2)
    (note,) = world.slack.wait_for_messages(1)
    assert note["text"].startswith(FAREWELL)


def test_a_team_app_missing_once_resets_its_count_when_seen(world: World, team: Service):
    rounds(team, 1)
    for _ in range(3):  # missing twice, seen, missing twice: never three in a row
        hide_from_team_listing(world, "acme-web")
        rounds(team, 2)
        show_in_team_listing(world)
        rounds(team, 1)
    assert monitor_of(team, "acme-web") is not None
    assert world.slack.messages == []


def test_a_team_app_heroku_answers_404_for_is_dropped_at_once_with_one_note(
    world: World, team: Service
):
    rounds(team, 1)
    world.sim.delete_app("acme-web")
    rounds(team, 1)
    assert monitor_of(team, "acme-web") is None
    (note,) = world.slack.wait_for_messages(1)
    assert note["text"].startswith(FAREWELL)


# -- one app, one alert per channel (SPEC §14) --------------------------------------------


@pytest.fixture
def acme(world: World) -> World:
    world.sim.create_team("acme")
    world.sim.create_app("demo-app", team="acme")
    for channel in ("heroku-alerts", "team-alerts", "ops"):
        world.slack.add_channel(channel)
    return world


def test_an_app_watched_alone_and_by_its_team_in_one_channel_alerts_once_read_once(
    acme: World,
):
    service = acme.service(
        monitored_app_name="demo-app", monitored_team="acme", slack_channel="#heroku-alerts"
    )
    try:
        rounds(service, 1)  # the baseline
        acme.sim.crash_dyno("demo-app", "web.1")
        acme.sim.reset_counters()
        rounds(service, 1)
        assert acme.sim.requests_by_path["/apps/demo-app/dynos"] == 1
        acme.slack.wait_for_messages(1)
        rounds(service, 1)
        assert firsts(acme, "#heroku-alerts").count(CRASH) == 1
        assert [m.app_name for m in service.monitors.all()] == ["demo-app"]
    finally:
        service.stop()


def test_an_app_watched_alone_and_by_its_team_in_two_channels_alerts_in_both(acme: World):
    service = acme.service(monitored_app_name="demo-app", slack_channel="#heroku-alerts")
    try:
        service.teams.add("acme", "#team-alerts", 1, service.clock())
        rounds(service, 1)
        acme.sim.crash_dyno("demo-app", "web.1")
        rounds(service, 1)
        acme.slack.wait_for_messages(2)
        assert firsts(acme, "#heroku-alerts") == [CRASH]
        assert firsts(acme, "#team-alerts") == [CRASH]
    finally:
        service.stop()


@pytest.mark.parametrize("by", ["a person", "the team"])
def test_a_second_monitor_of_an_app_in_one_channel_is_refused_on_the_dashboard(
    acme: World, by: str
):
    service = acme.service(monitored_app_name=None)
    try:
        if by == "a person":
            service.monitors.add("demo-app", "#heroku-alerts", 1, service.clock())
        else:
            service.teams.add("acme", "#heroku-alerts", 1, service.clock())
            rounds(service, 1)
        app = create_app(service)
        site = Site(service, app, app.test_client())
        form = {"app_name": "demo-app", "slack_channel": "#heroku-alerts", "check_interval": "1"}
        answer = site.post("/monitors", form)
        assert answer.status_code == 400
        assert "demo-app is watched in #heroku-alerts already" in answer.get_data(as_text=True)
        assert len(service.monitors.all()) == 1
        # Another channel is fine: each channel gets the alert once.
        assert site.post("/monitors", {**form, "slack_channel": "#ops"}).status_code == 303
        assert len(service.monitors.all()) == 2
    finally:
        service.stop()


def test_a_paused_monitor_of_an_app_does_not_stop_its_team_from_watching_it(acme: World):
    """A person's paused monitor posts nothing: the team's monitor of the app stays, and
    alerts (the one-alert-per-channel rule counts only monitors that post)."""
    service = acme.service(
        monitored_app_name="demo-app", monitored_team="acme", slack_channel="#heroku-alerts"
    )
    try:
        (own,) = [m.id for m in service.monitors.all()]
        service.monitors.set_paused(own, True, service.clock())
        rounds(service, 1)  # the team watch makes its monitor of demo-app: the baseline
        team_made = [m for m in service.monitors.all() if m.team_watch_id is not None]
        assert [m.app_name for m in team_made] == ["demo-app"]
        rounds(service, 2)
        assert [m.id for m in service.monitors.all() if m.team_watch_id] == [team_made[0].id]
        acme.sim.crash_dyno("demo-app", "web.1")
        rounds(service, 1)
        acme.slack.wait_for_messages(1)
        assert firsts(acme, "#heroku-alerts") == [CRASH]
    finally:
        service.stop()
