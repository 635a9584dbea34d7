"""The overview (`GET /`, SPEC §6) of an account with many apps: what is wrong now first,
then one compact row per app, filtered by name and team without JavaScript, in pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import update

from heroku_monitor.core.snapshot import Dyno
from heroku_monitor.service import Service
from heroku_monitor.store.models import Alert, MonitorState
from heroku_monitor.web import create_app
from heroku_monitor.web.presenter import dynos_summary
from tests.support.builders import T0
from tests.support.many_apps import Herd, app_name, offline_service, populate, snapshot
from tests.support.web import Site

ROW = re.compile(r'<tr id="app-(\d+)"')


@pytest.fixture
def service(sqlite_url: str) -> Iterator[Service]:
    with offline_service(sqlite_url) as built:
        yield built


@pytest.fixture
def site(service: Service) -> Site:
    app = create_app(service)
    return Site(service, app, app.test_client())


def herd(service: Service, count: int = 12, **options: int) -> Herd:
    options.setdefault("crash_first", 7)
    options.setdefault("crash_every", 1000)
    return populate(service, count, service.clock(), **options)


def rows(site: Site, query: str = "") -> list[str]:
    """The apps the overview's list shows, in its order."""
    page = site.client.get("/" + query).get_data(as_text=True)
    ids = [int(i) for i in ROW.findall(page)]
    names = {m.id: m.app_name for m in site.service.monitors.all()}
    return [names[i] for i in ids]


def row_of(page: str, monitor_id: int) -> str:
    return page.split(f'<tr id="app-{monitor_id}"')[1].split("</tr>")[0]


def test_apps_with_an_open_incident_come_first_saying_what_since_when_and_who_acknowledged(
    site: Site,
):
    made = herd(site.service, crash_first=4, crash_every=5)  # apps 4 and 9 crashed
    assert made.crashed == [app_name(4), app_name(9)]
    mid = made.ids[app_name(9)]
    (incident,) = [
        i for i in site.service.checker.incident_store.recent(site.service.clock()) if i.is_open
    ][1:]
    assert site.service.conversations.acknowledge(mid, incident.id, "<@U0ANN>")
    shown = rows(site)
    # Not yet acknowledged first, then acknowledged, then every other app by name.
    assert shown[:2] == [app_name(4), app_name(9)]
    assert shown[2:] == sorted(shown[2:]) and len(shown) == 12
    page = site.client.get("/").get_data(as_text=True)
    top = page.split('id="attention"')[1].split("</section>")[0]
    first, second = top.split('<li class="trouble')[1:]
    assert app_name(4) in first and "🔥 Dyno crash" in first and "since" in first
    assert "nobody has acknowledged it" in first and "(20 min ago)" in first
    assert app_name(9) in second and "acknowledged by &lt;@U0ANN&gt;" in second
    assert f'href="/apps/{app_name(4)}"' in first
    assert page.index('id="attention"') < page.index('id="apps"') < page.index('id="configuration"')


def test_each_row_shows_state_dynos_last_deploy_open_incidents_and_last_check(site: Site):
    made = herd(site.service)
    page = site.client.get("/").get_data(as_text=True)
    deployed = row_of(page, made.ids[app_name(0)])  # deployed an hour ago: v42 by bob
    assert f'href="/apps/{app_name(0)}"' in deployed
    assert "ACTIVE" in deployed or "INACTIVE" in deployed
    assert "healthy" in deployed and "web 2/2 · worker 1/1" in deployed
    assert "v42 by bob@example.com, 1 h ago" in deployed
    assert "none" in deployed and "1 h ago · ok" in deployed  # the deploy's check
    crashed = row_of(page, made.ids[app_name(7)])
    assert "degraded" in crashed and "web 1/2 · worker 1/1" in crashed and "🔥 1" in crashed
    quiet = row_of(page, made.ids[app_name(1)])
    assert "v41 by ann@example.com, 2 d ago" in quiet and "2 h ago · ok" in quiet
    assert "team acme" in row_of(page, made.ids[app_name(2)])  # every third app: a team's


