"""Turn events into Slack messages: the PRD's text plus Block Kit blocks. Pure: `now` is passed in.

Several events of one kind for one app make one message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from heroku_monitor import detect
from heroku_monitor.detect import Event
from heroku_monitor.snapshot import AppSnapshot

HEROKU_DASHBOARD = "https://dashboard.heroku.com/apps/"

# (emoji, title) per kind; the text's first line is `{emoji} *{title}* {emoji}`.
HEADERS: dict[str, tuple[str, str]] = {
    detect.DYNO_CRASHED: ("🚨", "ALERT: Dyno Crash Detected"),
    detect.DYNOS_DOWN: ("⚠️", "WARNING: Dynos Down"),
    detect.DYNOS_RECOVERED: ("✅", "Dynos Recovered"),
    detect.DEPLOY: ("🚀", "New Deploy Detected"),
    detect.ROLLBACK: ("⏪", "Rollback Detected"),
    detect.RELEASE_FAILED: ("❌", "Release Failed"),
    detect.CONFIG_CHANGED: ("⚙️", "Config Vars Changed"),
    detect.ADDON_ADDED: ("🧩", "Add-on Added"),
    detect.ADDON_REMOVED: ("🗑️", "Add-on Removed"),
    detect.ADDON_CHANGED: ("🔄", "Add-on State Changed"),
    detect.MONITORING_TROUBLE: ("🔥", "Monitoring Trouble"),
    detect.MONITORING_RECOVERED: ("🩹", "Monitoring Recovered"),
}


@dataclass(frozen=True)
class Message:
    """One Slack message: `text` is the notification fallback, `blocks` the rich form."""

    app: str
    kind: str
    text: str
    blocks: list[dict[str, Any]]
    event_keys: tuple[str, ...]

    @property
    def key(self) -> str:
        """Stable identity of the message, from the events it carries."""
        joined = "\n".join(sorted(self.event_keys))
        return f"{self.app}:{self.kind}:{hashlib.sha256(joined.encode()).hexdigest()[:24]}"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters.

    https://api.slack.com/reference/surfaces/formatting#escaping
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(kind: str, events: Sequence[Event] = ()) -> tuple[str, str]:
    """(emoji, title) of a kind; maintenance depends on which way it switched."""
    if kind == detect.MAINTENANCE:
        on = bool(events and events[-1].maintenance)
        return ("🚧", "Maintenance Mode On") if on else ("✅", "Maintenance Mode Off")
    return HEADERS[kind]


def dashboard_link(app: str) -> str:
    """A Slack link to the app's page in the Heroku dashboard."""
    return f"<{HEROKU_DASHBOARD}{app}|Open {app} in the Heroku dashboard>"


def _who(email: str) -> str:
    return escape(email) if email else "unknown"


def _body(kind: str, events: Sequence[Event]) -> list[str]:
    """The lines after `App: {app}`, as in the PRD's templates."""
    lines: list[str] = []
    if kind in (detect.DYNO_CRASHED, detect.DYNOS_DOWN, detect.DYNOS_RECOVERED):
        label = {
            detect.DYNO_CRASHED: "Crashed dynos:",
            detect.DYNOS_DOWN: "Down dynos:",
            detect.DYNOS_RECOVERED: "Recovered dynos:",
        }[kind]
        lines.append(label)
        lines += [f"• {e.dyno.name} ({e.dyno.type})" for e in events if e.dyno]
    elif kind in (detect.DEPLOY, detect.ROLLBACK, detect.RELEASE_FAILED):
        releases = sorted((e for e in events if e.release), key=lambda e: e.release.version)  # type: ignore[union-attr]
        for e in releases:
            r = e.release
            assert r is not None
            if kind == detect.DEPLOY:
                lines += [f"Version: v{r.version}", f"Deployed by: {_who(r.user)}"]
            elif kind == detect.ROLLBACK:
                lines += [
                    f"Rollback to v{e.rollback_to}" if e.rollback_to else "Rollback",
                    f"Version: v{r.version}",
                    f"Rolled back by: {_who(r.user)}",
                ]
            else:
                lines += [f"Version: v{r.version}", f"Released by: {_who(r.user)}"]
                if r.description:
                    lines.append(f"Description: {escape(r.description)}")
    elif kind == detect.CONFIG_CHANGED:
        added = sorted({n for e in events for n in e.added})
        removed = sorted({n for e in events for n in e.removed})
        changed = sorted({n for e in events for n in e.changed})
        for label, names in (("Added", added), ("Removed", removed), ("Changed", changed)):
            if names:
                lines.append(f"{label}: {', '.join(escape(n) for n in names)}")
        lines.append("Review changes in Heroku dashboard.")
    elif kind in (detect.ADDON_ADDED, detect.ADDON_REMOVED, detect.ADDON_CHANGED):
        for e in events:
            a = e.addon
            assert a is not None
            line = f"• {escape(a.service)} ({escape(a.plan)})"
            if kind == detect.ADDON_ADDED:
                line += f": {a.state}"
            elif kind == detect.ADDON_CHANGED and e.previous_addon:
                p = e.previous_addon
                if p.plan != a.plan:
                    line = f"• {escape(a.service)}: plan {escape(p.plan)} → {escape(a.plan)}"
                if p.state != a.state:
                    line += f": {p.state} → {a.state}"
            lines.append(line)
    elif kind == detect.MAINTENANCE:
        on = bool(events[-1].maintenance)
        lines.append(
            "Maintenance mode is on: visitors get the maintenance page."
            if on
            else "Maintenance mode is off: the app serves traffic again."
        )
    elif kind == detect.MONITORING_TROUBLE:
        e = events[-1]
        lines.append(f"The Heroku API failed {e.failures} checks in a row: {escape(e.reason)}")
    elif kind == detect.MONITORING_RECOVERED:
        e = events[-1]
        lines.append(f"The Heroku API answers again after {e.failures} failed checks.")
    return lines


