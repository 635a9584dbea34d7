"""The dashboard through Flask's test client: every validation rule, CSRF, immediate
effect, several monitors, access control, security headers and /healthz."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from heroku_monitor.web import create_app
from tests.support.builders import T0
from tests.support.slack import ACCEPTED_CHANNELS
from tests.support.web import Site, csrf_token, wait_until
from tests.support.world import APP, World


@pytest.fixture
def site(world: World) -> Iterator[Site]:
    service = world.service()
    app = create_app(service)
    yield Site(service, app, app.test_client())
    service.stop()


def only_monitor(site: Site):
    (monitor,) = site.service.monitors.all()
    return monitor


def test_dashboard_shows_each_monitor_with_its_badge_channel_and_interval(site: Site):
    page = site.client.get("/").get_data(as_text=True)
    assert APP in page and "#alerts" in page and "every 5 min" in page
    assert "INACTIVE" in page  # the scheduler is not running in this test
    assert "🤠" in page and "🌵" in page


def test_valid_form_is_saved_and_redirects_with_303_and_a_confirmation(site: Site):
    response = site.post(
        "/update-config", {"app_name": "other-app", "slack_channel": "#ops", "check_interval": "7"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    monitor = only_monitor(site)
    assert (monitor.app_name, monitor.slack_channel, monitor.check_interval) == (
        "other-app",
        "#ops",
        7,
    )
    assert "Saved. Watching other-app every 7 min" in site.client.get("/").get_data(as_text=True)


def test_saved_settings_take_effect_at_once(site: Site, world: World):
    world.sim.create_app("second-app")
    world.sim.crash_dyno("second-app", "web.1")
    site.service.scheduler.start()
    site.post(
        "/update-config",
        {"app_name": "second-app", "slack_channel": "#alerts", "check_interval": "60"},
    )
    (message,) = [
        m for m in world.slack.wait_for_messages(1, timeout=10) if "second-app" in m["text"]
    ]
    assert message["text"].startswith("🚨 *ALERT: Dyno Crash Detected* 🚨\nApp: second-app")
    job = site.service.scheduler.aps.get_job(f"check-{only_monitor(site).id}")
    assert job is not None and job.trigger.interval.total_seconds() == 3600


@pytest.mark.parametrize("channel", ACCEPTED_CHANNELS)
def test_the_form_takes_channel_ids_and_names_in_any_script(site: Site, channel: str):
    data = {"app_name": "good-app", "slack_channel": channel, "check_interval": "5"}
    assert site.post("/update-config", data).status_code == 303
    assert only_monitor(site).slack_channel == channel


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("app_name", "", "Enter the Heroku app"),
        ("app_name", "My-App", "An app name is 3-30 characters"),
        ("app_name", "ab", "An app name is 3-30 characters"),
        ("app_name", "a" * 31, "An app name is 3-30 characters"),
        ("app_name", "1app", "An app name is 3-30 characters"),
        ("app_name", "my_app", "An app name is 3-30 characters"),
        ("app_name", "my-app-", "An app name is 3-30 characters"),
        ("slack_channel", "", "Enter a channel"),
        ("slack_channel", "alerts", "A Slack channel is #name"),
        ("slack_channel", "c0123abcd", "A Slack channel is #name"),
        ("slack_channel", "#alerts.prod", "A Slack channel name is lower case"),
        ("slack_channel", "#Équipe", "A Slack channel name is lower case"),
        ("slack_channel", "#Alerts", "A Slack channel name is lower case"),
        ("slack_channel", "#two words", "A Slack channel name is lower case"),
        ("slack_channel", "#" + "a" * 81, "A Slack channel name is lower case"),
        ("check_interval", "", "Enter a number of minutes"),
        ("check_interval", "0", "whole number of minutes from 1 to 60"),
        ("check_interval", "61", "whole number of minutes from 1 to 60"),
        ("check_interval", "abc", "whole number of minutes from 1 to 60"),
        ("check_interval", "1.5", "whole number of minutes from 1 to 60"),
    ],
)
def test_invalid_input_gets_the_form_back_with_a_message_at_the_field_and_changes_nothing(
    site: Site, field: str, value: str, message: str
):
    before = only_monitor(site)
    data = {"app_name": "good-app", "slack_channel": "#ok", "check_interval": "5", field: value}
    response = site.post("/update-config", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    error_id = f"{field}-config-error"
    assert f'id="{error_id}"' in page and message in page.split(f'id="{error_id}"')[1][:300]
    assert only_monitor(site) == before


@pytest.mark.parametrize(
    ("app_name", "channel", "interval"),
    [("abc", "#a", "1"), ("a" * 30, "#" + "b" * 80, "60"), ("my-app-2", "#dev_ops-1", " 15 ")],
)
def test_boundary_values_are_accepted(site: Site, app_name: str, channel: str, interval: str):
    data = {"app_name": app_name, "slack_channel": channel, "check_interval": interval}
    assert site.post("/update-config", data).status_code == 303
    assert only_monitor(site).check_interval == int(interval)


def test_form_without_a_csrf_token_is_refused_and_changes_nothing(site: Site):
    before = only_monitor(site)
    data = {"app_name": "evil-app", "slack_channel": "#x", "check_interval": "5"}
    response = site.client.post("/update-config", data=data)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert only_monitor(site) == before


def test_update_config_without_monitor_id_creates_the_first_monitor(world: World):
    service = world.service(monitored_app_name=None)
    site = Site(service, app := create_app(service), app.test_client())
    assert service.monitors.all() == []
    data = {"app_name": "new-app", "slack_channel": "#alerts", "check_interval": "5"}
    assert site.post("/update-config", data).status_code == 303
    assert [m.app_name for m in service.monitors.all()] == ["new-app"]


def test_monitors_can_be_added_edited_paused_resumed_and_removed(site: Site):
    data = {"app_name": "second-app", "slack_channel": "#two", "check_interval": "10"}
    assert site.post("/monitors", data).status_code == 303
    first, second = site.service.monitors.all()
    edit = {**data, "monitor_id": str(second.id), "check_interval": "20"}
    assert site.post("/update-config", edit).status_code == 303
    assert site.service.monitors.get(second.id).check_interval == 20  # type: ignore[union-attr]
    assert site.service.monitors.get(first.id).check_interval == 5  # type: ignore[union-attr]
    assert site.post(f"/monitors/{second.id}/pause").status_code == 303
    assert site.service.monitors.get(second.id).paused  # type: ignore[union-attr]
    assert "INACTIVE" in site.client.get("/").get_data(as_text=True)
    assert site.post(f"/monitors/{second.id}/resume").status_code == 303
    assert not site.service.monitors.get(second.id).paused  # type: ignore[union-attr]
    assert site.post(f"/monitors/{second.id}/delete").status_code == 303
    assert [m.id for m in site.service.monitors.all()] == [first.id]


def test_editing_a_monitor_that_does_not_exist_is_404(site: Site):
    data = {"app_name": "x-app", "slack_channel": "#a", "check_interval": "5", "monitor_id": "999"}
    assert site.post("/update-config", data).status_code == 404
    assert site.post("/monitors/999/pause").status_code == 404


def test_check_now_runs_a_check_without_waiting(site: Site, world: World):
    site.service.scheduler.start()
    monitor = only_monitor(site)
    wait_until(lambda: site.service.monitors.get(monitor.id).last_check_at is not None)  # type: ignore[union-attr]
    world.sim.crash_dyno(APP, "web.1")
    assert site.post(f"/monitors/{monitor.id}/check").status_code == 303
    assert world.slack.wait_for_messages(1)[0]["text"].startswith("🚨 *ALERT: Dyno Crash")


def test_values_say_where_they_came_from(site: Site):
    assert "from the environment" in site.client.get("/").get_data(as_text=True)
    site.post("/update-config", {"app_name": APP, "slack_channel": "#ops", "check_interval": "5"})
    assert "saved on this dashboard" in site.client.get("/").get_data(as_text=True)


def basic(password: str) -> dict[str, str]:
    token = base64.b64encode(f"anyone:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_password_protects_the_dashboard_and_every_change(world: World):
    service = world.service(dashboard_password="s3cret")
    client = create_app(service).test_client()
    assert client.get("/").status_code == 401
    assert client.get("/", headers=basic("wrong")).status_code == 401
    assert client.get("/", headers=basic("s3cret")).status_code == 200
    data = {"app_name": "evil-app", "slack_channel": "#x", "check_interval": "5"}
    assert client.post("/update-config", data=data).status_code == 401
    token = csrf_token(client, headers=basic("s3cret"))
    ok = client.post("/update-config", data={**data, "csrf_token": token}, headers=basic("s3cret"))
    assert ok.status_code == 303
    assert client.get("/healthz").status_code in (200, 503)  # open for uptime checks


def test_on_heroku_without_a_password_the_dashboard_is_read_only(world: World):
    service = world.service(on_heroku=True)
    client = create_app(service).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "Read-only" in page and "DASHBOARD_PASSWORD" in page
    data = {"app_name": "evil-app", "slack_channel": "#x", "check_interval": "5"}
    response = client.post("/update-config", data=data)
    assert response.status_code == 403 and "DASHBOARD_PASSWORD" in response.get_data(as_text=True)
    assert [m.app_name for m in service.monitors.all()] == [APP]


@pytest.mark.parametrize("address", ["203.0.113.9", "10.0.0.5", "2001:db8::1"])
def test_without_a_password_a_client_on_another_machine_can_change_nothing(
    world: World, address: str
):
    service = world.service()
    client = create_app(service).test_client()
    remote = {"REMOTE_ADDR": address}
    page = client.get("/", environ_base=remote).get_data(as_text=True)
    assert "Read-only" in page and "only from this machine" in page
    token = csrf_token(client, environ_base=remote)
    data = {"app_name": "evil-app", "slack_channel": "#x", "check_interval": "5"}
    response = client.post(
        "/update-config", data={**data, "csrf_token": token}, environ_base=remote
    )
    assert response.status_code == 403
    assert [(m.app_name, m.slack_channel) for m in service.monitors.all()] == [(APP, "#alerts")]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_without_a_password_a_client_on_this_machine_may_change_things(world: World, address: str):
    service = world.service()
    client = create_app(service).test_client()
    local = {"REMOTE_ADDR": address}
    assert "Read-only" not in client.get("/", environ_base=local).get_data(as_text=True)
    token = csrf_token(client, environ_base=local)
    data = {"app_name": "good-app", "slack_channel": "#ops", "check_interval": "5"}
    response = client.post("/update-config", data={**data, "csrf_token": token}, environ_base=local)
    assert response.status_code == 303
    service.stop()


def test_every_page_carries_security_headers(site: Site):
    for path in ("/", "/healthz", "/nowhere"):
        headers = site.client.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_healthz_is_200_while_the_scheduler_runs_and_checks_succeed(site: Site):
    assert site.client.get("/healthz").status_code == 503  # scheduler not started
    site.service.scheduler.start()
    monitor = only_monitor(site)
    wait_until(lambda: site.service.checker.last_check.ok is True)
    body = site.client.get("/healthz")
    assert body.status_code == 200 and body.json["scheduler"] == "running"  # type: ignore[index]
    assert body.json["last_check_ok"] is True  # type: ignore[index]
    assert monitor.id


def test_healthz_is_503_only_once_checks_fail_three_times_in_a_row(site: Site, world: World):
    site.service.scheduler.start()
    wait_until(lambda: site.service.checker.last_check.ok is True)
    world.sim.inject_fault(APP, status=500, count=10_000)
    codes = []
    for _ in range(3):
        site.service.checker.check(only_monitor(site).id)
        codes.append(site.client.get("/healthz").status_code)
    assert codes == [200, 200, 503]
    body = site.client.get("/healthz").json
    assert body["apps_in_trouble"] == [APP] and "500" in body["last_error"]  # type: ignore[index]


def test_demo_buttons_cause_an_event_and_its_alert_arrives(world: World):
    service = world.service()
    service.simulator = world.heroku
    site = Site(service, app := create_app(service), app.test_client())
    service.scheduler.start()
    try:
        wait_until(lambda: service.checker.last_check.ok is True)
        assert site.post("/demo/crash").status_code == 303
        (message,) = world.slack.wait_for_messages(1, timeout=10)
        assert message["text"].startswith("🚨 *ALERT: Dyno Crash Detected* 🚨")
        assert "Crashed web.1" in site.client.get("/").get_data(as_text=True)
    finally:
        service.simulator = None
        service.stop()


def test_the_demo_crash_loop_button_ends_in_one_thread_with_one_escalation(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    from heroku_monitor.web import demo

    monkeypatch.setattr(demo, "LOOP_PAUSE", 1.1)  # each change in a second of its own
    service, mid = world.baseline()
    service.simulator = world.heroku
    site = Site(service, app := create_app(service), app.test_client())
    try:
        assert site.post("/demo/crashloop").status_code == 303

        def escalated() -> bool:
            service.checker.check(mid)  # what the simulated app's webhooks would ask for
            return any("Crash loop" in m["text"] for m in world.slack.messages)

        wait_until(escalated, timeout=20)
    finally:
        service.simulator = None
        service.stop()
    top = [m for m in world.slack.messages if not m["thread_ts"]]
    assert len(top) == 1 and top[0]["text"].startswith("🚨 *ALERT: Dyno Crash Detected* 🚨")


def test_demo_routes_do_not_exist_outside_demo_mode(site: Site):
    assert site.post("/demo/crash").status_code == 404


def test_many_monitors_are_stretched_within_the_rate_budget_and_the_dashboard_says_so(
    site: Site,
):
    monitors, scheduler = site.service.monitors, site.service.scheduler
    site.service.leadership.tend()  # this process leads the polling: it has the jobs
    for i in range(99):
        monitors.add(f"app-{i:03d}", "#alerts", 1, site.service.clock())
    first = monitors.all()[0].id
    monitors.update(first, app_name=APP, channel="#alerts", interval=1, now=T0)
    scheduler.sync(first)
    assert scheduler.budget.stretched
    assert scheduler.budget.planned_per_hour <= 4500 * 0.5 + 1e-6
    # 100 apps in bulk rounds, about 1.2 requests each (SPEC section 13): every 192 s.
    job = scheduler.aps.get_job(f"check-{first}")
    assert job is not None and job.trigger.interval.total_seconds() == 192
    page = site.client.get("/").get_data(as_text=True)
    assert "intervals are stretched 3.2 times" in page and "polled every 3 min 12 s" in page


def test_a_rate_limited_heroku_pauses_checks_without_alerting(site: Site, world: World):
    monitor_id = only_monitor(site).id
    site.service.checker.check(monitor_id)
    world.sim.inject_fault(APP, status=429, count=1000)
    for _ in range(4):
        result = site.service.checker.check(monitor_id)
        assert result is not None and not result.ok
    assert world.slack.messages == [] and site.service.outbox.count() == 0
    assert site.service.monitors.get(monitor_id).failures == 0  # type: ignore[union-attr]
    assert "rate limit was reached" in site.client.get("/").get_data(as_text=True)


def test_checks_pause_when_the_tokens_requests_are_nearly_used_up(site: Site, world: World):
    monitor_id = only_monitor(site).id
    world.sim.set_rate_limit_remaining(200)  # other tools spent the rest
    assert site.service.checker.check(monitor_id).ok  # type: ignore[union-attr]
    world.sim.reset_counters()
    result = site.service.checker.check(monitor_id)
    assert result is not None and not result.ok and world.sim.request_count == 0
    assert "nearly used up" in site.client.get("/").get_data(as_text=True)
    assert site.service.monitors.get(monitor_id).failures == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("monitor_id", ["²", "99999999999999999999999", "-1", "0x1"])
def test_odd_monitor_ids_are_404_not_an_error_page(site: Site, monitor_id: str):
    data = {"app_name": "x-app", "slack_channel": "#a", "check_interval": "5"}
    assert site.post("/update-config", {**data, "monitor_id": monitor_id}).status_code == 404
    assert site.post("/monitors/99999999999999999999999/pause").status_code == 404
