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
                    f" · <{HEROKU_DASHBOARD}{app}|Open {app} in the Heroku dashboard>",
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
