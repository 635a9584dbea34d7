"""The whole engine against the simulator and a fake Slack Web API, both on 127.0.0.1.

The check is called directly (the step the scheduler, webhooks and buttons all call), so
no test waits for an interval.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from heroku_monitor.service import Service
from tests.support.world import APP, World, first_monitor

CRASH_TEXT = "🚨 *ALERT: Dyno Crash Detected* 🚨\nApp: my-app\nCrashed dynos:\n• web.1 (web)"


def test_crash_reaches_slack_with_the_exact_prd_text(world: World):
    service, mid = world.baseline()
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    (message,) = world.slack.wait_for_messages(1)
    assert message["text"] == CRASH_TEXT
    assert message["channel_name"] == "alerts"
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["header", "section", "section", "context", "actions"]  # + the buttons


def test_nothing_changed_means_nothing_is_posted(world: World):
    service = world.service()
    mid = first_monitor(service)
    for _ in range(3):
        service.checker.check(mid)
    assert world.slack.calls["chat.postMessage"] == 0


def test_each_kind_of_change_is_posted_once_as_what_it_is(world: World):
    service, mid = world.baseline()
    world.sim.deploy(APP, "ann@example.com")
    service.checker.check(mid)
    world.sim.set_config(APP, {"FEATURE_X": "on"})
    service.checker.check(mid)
    world.sim.rollback(APP, 2)
    service.checker.check(mid)
    world.sim.set_maintenance(APP, True)
    service.checker.check(mid)
    service.checker.check(mid)
    firsts = [t.split("\n")[0] for t in world.texts()]
    assert firsts == [
        "🚀 *New Deploy Detected* 🚀",
        "⚙️ *Config Vars Changed* ⚙️",
        "⏪ *Rollback Detected* ⏪",
        "⚙️ *Config Vars Changed* ⚙️",  # a rollback restores v2's config: FEATURE_X goes
        "🚧 *Maintenance Mode On* 🚧",
    ]
    assert "Deployed by: ann@example.com" in world.texts()[0]
    assert "Added: FEATURE_X" in world.texts()[1] and "on" not in world.texts()[1].split("\n")[2]


def test_addon_attachment_is_an_addon_and_config_change_never_a_deploy(world: World):
    service, mid = world.baseline()
    world.sim.add_addon(APP, "heroku-redis", "heroku-redis:mini", state="provisioning")
    service.checker.check(mid)
    firsts = sorted(t.split("\n")[0] for t in world.texts())
    assert firsts == sorted(["⚙️ *Config Vars Changed* ⚙️", "🧩 *Add-on Added* 🧩"])
    assert "heroku-redis (heroku-redis:mini)" in "".join(world.texts())


def test_restart_neither_repeats_an_alert_nor_misses_what_happened_while_down(world: World):
    service, mid = world.baseline()
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    service.stop()
    world.sim.stop_dyno(APP, "worker.1")  # while the service is down
    restarted = world.service()
    restarted.checker.check(mid)
    restarted.checker.check(mid)
    firsts = [t.split("\n")[0] for t in world.texts()]
    assert firsts == ["🚨 *ALERT: Dyno Crash Detected* 🚨", "⚠️ *WARNING: Dynos Down* ⚠️"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_processes_on_one_database_send_each_alert_once(
    world: World, backend: str, request: pytest.FixtureRequest
):
    if backend == "postgres":
        world.database_url = str(request.getfixturevalue("postgres_url"))
    services = [world.service(), world.service()]
    mid = first_monitor(services[0])
    services[0].checker.check(mid)
    world.sim.crash_dyno(APP, "web.1")
    world.sim.deploy(APP)
    world.sim.crash_dyno(APP, "web.2")
    barrier = threading.Barrier(2)

    def check(service: Service) -> None:
        barrier.wait()
        service.checker.check(mid)

    threads = [threading.Thread(target=check, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    firsts = sorted(t.split("\n")[0] for t in world.texts())
    assert firsts == sorted(["🚨 *ALERT: Dyno Crash Detected* 🚨", "🚀 *New Deploy Detected* 🚀"])


def test_a_monitor_paused_elsewhere_is_not_checked_but_check_now_still_works(world: World):
    service = world.service()
    mid = first_monitor(service)
    service.monitors.set_paused(mid, True, datetime.now(UTC))  # e.g. from another process
    world.sim.reset_counters()
    assert service.checker.check(mid) is None and world.sim.request_count == 0
    result = service.checker.check(mid, force=True)
    assert result is not None and result.ok


@pytest.mark.parametrize("by_id", [True, False])
@pytest.mark.parametrize("name", ["alerts", "alertes-équipe"])
def test_alerts_reach_a_channel_given_by_id_or_by_a_name_in_any_script(
    world: World, name: str, by_id: bool
):
    if name != "alerts":
        world.slack.add_channel(name)
    channel_id = world.slack.channel_id(name)
    service, mid = world.baseline(slack_channel=channel_id if by_id else f"#{name}")
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    (message,) = world.slack.messages
    assert message["channel"] == channel_id and "Dyno Crash" in message["text"]
    (sent,) = service.outbox.recent(status="sent")
    assert sent.channel_id == channel_id  # kept: thread replies and edits need the ID
    service.stop()
