"""Changes in their own channel (SPEC §14), end to end: the monitor's alert channel gets
its incidents, its changes channel its deploys, rollbacks, config vars, add-ons and
maintenance; both set from the environment (validated like SLACK_CHANNEL) or the store."""

from __future__ import annotations

import pytest

from heroku_monitor.core.validation import SettingsError
from heroku_monitor.settings import from_env
from heroku_monitor.store import changes
from tests.support.world import APP, World, first_monitor

ENV = {"HEROKU_API_KEY": "k", "SLACK_BOT_TOKEN": "xoxb-1"}


def channels(world: World) -> list[tuple[str, str]]:
    return [(m["channel_name"], m["text"].split("\n")[0]) for m in world.slack.messages]


def test_changes_go_to_the_changes_channel_and_incidents_stay_in_the_alert_channel(world: World):
    world.slack.add_channel("deploys")
    service = world.service(slack_changes_channel="#deploys")
    monitor_id = first_monitor(service)
    service.checker.check(monitor_id)
    world.sim.deploy(APP, "ann@example.com")
    service.checker.check(monitor_id)
    world.sim.set_config(APP, {"FLAG": "on"})
    world.sim.set_maintenance(APP, True)
    service.checker.check(monitor_id)
    world.sim.crash_dyno(APP, "web.1")
    world.sim.builds.push(APP, status="failed")
    service.checker.check(monitor_id)
    world.slack.wait_for_messages(5)
    assert sorted(channels(world)) == sorted(
        [
            ("deploys", "🚀 *New Deploy Detected* 🚀"),
            ("deploys", "⚙️ *Config Vars Changed* ⚙️"),
            ("deploys", "🚧 *Maintenance Mode On* 🚧"),
            ("alerts", "🚨 *ALERT: Dyno Crash Detected* 🚨"),
            ("alerts", "💥 *Build Failed* 💥"),
        ]
    )
    service.stop()


def test_the_changes_channel_is_the_alert_channel_unless_set_apart(world: World):
    service, monitor_id = world.baseline()
    world.sim.deploy(APP)
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(monitor_id)
    assert {name for name, _ in channels(world)} == {"alerts"}
    assert service.monitors.get(monitor_id).changes_channel is None  # type: ignore[union-attr]
    service.stop()


def test_a_reply_goes_where_its_incident_went_whatever_the_changes_channel(world: World):
    world.slack.add_channel("deploys")
    service = world.service(slack_changes_channel="#deploys")
    monitor_id = first_monitor(service)
    service.checker.check(monitor_id)
    world.sim.deploy(APP, status="failed")  # a failed release: an incident
    service.checker.check(monitor_id)
    world.sim.deploy(APP)  # the deploy that ends it: a change, and a reply in its thread
    service.checker.check(monitor_id)
    messages = world.slack.wait_for_messages(3)
    failed = next(m for m in messages if m["text"].startswith("❌"))
    replies = [m for m in messages if m.get("thread_ts") == failed["ts"]]
    assert failed["channel_name"] == "alerts" and [r["channel_name"] for r in replies] == ["alerts"]
    (deploy,) = [m for m in messages if m["text"].startswith("🚀") and not m.get("thread_ts")]
    assert deploy["channel_name"] == "deploys"
    service.stop()


def test_the_environment_seeds_the_first_monitors_changes_channel_and_repository_once(
    world: World,
):
    service = world.service(slack_changes_channel="#deploys", monitored_app_repository="acme/shop")
    monitor = service.monitors.get(first_monitor(service))
    assert monitor is not None
    assert (monitor.changes_channel, monitor.repository) == ("#deploys", "acme/shop")
    changes.set_routing(
        service.db, monitor.id, changes_channel=None, repository=None, now=service.clock()
    )
    service.stop()
    again = world.service(slack_changes_channel="#other", monitored_app_repository="x/y")
    kept = again.monitors.get(monitor.id)
    assert kept is not None and (kept.changes_channel, kept.repository) == (None, None)
    again.stop()


def test_the_changes_channel_and_repository_settings_are_read_and_normalised():
    settings = from_env(
        {
            **ENV,
            "SLACK_CHANGES_CHANNEL": " #deploys ",
            "MONITORED_APP_REPOSITORY": "https://github.com/acme/shop.git",
        }
    )
    assert settings.slack_changes_channel == "#deploys"
    assert settings.monitored_app_repository == "acme/shop"
    assert settings.sources["changes_channel"] == "environment"
    assert from_env(ENV).slack_changes_channel is None


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("SLACK_CHANGES_CHANNEL", "deploys", "SLACK_CHANGES_CHANNEL 'deploys': A Slack channel"),
        ("SLACK_CHANGES_CHANNEL", "#De ploys", "SLACK_CHANGES_CHANNEL '#De ploys': A Slack"),
        ("MONITORED_APP_REPOSITORY", "acme", "MONITORED_APP_REPOSITORY 'acme': A repository is"),
    ],
)
def test_a_bad_changes_channel_or_repository_stops_start_up_with_one_sentence(
    name: str, value: str, says: str
):
    with pytest.raises(SettingsError) as raised:
        from_env({**ENV, name: value})
    assert str(raised.value).startswith(says) and str(raised.value).count(". ") <= 1