def render(app: str, kind: str, events: Sequence[Event], now: datetime) -> Message:
    """The one message for `events`, all of `kind` and `app`."""
    emoji, title = header(kind, events)
    body = _body(kind, events)
    text = "\n".join([f"{emoji} *{title}* {emoji}", f"App: {app}", *body])
    epoch = int(now.timestamp())
    fallback = now.strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{emoji} {title} {emoji}"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*App:*\n{app}"}]},
    ]
    if body:
        # A section's text is capped at 3,000 characters by Slack.
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(body)[:3000]}}
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"
                    f" · {dashboard_link(app)}",
                }
            ],
        }
    )
    return Message(app, kind, text, blocks, tuple(e.key for e in events))


def build(events: Iterable[Event], now: datetime) -> list[Message]:
    """One message per (app, kind), most urgent kind first."""
    groups: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        groups.setdefault((event.app, event.kind), []).append(event)
    order = {kind: i for i, kind in enumerate(detect.KINDS)}
    return [
        render(app, kind, group, now)
        for (app, kind), group in sorted(
            groups.items(), key=lambda item: (item[0][0], order[item[0][1]])
        )
    ]


HEALTH_EMOJI = {"healthy": "🟢", "degraded": "🟠", "down": "🔴"}
STATE_EMOJI = {"up": "🟢", "starting": "🟡", "idle": "💤", "crashed": "🔴", "down": "🔴"}


def ago(then: datetime, now: datetime) -> str:
    """`12 seconds ago`, `3 minutes ago`, `2 hours ago`."""
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return f"{seconds} second{'s' if seconds != 1 else ''} ago"


def status_reply(
    snapshot: AppSnapshot, now: datetime, *, problem: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The `/heroku-status app` answer: health, dynos, current release, add-ons,
    maintenance and when it was seen so, as text and blocks. `problem`: why the latest
    check failed, when it did (the rest is then older news, and says so)."""
    app = snapshot.app
    health = snapshot.health()
    title = f"{HEALTH_EMOJI[health]} {app} is {health}"
    dynos = [
        f"{STATE_EMOJI.get(d.state, '•')} {d.name} ({d.type}): {d.state}"
        for d in sorted(snapshot.dynos, key=lambda d: d.name)
    ] or ["No dynos are running."]
    release = snapshot.current_release
    if release:
        when = release.created_at.replace("T", " ").replace("Z", " UTC")
        release_line = f"v{release.version} by {_who(release.user)}, {when}"
        if release.description:
            release_line += f": {escape(release.description)}"
    else:
        release_line = "none yet"
    addons = [
        f"{escape(a.service)} ({escape(a.plan)}): {a.state}"
        for a in sorted(snapshot.addons, key=lambda a: a.name)
    ] or ["none"]
    maintenance = "on 🚧" if snapshot.maintenance else "off"
    seen = ago(snapshot.taken_at, now)
    checked = f"Last checked {seen}"
    if problem:
        checked = f"⚠️ The latest check failed ({escape(problem)}); this is from {seen}"
    lines = [
        f"*{title}*",
        "*Dynos:*",
        *dynos,
        f"*Current release:* {release_line}",
        "*Add-ons:* " + "; ".join(addons),
        f"*Maintenance mode:* {maintenance}",
        checked,
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Dynos:*\n" + "\n".join(dynos)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Current release:*\n{release_line}"},
                {"type": "mrkdwn", "text": f"*Maintenance mode:*\n{maintenance}"},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Add-ons:*\n" + "\n".join(addons)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{checked} · {dashboard_link(app)}",
                }
            ],
        },
    ]
    return "\n".join(lines), blocks


def summary_reply(
    rows: Sequence[tuple[str, AppSnapshot | None, bool]], now: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """The `/heroku-status` answer without an app: one line per monitored app."""
    if not rows:
        text = (
            "🌵 No app is monitored yet. Add one on the dashboard, or ask `/heroku-status my-app`."
        )
        return text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    lines = []
    for app, snapshot, failing in rows:
        if snapshot is None:
            lines.append(f"⏳ *{app}*: not checked yet")
            continue
        health = snapshot.health()
        up = sum(1 for d in snapshot.dynos if d.state == "up")
        release = snapshot.current_release
        version = f", v{release.version}" if release else ""
        maintenance = ", maintenance on 🚧" if snapshot.maintenance else ""
        lines.append(
            f"{HEALTH_EMOJI[health]} *{app}*: {health}, {up}/{len(snapshot.dynos)} dynos up"
            f"{version}{maintenance} (checked {ago(snapshot.taken_at, now)})"
            + (", ⚠️ latest check failed" if failing else "")
        )
    text = "*🤠 Heroku status*\n" + "\n".join(lines)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "🤠 Heroku status"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "Ask `/heroku-status app-name` for the details."}
            ],
        },
    ]
    return text, blocks
