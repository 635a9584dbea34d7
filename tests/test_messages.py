"""The Slack messages: the PRD's texts exactly, one message per kind, Block Kit alongside."""

from __future__ import annotations

import json

from heroku_monitor import detect, messages
from heroku_monitor.detect import diff
from tests.builders import T0, addon, dyno, release, snap

BASE = (release(41), release(40))


def texts(events: list[detect.Event]) -> list[str]:
    return [m.text for m in messages.build(events, T0)]


def test_crash_alert_is_the_prd_template_exactly():
    events = diff(snap(), snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1"))))
    assert texts(events) == [
        "🚨 *ALERT: Dyno Crash Detected* 🚨\nApp: my-app\nCrashed dynos:\n• web.1 (web)"
    ]


def test_down_alert_is_the_prd_template_exactly():
    events = diff(snap(), snap(dynos=(dyno("web.1"), dyno("worker.1", "down"))))
    assert texts(events) == [
        "⚠️ *WARNING: Dynos Down* ⚠️\nApp: my-app\nDown dynos:\n• worker.1 (worker)"
    ]


def test_deploy_alert_is_the_prd_template_exactly():
    old = snap(releases=BASE)
    new = snap(releases=(release(42, user="user@example.com"), *BASE))
    assert texts(diff(old, new)) == [
        "🚀 *New Deploy Detected* 🚀\nApp: my-app\nVersion: v42\nDeployed by: user@example.com"
    ]


def test_config_alert_follows_the_prd_template_with_key_names():
    old = snap(config={"A": "1", "B": "2"})
    new = snap(config={"A": "1", "B": "3", "C": "x"})
    (text,) = texts(diff(old, new))
    assert text.startswith("⚙️ *Config Vars Changed* ⚙️\nApp: my-app\n")
    assert "Added: C" in text and "Changed: B" in text
    assert text.endswith("Review changes in Heroku dashboard.")


def test_config_values_never_reach_a_message_or_the_snapshot():
    old = snap(config={"SECRET_TOKEN": "hunter2-old"})
    new = snap(config={"SECRET_TOKEN": "hunter2-new", "API_KEY": "sk_live_abc"})
    rendered = json.dumps([(m.text, m.blocks) for m in messages.build(diff(old, new), T0)])
    stored = old.to_json() + new.to_json()
    for value in ("hunter2-old", "hunter2-new", "sk_live_abc"):
        assert value not in rendered and value not in stored
    assert "SECRET_TOKEN" in rendered and "API_KEY" in rendered


def test_several_crashes_in_one_check_make_one_message():
    events = diff(snap(), snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1", "crashed"))))
    (text,) = texts(events)
    assert text.endswith("Crashed dynos:\n• web.1 (web)\n• worker.1 (worker)")


def test_several_deploys_in_one_check_make_one_message_oldest_first():
    new = snap(releases=(release(43, user="b@x.io"), release(42, user="a@x.io"), *BASE))
    (text,) = texts(diff(snap(releases=BASE), new))
    assert text.startswith(
        "🚀 *New Deploy Detected* 🚀\nApp: my-app\nVersion: v42\nDeployed by: a@x.io\n"
        "Version: v43\nDeployed by: b@x.io"
    )


def test_each_kind_beyond_the_prd_has_its_own_header_line():
    old = snap(dynos=(dyno("web.1", "crashed"),), addons=(addon(),), releases=BASE)
    new = snap(
        dynos=(dyno("web.1"),),
        addons=(addon("redis-1", "heroku-redis", "heroku-redis:mini"),),
        releases=(
            release(43, "Rollback to v40", slug="slug-40"),
            release(42, status="failed"),
            *BASE,
        ),
        maintenance=True,
    )
    firsts = {m.kind: m.text.split("\n")[0] for m in messages.build(diff(old, new), T0)}
    assert firsts == {
        detect.DYNOS_RECOVERED: "✅ *Dynos Recovered* ✅",
        detect.ROLLBACK: "⏪ *Rollback Detected* ⏪",
        detect.RELEASE_FAILED: "❌ *Release Failed* ❌",
        detect.ADDON_ADDED: "🧩 *Add-on Added* 🧩",
        detect.ADDON_REMOVED: "🗑️ *Add-on Removed* 🗑️",
        detect.MAINTENANCE: "🚧 *Maintenance Mode On* 🚧",
    }


def test_rollback_message_names_the_target_version():
    new = snap(releases=(release(43, "Rollback to v40", slug="slug-40"), *BASE))
    (text,) = texts(diff(snap(releases=BASE), new))
    assert "Rollback to v40" in text and "Version: v43" in text


def test_monitoring_trouble_message_carries_the_reason():
    events = detect.check_failed("my-app", 3, "404 not found: app 'my-app' not found", T0)
    (text,) = texts(events)
    assert text.startswith("🔥 *Monitoring Trouble* 🔥\nApp: my-app\n")
    assert "404 not found" in text


def test_blocks_carry_header_fields_and_a_context_line_with_time_and_dashboard_link():
    events = diff(snap(), snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1"))))
    (message,) = messages.build(events, T0)
    types = [b["type"] for b in message.blocks]
    assert types == ["header", "section", "section", "context"]
    assert message.blocks[0]["text"]["text"] == "🚨 ALERT: Dyno Crash Detected 🚨"
    assert "web.1 (web)" in message.blocks[2]["text"]["text"]
    context = message.blocks[3]["elements"][0]["text"]
    assert f"<!date^{int(T0.timestamp())}^" in context
    assert "https://dashboard.heroku.com/apps/my-app" in context


def test_slack_control_characters_in_heroku_text_are_escaped():
    old = snap(releases=BASE)
    new = snap(releases=(release(42, "<!channel> & more", status="failed"), *BASE))
    (text,) = texts(diff(old, new))
    assert "&lt;!channel&gt; &amp; more" in text and "<!channel>" not in text
