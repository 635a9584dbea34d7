"""The Slack messages: the PRD's texts exactly, one message per kind, Block Kit alongside."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from heroku_monitor.core import detect
from heroku_monitor.core.detect import diff
from heroku_monitor.core.snapshot import AppSnapshot, Dyno
from heroku_monitor.render import blocks as kit
from heroku_monitor.render import messages
from heroku_monitor.store import snapshots
from tests.fakes import FakeSlack
from tests.support.builders import T0, addon, dyno, release, snap

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
    stored = snapshots.to_json(old) + snapshots.to_json(new)
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


# -------------------------------------------------------------------- Slack's limits

ESCAPE = re.compile(r"&(?!amp;|lt;|gt;)")


def crashed(n: int, kind: str = "queue-worker-long-name") -> list[detect.Event]:
    names = [f"{kind}.{i}" for i in range(1, n + 1)]
    return diff(
        snap(dynos=tuple(dyno(name) for name in names)),
        snap(dynos=tuple(dyno(name, "crashed") for name in names)),
    )


def config_change(added: int, changed: int = 0) -> list[detect.Event]:
    old = {"DATABASE_URL": "x", **{f"CHANGED_SETTING_{i:03d}": "1" for i in range(changed)}}
    new = {
        **{f"CHANGED_SETTING_{i:03d}": "2" for i in range(changed)},
        **{f"FEATURE_FLAG_{i:04d}_ENABLED": "1" for i in range(added)},
    }
    return diff(snap(config=old), snap(config=new))


def failed_release(description: str, count: int = 1) -> list[detect.Event]:
    new = [release(42 + i, description, status="failed") for i in range(count)]
    return diff(snap(releases=BASE), snap(releases=(*new, *BASE)))


LONG_DESCRIPTION = "R&D " * 1250  # 5,000 characters; 10,000 once escaped

ALERTS = {
    "120 crashed dynos": lambda: crashed(120),
    "600 crashed dynos": lambda: crashed(600),
    "300 added config vars and DATABASE_URL removed": lambda: config_change(300),
    "2,000 added and 300 changed config vars": lambda: config_change(2000, 300),
    "a 5,000-char release description full of &": lambda: failed_release(LONG_DESCRIPTION),
    "six failed releases with such descriptions": lambda: failed_release(LONG_DESCRIPTION, 6),
    "a 20,000-char Heroku error": lambda: detect.check_failed("my-app", 3, "<&> " * 5000, T0),
}


def monitored(n: int) -> list[tuple[str, AppSnapshot | None, bool]]:
    rows: list[tuple[str, AppSnapshot | None, bool]] = []
    for i in range(n):
        app = f"a-fairly-long-app-name-{i:04d}"
        dynos = (dyno("web.1"), dyno("worker.1", "crashed"))
        rows.append((app, snap(app=app, dynos=dynos, maintenance=True), i % 2 == 0))
    return rows


def many_dynos(n: int) -> AppSnapshot:
    return snap(dynos=tuple(dyno(f"{t}.{i}") for t in ("web", "worker") for i in range(n // 2)))


ANSWERS = {
    "status of 150 dynos": lambda: messages.status_reply(many_dynos(150), T0),
    "status of 2,000 dynos": lambda: messages.status_reply(many_dynos(2000), T0),
    "status with a 5,000-char release description full of &": lambda: messages.status_reply(
        snap(releases=(release(42, LONG_DESCRIPTION),)), T0, problem="<&> " * 1000
    ),
    "summary of 30 apps": lambda: messages.summary_reply(monitored(30), T0),
    "summary of 40 apps": lambda: messages.summary_reply(monitored(40), T0),
    "summary of 400 apps": lambda: messages.summary_reply(monitored(400), T0),
}


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def post(slack: FakeSlack, text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Post through slack_sdk's WebClient to the fake Slack; what it recorded."""
    client = WebClient(token=slack.token, base_url=slack.url, timeout=5, retry_handlers=[])
    response = client.chat_postMessage(channel="#alerts", text=text, blocks=blocks)
    assert response["ok"] is True and "warning" not in response.data
    (posted,) = [m for m in slack.messages if m["ts"] == response["ts"]]
    return posted


@pytest.mark.parametrize("case", ALERTS)
def test_every_alert_fits_slacks_limits_and_slack_accepts_it(slack: FakeSlack, case: str):
    for message in messages.build(ALERTS[case](), T0):
        assert kit.problems(message.text, message.blocks) == []
        posted = post(slack, message.text, message.blocks)
        assert posted["text"] == message.text and not posted["truncated"]


@pytest.mark.parametrize("case", ANSWERS)
def test_every_slash_answer_fits_slacks_limits_and_slack_accepts_it(slack: FakeSlack, case: str):
    text, blocks = ANSWERS[case]()
    assert kit.problems(text, blocks) == []
    assert not post(slack, text, blocks)["truncated"]
    answer = WebhookClient(slack.response_url(case.replace(" ", "-"))).send(
        response_type="ephemeral", text=text, blocks=blocks, replace_original=True
    )
    assert (answer.status_code, answer.body) == (200, "ok")


