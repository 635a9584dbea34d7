"""Heroku's own incidents (SPEC §15), end to end: the fake status API read by the leader's
poll, the messages in the fake Slack, and an app incident opened meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests

from heroku_monitor import service as service_module
from heroku_monitor.core import platform_status
from heroku_monitor.core.platform_status import PlatformIncident, StatusRead
from heroku_monitor.core.validation import SettingsError
from heroku_monitor.heroku.status import StatusClient
from heroku_monitor.render import platform_status as render
from heroku_monitor.runtime.platform_status import PlatformStatus
from heroku_monitor.service import Service
from heroku_monitor.settings import from_env
from heroku_monitor.store.database import open_database
from heroku_monitor.store.outbox import Outbox
from heroku_monitor.store.platform_status import PlatformIncidents, open_title
from heroku_sim.certs import STATUS_PATH
from tests.fakes import FakeStatusApi
from tests.support.builders import T0
from tests.support.simulator import FakeClock
from tests.support.world import APP, QUICK, World, clocked_world, first_monitor

TITLE = "Increased error rates for Heroku apps"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def moved(sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with clocked_world(sqlite_url, clock) as world:
        yield world


@pytest.fixture
def status_api(clock: FakeClock) -> Iterator[FakeStatusApi]:
    with FakeStatusApi(clock) as fake:
        yield fake


def build(
    world: World, clock: FakeClock, status_api: FakeStatusApi, channel: str | None = None
) -> tuple[Service, PlatformStatus]:
    settings = world.settings(
        heroku_status_url=status_api.status_url, heroku_status_channel=channel
    )
    service = service_module.build(settings, clock=clock, patience=QUICK)
    platform = PlatformStatus(
        StatusClient(settings.heroku_status_url, timeout=(0.5, 0.5)),
        PlatformIncidents(service.db),
        service.outbox,
        clock,
        channel=settings.heroku_status_channel,
        deliver=service.delivery.run,
    )
    return service, platform


def texts(world: World) -> list[str]:
    return [m["text"] for m in world.slack.messages]


def test_a_new_platform_incident_is_posted_once_to_every_alert_channel(
    moved: World, clock: FakeClock, status_api: FakeStatusApi
):
    service, platform = build(moved, clock, status_api)
    moved.slack.add_channel("ops")
    service.monitors.add("other-app", "#ops", 5, clock.now)
    found = status_api.page.start_incident(TITLE, systems={"Apps": "red", "Data": "yellow"})
    assert platform.poll() == 2
    posted = moved.slack.wait_for_messages(2)
    assert sorted(m["channel_name"] for m in posted) == ["alerts", "ops"]
    url = f"https://status.heroku.com/incidents/{found}"
    assert posted[0]["text"] == (
        f"🌩️ *Heroku Platform Incident* 🌩️\n{TITLE}\nSystems: Apps (red), Data (yellow)\n"
        f"<{url}|{url}>"
    )
    clock.advance(minutes=5)
    assert platform.poll() == 0
    assert len(moved.slack.messages) == 2
    service.stop()


@pytest.mark.parametrize(("channel", "posted"), [("#ops", ["ops"]), ("none", [])])
def test_heroku_status_channel_says_where_they_go(
    moved: World, clock: FakeClock, status_api: FakeStatusApi, channel: str, posted: list[str]
):
    moved.slack.add_channel("ops")
    service, platform = build(moved, clock, status_api, channel)
    status_api.page.start_incident(TITLE)
    platform.poll()
    service.delivery.run()
    assert [m["channel_name"] for m in moved.slack.messages] == posted
    service.stop()


@pytest.mark.parametrize("fault", ["http_error", "garbled", "timeout"])
def test_a_failed_status_read_posts_nothing_ends_nothing_and_is_said_once(
    moved: World,
    clock: FakeClock,
    status_api: FakeStatusApi,
    caplog: pytest.LogCaptureFixture,
    fault: str,
):
    service, platform = build(moved, clock, status_api)
    found = status_api.page.start_incident(TITLE)
    assert platform.poll() == 1
    status_api.page.resolve(found)
    status_api.page.start_incident("Another incident")

    def broken() -> None:
        if fault == "http_error":
            status_api.fail_next(503)
        elif fault == "garbled":
            status_api.garble_next()
        else:
            platform.client.timeout = (0.2, 0.2)
            status_api.set_latency(0.5)  # past the client's timeout

    with caplog.at_level(logging.INFO, logger="heroku_monitor.heroku.status"):
        for _ in range(2):
            broken()
            clock.advance(minutes=5)
            assert platform.poll() == 0
        said = [r for r in caplog.records if "could not be read" in r.getMessage()]
        assert len(said) == 1
        assert len(moved.slack.messages) == 1 and moved.slack.updates == []
        status_api.set_latency(0)
        platform.client.timeout = (3.05, 10.0)
        clock.advance(minutes=5)
        assert platform.poll() > 0  # read again: the end and the new one, now
        assert any("answers again" in r.getMessage() for r in caplog.records)
    service.stop()


def test_an_update_is_a_reply_in_its_thread(
    moved: World, clock: FakeClock, status_api: FakeStatusApi
):
    service, platform = build(moved, clock, status_api)
    found = status_api.page.start_incident(TITLE)
    platform.poll()
    (opening,) = moved.slack.wait_for_messages(1)
    clock.advance(minutes=5)
    status_api.page.add_update(found, "A fix is being deployed.")
    platform.poll()
    reply = moved.slack.wait_for_messages(2)[-1]
    assert reply["thread_ts"] == opening["ts"] and not reply["reply_broadcast"]
    assert reply["text"] == "🌩️ *Update*: A fix is being deployed."
    clock.advance(minutes=5)
    platform.poll()
    assert len(moved.slack.messages) == 2
    service.stop()


@pytest.mark.parametrize("how", ["resolved_update", "gone"])
def test_the_resolution_edits_the_message_and_is_broadcast(
    moved: World, clock: FakeClock, status_api: FakeStatusApi, how: str
):
    service, platform = build(moved, clock, status_api)
    found = status_api.page.start_incident(TITLE)
    platform.poll()
    (opening,) = moved.slack.wait_for_messages(1)
    clock.advance(minutes=25)
    status_api.page.resolve(found, "Error rates are back to normal.")
    if how == "gone":
        clock.advance(minutes=20)  # past the time a resolved incident stays listed
    platform.poll()
    ended = moved.slack.wait_for_messages(2)[-1]
    assert ended["thread_ts"] == opening["ts"] and ended["reply_broadcast"]
    assert ended["text"].startswith(f"✅ *Heroku resolved:* {TITLE}")
    if how == "resolved_update":
        assert "Error rates are back to normal." in ended["text"]
    (edit,) = moved.slack.updates
    assert edit["ts"] == opening["ts"]
    assert edit["text"].endswith(f"✅ Resolved after {25 if how == 'resolved_update' else 45} min")
    clock.advance(minutes=5)
    platform.poll()
    assert len(moved.slack.messages) == 2 and len(moved.slack.updates) == 1
    service.stop()


def test_an_app_incident_opened_meanwhile_names_the_platform_incident(
    moved: World, clock: FakeClock, status_api: FakeStatusApi
):
    service, platform = build(moved, clock, status_api)
    monitor_id = first_monitor(service)
    service.checker.check(monitor_id)  # the baseline
    status_api.page.start_incident(TITLE)
    platform.poll()
    moved.sim.crash_dyno(APP, "web.1")
    clock.advance(minutes=1)
    service.checker.check(monitor_id)
    service.delivery.run()
    crash = next(t for t in texts(moved) if t.startswith("🚨"))
    assert f"Heroku reports an incident: {TITLE}" in crash
    service.stop()


def test_the_simulator_serves_the_status_api_without_platform_headers(moved: World):
    found = moved.sim.status_page.start_incident(TITLE)
    answer = requests.get(moved.heroku.url + STATUS_PATH, timeout=5).json()
    assert [i["id"] for i in answer["incidents"]] == [found]
    assert {s["system"] for s in answer["status"]} == {"Apps", "Data", "Tools"}
    read = StatusClient(moved.heroku.url + STATUS_PATH).read()
    assert read is not None and read.incidents[0].title == TITLE
    control = requests.post(
        f"{moved.heroku.url}/_sim/status/incidents/{found}/updates",
        json={"contents": "Fixed.", "update_type": "resolved"},
        timeout=5,
    )
    assert control.ok
    assert requests.get(moved.heroku.url + STATUS_PATH, timeout=5).json()["incidents"][0][
        "resolved"
    ]


@pytest.mark.parametrize(
    ("button", "starts"),
    [
        ("certexpiry", "🔒 *Certificate Expires Soon* 🔒"),
        ("acmfail", "🔒 *Automated Certificate Management Failed* 🔒"),
        ("herokuincident", "🌩️ *Heroku Platform Incident* 🌩️"),
    ],
)
def test_the_demo_buttons_of_section_15_make_their_alert_arrive(
    world: World, button: str, starts: str
):
    from heroku_monitor.runtime.certificates import CertificateChecks
    from heroku_monitor.store.certificates import CertificateReads
    from heroku_monitor.web import create_app
    from tests.support.web import Site

    service, _ = world.baseline(heroku_status_url=world.heroku.url + STATUS_PATH)
    service.simulator = world.heroku
    # What the lead's composition root makes (Service.certificates, Service.platform_status).
    parts = vars(service)
    parts["certificates"] = CertificateChecks(
        service.monitors,
        service.outbox,
        service.checker.incident_store,
        service.heroku,
        CertificateReads(service.db),
        service.clock,
        deliver=service.delivery.run,
    )
    parts["platform_status"] = PlatformStatus(
        StatusClient(service.settings.heroku_status_url),
        PlatformIncidents(service.db),
        service.outbox,
        service.clock,
        deliver=service.delivery.run,
    )
    site = Site(service, app := create_app(service), app.test_client())
    try:
        assert site.post(f"/demo/{button}").status_code == 303
        assert world.slack.wait_for_messages(1)[0]["text"].startswith(starts)
    finally:
        service.simulator = None
        service.stop()


def test_each_platform_message_is_queued_once_per_channel_on_either_database(database_url: str):
    db = open_database(database_url)
    incidents, outbox = PlatformIncidents(db), Outbox(db)
    read = StatusRead(incidents=(PlatformIncident("7", TITLE),))
    for _ in range(2):  # two processes that decided the same read, neither seeing the other
        with db.transaction() as s:
            incidents.lock_recent(s, T0)
            found = platform_status.decide([], read, T0, ("#a", "#b"))
            incidents.save(s, found.tracked)
            for action in found.actions:
                for channel in action.incident.channels:
                    outbox.enqueue_to_channel(s, channel, [render.render(action)], T0)
    assert outbox.count() == 2
    with db.reading() as s:
        assert open_title(s, T0) == TITLE
        assert open_title(s, T0 + platform_status.FRESH_FOR * 2) == ""  # reads stopped
    db.close()


@pytest.mark.parametrize(
    ("env", "channel", "url"),
    [
        ({}, None, "https://status.heroku.com/api/v4/current-status"),
        ({"HEROKU_STATUS_CHANNEL": "#ops"}, "#ops", None),
        ({"HEROKU_STATUS_CHANNEL": "C0123ABCD"}, "C0123ABCD", None),
        ({"HEROKU_STATUS_CHANNEL": "None"}, "none", None),
        ({"HEROKU_STATUS_URL": "http://127.0.0.1:9/x"}, None, "http://127.0.0.1:9/x"),
    ],
)
def test_heroku_status_settings_are_read_from_the_environment(
    env: dict[str, str], channel: str | None, url: str | None
):
    settings = from_env(env, demo=True)
    assert settings.heroku_status_channel == channel
    assert settings.heroku_status_url == (url or settings.heroku_status_url)


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"HEROKU_STATUS_CHANNEL": "not a channel"}, "HEROKU_STATUS_CHANNEL 'not a channel': "),
        ({"HEROKU_STATUS_URL": "status.heroku.com"}, "HEROKU_STATUS_URL 'status.heroku.com' is "),
    ],
)
def test_a_bad_heroku_status_setting_is_one_clear_sentence(env: dict[str, str], said: str):
    with pytest.raises(SettingsError) as raised:
        from_env(env, demo=True)
    assert str(raised.value).startswith(said) and str(raised.value).count(".") >= 1


def test_the_leaders_status_job_posts_a_platform_incident_and_a_followers_does_not(
    moved: World, clock: FakeClock, status_api: FakeStatusApi
):
    settings = moved.settings(heroku_status_url=status_api.status_url)
    leader = service_module.build(settings, clock=clock, patience=QUICK)
    follower = service_module.build(settings, clock=clock, patience=QUICK)
    try:
        assert leader.scheduler.leadership.tend()[0]  # the lease is free: it leads
        status_api.page.start_incident(TITLE, systems={"Apps": "red"})
        follower.scheduler.read_heroku_status()
        assert PlatformIncidents(follower.db).recent(clock.now) == []  # only the leader reads
        leader.scheduler.read_heroku_status()
        leader.delivery.run()
        (posted,) = moved.slack.wait_for_messages(1)
        assert posted["text"].startswith("🌩️ *Heroku Platform Incident* 🌩️\n" + TITLE)
    finally:
        leader.stop()
        follower.stop()