def test_dynos_are_summed_up_per_process_type_web_first():
    seen = snapshot("my-app", T0)
    more = (
        Dyno("clock.1", "clock", "idle"),
        Dyno("worker.2", "worker", "starting"),
        *seen.dynos,
    )
    assert dynos_summary(replace(seen, dynos=more)) == "web 2/2 · clock 1/1 · worker 1/2"
    assert dynos_summary(replace(seen, dynos=())) == "no dynos"
    assert dynos_summary(None) == "—"


def test_the_list_filters_by_name_and_by_team_with_query_parameters_alone(site: Site):
    herd(site.service)
    assert rows(site, "?q=0003") == [app_name(3)]
    assert rows(site, "?q=HERD-APP-001") == [app_name(10), app_name(11)]  # any case
    acme = rows(site, "?team=acme")
    assert acme == [app_name(i) for i in (2, 8)]  # every third app, teams in turn
    assert rows(site, "?team=acme&q=0008") == [app_name(8)]
    own = rows(site, "?team=_none")
    assert app_name(0) in own and not set(own) & set(acme) and len(own) == 8
    page = site.client.get("/?q=nothing-like-it").get_data(as_text=True)
    assert "No app matches" in page and ROW.search(page) is None
    form = page.split('class="filter"')[1].split("</form>")[0]
    assert 'method="get"' in page.split('class="filter"')[0][-80:]
    assert 'name="q"' in form and 'value="nothing-like-it"' in form and 'name="team"' in form


def test_a_long_list_is_cut_into_pages_whose_links_keep_the_filter(site: Site):
    herd(site.service, 250, deploy_every=0, crash_first=120, crash_every=1000)
    first = rows(site)
    assert len(first) == 100 and first[0] == app_name(120)  # the crashed app heads page 1
    second, third = rows(site, "?page=2"), rows(site, "?page=3")
    assert len(second) == 100 and len(third) == 50
    assert len(set(first) | set(second) | set(third)) == 250
    assert rows(site, "?page=99") == third  # past the end: the last page
    assert rows(site, "?page=junk") == first
    page = site.client.get("/?q=herd&team=_none").get_data(as_text=True)
    pager = page.split('class="pager"')[1].split("</nav>")[0]
    assert 'href="/?q=herd&amp;team=_none&amp;page=2"' in pager
    assert "Showing 1–100 of 167 apps matching (of 250)" in page


def test_the_overview_draws_no_timeline_and_keeps_the_prd_form_and_badges(site: Site):
    herd(site.service)
    page = site.client.get("/").get_data(as_text=True)
    assert "<svg" not in page
    config = page.split('id="configuration"')[1].split("</section>")[0]
    assert 'action="/update-config"' in config and "INACTIVE" in config
    assert 'name="app_name"' in config and 'name="csrf_token"' in config
    assert "🤠" in page and "🌵" in page


def test_a_failed_check_and_a_slack_problem_show_on_the_apps_row(site: Site):
    made = herd(site.service, 3)
    mid = made.ids[app_name(1)]
    with site.service.db.transaction() as s:  # what a failed check and a refused post leave
        s.execute(
            update(MonitorState)
            .where(MonitorState.monitor_id == mid)
            .values(
                last_ok=False,
                last_error="Heroku answered 503",
                failures=1,
                delivery_error="#alerts: the bot is not in the channel",
            )
        )
    row = row_of(site.client.get("/").get_data(as_text=True), mid)
    assert "failed: Heroku answered 503" in row and "Slack: #alerts: the bot is not" in row


def test_a_huge_alert_is_cut_on_the_overview_and_whole_on_its_apps_page(site: Site):
    made = herd(site.service, 3)
    long = "Deploy: " + "a much too long release description " * 1_000  # 36,000 characters
    with site.service.db.transaction() as s:
        s.execute(update(Alert).where(Alert.app_name == made.deployed[0]).values(text=long))
    overview = site.client.get("/").get_data(as_text=True)
    alerts = overview.split('id="alerts"')[1].split("</section>")[0]
    assert alerts.count("a much too long release description") < 50 and "…" in alerts
    assert len(overview) < 40_000
    page = site.client.get(f"/apps/{made.deployed[0]}").get_data(as_text=True)
    history = page.split('id="history"')[1].split("</section>")[0]
    assert history.count("a much too long release description") == 1_000
