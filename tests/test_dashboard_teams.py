"""The dashboard's team watches (SPEC §6 and §13) through Flask's test client: watching a
team, its validation, pausing, resuming and removing it, the cards of its apps, the
process that leads the polling, and read-only mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heroku_monitor.store.leader import Leadership
from heroku_monitor.web import create_app
from tests.support.web import Site, csrf_token, wait_until
from tests.support.world import APP, World

TEAM = "acme"
TEAM_APP = "acme-api"
WATCH = {"team": TEAM, "slack_channel": "#team-alerts", "check_interval": "10"}


@pytest.fixture
def site(world: World) -> Iterator[Site]:
    service = world.service()
    app = create_app(service)
    yield Site(service, app, app.test_client())
    service.stop()


def watched(site: Site) -> list[tuple[str, str, int, bool]]:
    return [(t.team, t.slack_channel, t.check_interval, t.paused) for t in site.service.teams.all()]


def watch_with_an_app(site: Site, app: str = TEAM_APP) -> int:
    """A team watch whose round found `app` in the team (as the leader's round would)."""
    now = site.service.clock()
    watch_id = site.service.teams.add(TEAM, "#team-alerts", 10, now)
    assert watch_id is not None
    site.service.teams.sync(watch_id, [app], now)
    return watch_id


def team_section(site: Site) -> str:
    page = site.client.get("/").get_data(as_text=True)
    return page.split('id="teams"')[1].split("</section>")[0]


def test_a_team_watched_on_the_dashboard_is_saved_and_shown_until_its_apps_appear(site: Site):
    response = site.post("/teams", WATCH)
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    assert watched(site) == [(TEAM, "#team-alerts", 10, False)]
    page = site.client.get("/").get_data(as_text=True)
    assert "Watching team acme" in page and "appear within one polling round" in page
    section = team_section(site)
    assert "🤠 Teams watched" in section and "🌵" in section
    assert TEAM in section and "#team-alerts" in section and "every 10 min" in section
    assert "added on this dashboard" in section
    assert "none yet — apps appear within one polling round" in section


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("team", "", "Enter the Heroku team"),
        ("team", "Acme", "A Heroku team name is lower-case"),
        ("team", "acme_team", "A Heroku team name is lower-case"),
        ("team", "-acme", "A Heroku team name is lower-case"),
        ("team", "a" * 101, "A Heroku team name is lower-case"),
        ("slack_channel", "", "Enter a channel"),
        ("slack_channel", "alerts", "A Slack channel is #name"),
        ("check_interval", "0", "whole number of minutes from 1 to 60"),
        ("check_interval", "61", "whole number of minutes from 1 to 60"),
    ],
)
def test_an_invalid_team_watch_gets_the_form_back_with_a_message_at_the_field_and_saves_nothing(
    site: Site, field: str, value: str, message: str
):
    response = site.post("/teams", {**WATCH, field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    error_id = f"{field}-team-error"
    assert f'id="{error_id}"' in page and message in page.split(f'id="{error_id}"')[1][:300]
    assert watched(site) == []


def test_a_team_watched_already_is_refused_at_the_team_field(site: Site):
    assert site.post("/teams", WATCH).status_code == 303
    response = site.post("/teams", {**WATCH, "slack_channel": "#other"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Team acme is watched already" in page.split('id="team-team-error"')[1][:300]
    assert watched(site) == [(TEAM, "#team-alerts", 10, False)]


def test_a_team_watch_without_a_csrf_token_is_refused(site: Site):
    response = site.client.post("/teams", data=WATCH)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert watched(site) == []


def test_a_team_watch_pauses_resumes_and_is_removed_with_its_apps(site: Site):
    watch_id = watch_with_an_app(site)
    team_monitor = [m for m in site.service.monitors.all() if m.team_watch_id == watch_id]
    assert [m.app_name for m in team_monitor] == [TEAM_APP]
    monitor_id = team_monitor[0].id

    assert site.post(f"/teams/{watch_id}/pause").status_code == 303
    assert watched(site) == [(TEAM, "#team-alerts", 10, True)]
    assert site.service.monitors.get(monitor_id).paused  # type: ignore[union-attr]
    section = team_section(site)
    assert "INACTIVE" in section and "Resume" in section

    assert site.post(f"/teams/{watch_id}/resume").status_code == 303
    assert watched(site) == [(TEAM, "#team-alerts", 10, False)]
    assert not site.service.monitors.get(monitor_id).paused  # type: ignore[union-attr]
    assert "Pause" in team_section(site)

    assert site.post(f"/teams/{watch_id}/delete").status_code == 303
    assert watched(site) == []
    assert [m.app_name for m in site.service.monitors.all()] == [APP]
    assert "Stopped watching team acme" in site.client.get("/").get_data(as_text=True)


def test_team_buttons_need_the_csrf_token_and_an_existing_watch(site: Site):
    watch_id = watch_with_an_app(site)
    for action in ("pause", "resume", "delete"):
        assert site.client.post(f"/teams/{watch_id}/{action}").status_code == 400
        assert site.post(f"/teams/999/{action}").status_code == 404
        assert site.post(f"/teams/99999999999999999999999/{action}").status_code == 404
    assert watched(site) == [(TEAM, "#team-alerts", 10, False)]


def test_a_team_watch_shows_its_apps_and_why_its_app_list_could_not_be_read(site: Site):
    watch_id = watch_with_an_app(site)
    assert TEAM_APP in team_section(site)
    site.service.teams.sync(
        watch_id, None, site.service.clock(), error="Heroku knows no team 'acme' this token can see"
    )
    section = team_section(site)
    assert "Last error" in section and "Heroku knows no team" in section


def test_an_app_watched_for_a_team_says_which_team_on_its_row_and_its_page(site: Site):
    watch_id = watch_with_an_app(site)
    overview = site.client.get("/").get_data(as_text=True)
    (monitor,) = [m for m in site.service.monitors.all() if m.team_watch_id == watch_id]
    (own,) = [m for m in site.service.monitors.all() if m.team_watch_id is None]
    row = overview.split(f'id="app-{monitor.id}"')[1].split("</tr>")[0]
    assert "team acme" in row and f'href="/apps/{TEAM_APP}"' in row
    own_row = overview.split(f'id="app-{own.id}"')[1].split("</tr>")[0]
    assert "team acme" not in own_row and "added here" in own_row
    page = site.client.get(f"/apps/{TEAM_APP}").get_data(as_text=True)
    settings = page.split(f'id="monitor-{monitor.id}"')[1].split("</section>")[0]
    assert "from team acme" in settings
    assert "Remove" not in settings  # the round would bring it back: remove the team instead
    own_page = site.client.get(f"/apps/{APP}").get_data(as_text=True)
    own_settings = own_page.split(f'id="monitor-{own.id}"')[1].split("</section>")[0]
    assert "from team" not in own_settings and "Remove" in own_settings


def polling_line(site: Site) -> str:
    page = site.client.get("/").get_data(as_text=True)
    return page.split('id="polling"')[1].split("</div>")[0]


def test_the_page_names_the_process_that_leads_the_polling(site: Site):
    assert "no process right now — another takes over within two lease periods" in polling_line(
        site
    )
    other = Leadership(site.service.db, clock=site.service.clock, label="web.2 pid 7")
    assert other.tend() == (True, None)
    line = polling_line(site)
    assert "web.2 pid 7" in line and "this process" not in line and "since" in line
    other.resign()
    assert "no process right now" in polling_line(site)
    leadership = site.service.leadership
    assert leadership.tend()[0]
    assert f"this process ({leadership.label})" in polling_line(site)


def test_a_watched_teams_apps_appear_after_one_polling_round(site: Site, world: World):
    world.sim.create_team(TEAM)
    world.sim.create_app(TEAM_APP, team=TEAM)
    assert site.post("/teams", WATCH).status_code == 303
    site.service.scheduler.start()
    wait_until(lambda: site.service.teams.all()[0].apps == (TEAM_APP,))
    section = team_section(site)
    assert TEAM_APP in section and "none yet" not in section
    page = site.client.get("/").get_data(as_text=True)
    assert "team acme" in page and "this process (" in polling_line(site)
    assert "from team acme" in site.client.get(f"/apps/{TEAM_APP}").get_data(as_text=True)


def test_a_team_watched_while_the_service_runs_is_read_at_once_not_at_its_interval(
    site: Site, world: World
):
    world.sim.create_team(TEAM)
    world.sim.create_app(TEAM_APP, team=TEAM)
    site.service.scheduler.start()  # this process leads; the team's interval is 10 min
    wait_until(lambda: site.service.scheduler.rounds >= 1)
    assert site.post("/teams", WATCH).status_code == 303
    wait_until(lambda: site.service.teams.all()[0].apps == (TEAM_APP,))
    wait_until(lambda: all(m.last_ok for m in site.service.monitors.all()))


def test_read_only_mode_shows_the_teams_but_refuses_every_team_route(world: World):
    service = world.service(on_heroku=True)
    try:
        now = service.clock()
        watch_id = service.teams.add(TEAM, "#team-alerts", 10, now)
        client = create_app(service).test_client()
        page = client.get("/").get_data(as_text=True)
        assert "Read-only" in page and TEAM in page and 'action="/teams"' not in page
        token = csrf_token(client)
        for path in ("/teams", *(f"/teams/{watch_id}/{a}" for a in ("pause", "resume", "delete"))):
            response = client.post(path, data={**WATCH, "team": "other", "csrf_token": token})
            assert response.status_code == 403 and "DASHBOARD_PASSWORD" in response.get_data(
                as_text=True
            )
        assert [(t.team, t.paused) for t in service.teams.all()] == [(TEAM, False)]
    finally:
        service.stop()