def test_the_removal_is_named_in_the_blocks_among_300_added_names():
    (message,) = messages.build(config_change(300), T0)
    blocks = json.dumps(message.blocks)
    assert "Removed: DATABASE_URL" in blocks
    assert blocks.index("DATABASE_URL") < blocks.index("FEATURE_FLAG_0000_ENABLED")


def test_removed_and_changed_names_are_kept_before_added_ones_when_blocks_are_cut():
    (message,) = messages.build(config_change(2000, 300), T0)
    body = "\n".join(b["text"]["text"] for b in message.blocks if "text" in b)[1:]
    assert "Removed: DATABASE_URL" in body
    for i in range(300):
        assert f"CHANGED_SETTING_{i:03d}" in body
    shown = len(re.findall(r"FEATURE_FLAG_\d{4}_ENABLED", body))
    assert 0 < shown < 2000 and f"…and {2000 - shown} more" in body


def test_a_cut_list_ends_with_and_n_more_after_whole_items():
    (message,) = messages.build(crashed(600), T0)
    lines = [
        line
        for block in message.blocks[2:-1]
        for line in block["text"]["text"].split("\n")
        if line.startswith("• ")
    ]
    *whole, more = lines
    assert all(
        re.fullmatch(r"• queue-worker-long-name\.\d+ \(queue-worker-long-name\)", x) for x in whole
    )
    assert more == f"• …and {600 - len(whole)} more"
    assert kit.blocks_size(message.blocks) <= kit.MAX_BLOCKS_JSON


def test_the_text_keeps_every_item_for_the_alert_log():
    (crash,) = messages.build(crashed(120), T0)
    (config,) = messages.build(config_change(300), T0)
    assert crash.text.count("\n• ") == 120 and "…and" not in crash.text
    assert config.text.count("FEATURE_FLAG_") == 300 and "Removed: DATABASE_URL" in config.text
    assert config.text.endswith("\nReview changes in Heroku dashboard.")


def test_the_text_stays_within_40000_chars_and_keeps_the_prd_opening_lines():
    (message,) = messages.build(crashed(3000, "a-very-long-process-type-name"), T0)
    assert kit.size(message.text) <= kit.MAX_TEXT
    assert message.text.startswith(
        "🚨 *ALERT: Dyno Crash Detected* 🚨\nApp: my-app\nCrashed dynos:\n• "
    )
    assert re.search(r"\n• …and \d+ more$", message.text)


def test_a_long_description_is_cut_at_a_word_boundary_never_inside_an_escape():
    (message,) = messages.build(failed_release(LONG_DESCRIPTION), T0)
    body = message.blocks[2]["text"]["text"]
    assert body.endswith("R&amp;D…") and not ESCAPE.search(body)
    assert LONG_DESCRIPTION.replace("&", "&amp;").strip() in message.text
    _, blocks = ANSWERS["status with a 5,000-char release description full of &"]()
    field = blocks[-3]["fields"][0]["text"]
    assert kit.size(field) <= kit.MAX_FIELD and field.endswith("R&amp;D…")
    assert not ESCAPE.search(json.dumps(blocks))


def test_clip_never_cuts_inside_an_escape_even_within_one_long_word():
    assert kit.clip("x" * 8 + "&amp;" * 3, 12) == "xxxxxxxx…"
    assert kit.clip("ab cd", 10) == "ab cd"


def test_heroku_strings_are_escaped_in_every_text_and_block():
    evil = "<!channel>"
    old = snap(dynos=(dyno(f"web.9{evil}"),), releases=BASE, addons=())
    new = snap(
        dynos=(
            Dyno(name=f"web.9{evil}", type=f"web{evil}", state="crashed"),
            Dyno(name="worker.1", type="worker", state=f"up{evil}"),
        ),
        releases=(release(42, f"fix {evil}", status="failed", user=f"a{evil}@x.io"), *BASE),
        addons=(addon(f"pg{evil}", f"heroku-postgresql{evil}", f"plan{evil}", f"ok{evil}"),),
    )
    rendered = [(m.text, m.blocks) for m in messages.build(diff(old, new), T0)]
    rendered.append(messages.status_reply(new, T0, problem=evil))
    rendered.append(messages.summary_reply([(f"my-app{evil}", new, True)], T0))
    everything = json.dumps(rendered, ensure_ascii=False)
    assert evil not in everything and "&lt;!channel&gt;" in everything


def test_blocks_are_built_with_slack_sdk_models_and_keep_todays_shape():
    _, blocks = messages.status_reply(snap(), T0)
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "🟢 my-app is healthy"}
    assert blocks[2]["fields"][0]["text"].startswith("*Current release:*\nv3 by dev@example.com")
