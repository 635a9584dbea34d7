"""An app's page (`GET /apps/{app}`, SPEC §6): its 7-day timeline, its alerts as Slack
shows them, its dynos, its open incidents with Acknowledge and Snooze, and its settings,
each saved back to the same page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heroku_monitor.service import Service
from tests.support.app_page import PAGE, baseline_site, mid, section
from tests.support.web import Site
from tests.support.world import APP, World


@pytest.fixture
def site(world: World) -> Iterator[Site]:
    with baseline_site(world) as made:
        yield made


def crashed(site: Site, world: World) -> None:
    world.sim.crash_dyno(APP, "web.1")
    site.service.checker.check(mid(site))
    world.slack.wait_for_messages(1)


def open_incidents(service: Service):
    return [i for i in service.checker.incident_store.recent(service.clock()) if i.is_open]


def test_an_apps_page_shows_its_week_its_alerts_as_slack_does_its_dynos_and_its_settings(
    site: Site, world: World
):
    crashed(site, world)
    response = site.client.get(PAGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>my-app · Heroku Monitor</title>" in page and "🤠 my-app" in page
    week = section(page, "week")
    assert "<svg" in week and "my-app: the last 7 days" in week and "timeline-wide" in week
    history = section(page, "history")
    assert "<strong>ALERT: Dyno Crash Detected</strong>" in history  # mrkdwn, as Slack shows
    assert "#alerts" in history
    assert "web.1: crashed" in section(page, "dynos") and "web 1/2 · worker 1/1" in page
    assert "🔥 Dyno crash · web.1 since" in section(page, "incidents")
    settings = section(page, f"monitor-{mid(site)}")
    for action in ("mention", "log-thresholds", "resolve-after", "check", "pause", "delete"):
        assert f'action="/monitors/{mid(site)}/{action}"' in settings
    assert 'action="/update-config"' in settings and f'value="{mid(site)}"' in settings


def test_each_row_of_the_overview_links_to_its_apps_page(site: Site):
    overview = site.client.get("/").get_data(as_text=True)
    row = overview.split(f'<tr id="app-{mid(site)}"')[1].split("</tr>")[0]
    assert f'href="{PAGE}"' in row
    assert 'action="/monitors/' not in overview  # a monitor's buttons are on its page


@pytest.mark.parametrize("name", ["no-such-app", "%3Cb%3Eodd"])
def test_an_app_no_monitor_watches_is_a_404_that_says_so_in_one_sentence(site: Site, name: str):
    response = site.client.get(f"/apps/{name}")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "No monitor watches an app named" in page and "<b>odd" not in page
    assert page.count("No monitor watches") == 1


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("mention", {"mention": "channel"}),
        ("log-thresholds", {"thresholds": "20/5/100"}),
        ("resolve-after", {"resolve_after": "30"}),
        ("pause", {}),
        ("resume", {}),
        ("check", {}),
        ("end-snooze", {}),
        ("snooze", {}),
    ],
)
def test_a_setting_saved_on_an_apps_page_goes_back_to_that_page(
    site: Site, action: str, data: dict[str, str]
):
    response = site.post(f"/monitors/{mid(site)}/{action}", data)
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    assert site.client.get(PAGE).status_code == 200


def test_removing_an_app_goes_back_to_the_overview_and_its_page_is_gone(site: Site):
    assert site.client.get(PAGE).status_code == 200
    response = site.post(f"/monitors/{mid(site)}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    assert site.client.get(PAGE).status_code == 404


def test_a_refused_setting_comes_back_on_its_apps_page_with_its_sentence(site: Site):
    response = site.post(f"/monitors/{mid(site)}/mention", {"mention": "everyone"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="week"' in page
    assert page.count("is not a mention") == 1


def test_an_edit_on_an_apps_page_is_refused_there_at_its_field_or_saved_to_the_new_page(
    site: Site,
):
    monitor = mid(site)
    edit = {"monitor_id": str(monitor), "app_name": APP, "check_interval": "5"}
    refused = site.post("/update-config", {**edit, "slack_channel": "alerts"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'id="week"' in page
    assert "A Slack channel is #name" in page.split(f'id="slack_channel-m{monitor}-error"')[1]
    assert "<details open>" in page  # the edit form is shown open, with its error
    saved = site.post("/update-config", {**edit, "app_name": "renamed-app", "slack_channel": "#x"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/apps/renamed-app")
    assert "Saved. Watching renamed-app" in site.client.get("/apps/renamed-app").get_data(
        as_text=True
    )


def test_the_resolve_hold_says_where_it_comes_from_and_can_go_back_to_the_default(site: Site):
    monitor = mid(site)
    source = f'id="resolve-source-{monitor}"'

    def said() -> str:
        return site.client.get(PAGE).get_data(as_text=True).split(source)[1].split("</dd>")[0]

    assert "10 min with every dyno up, the default from RESOLVE_AFTER_MINUTES" in said()
    saved = site.post(f"/monitors/{monitor}/resolve-after", {"resolve_after": "30"})
    assert saved.status_code == 303
    assert site.service.monitors.get(monitor).resolve_after_minutes == 30  # type: ignore[union-attr]
    assert "30 min with every dyno up, set here" in said()
    back = site.post(
        f"/monitors/{monitor}/resolve-after", {"resolve_after": "30", "use_default": "1"}
    )
    assert back.status_code == 303 and back.headers["Location"].endswith(PAGE)
    assert site.service.monitors.get(monitor).resolve_after_minutes is None  # type: ignore[union-attr]
    page = site.client.get(PAGE).get_data(as_text=True)
    assert "now resolve after the default, 10 min (RESOLVE_AFTER_MINUTES)" in page
    assert "the default from RESOLVE_AFTER_MINUTES" in page.split(source)[1].split("</dd>")[0]


def test_an_open_incident_is_acknowledged_and_snoozed_from_its_apps_page_as_in_slack(
    site: Site, world: World
):
    crashed(site, world)
    (incident,) = open_incidents(site.service)
    page = site.client.get(PAGE).get_data(as_text=True)
    assert f'value="{incident.id}"' in section(page, "incidents")
    ack = site.post(f"/monitors/{mid(site)}/acknowledge", {"incident_id": incident.id})
    assert ack.status_code == 303 and ack.headers["Location"].endswith(PAGE)
    (acked,) = open_incidents(site.service)
    assert acked.acknowledged_by == "someone on the dashboard"
    assert any(
        "Acknowledged by someone on the dashboard" in m["text"] for m in world.slack.messages
    )
    again = site.post(f"/monitors/{mid(site)}/acknowledge", {"incident_id": incident.id})
    assert again.status_code == 303
    page = site.client.get(PAGE).get_data(as_text=True)
    assert "acknowledged already" in page and "👀 Acknowledge</button>" not in page
    assert site.post(f"/monitors/{mid(site)}/snooze").status_code == 303
    page = site.client.get(PAGE).get_data(as_text=True)
    assert "Snoozed by someone on the dashboard" in section(page, "incidents")
    assert "End snooze" in section(page, "incidents")


def test_acknowledge_and_snooze_need_the_forms_token_and_a_monitor(site: Site, world: World):
    crashed(site, world)
    (incident,) = open_incidents(site.service)
    data = {"incident_id": incident.id}
    assert site.client.post(f"/monitors/{mid(site)}/acknowledge", data=data).status_code == 400
    assert site.client.post(f"/monitors/{mid(site)}/snooze").status_code == 400
    assert site.post("/monitors/999/acknowledge", data).status_code == 404
    assert site.post("/monitors/999/snooze").status_code == 404
    (still,) = open_incidents(site.service)
    assert not still.acknowledged_by and not still.snoozed_until
