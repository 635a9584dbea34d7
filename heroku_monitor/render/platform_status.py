"""Heroku platform incidents (SPEC section 15) as Slack messages for the outbox. Pure.

The first message: `🌩️ *Heroku Platform Incident* 🌩️\\n{title}\\nSystems: {system}
({status}), …\\n{link}`; each update a reply in its thread; at the end the first message
says "✅ Resolved after N min" and a reply broadcast to the channel says it ended. Every
string from the status API is escaped and cut to Slack's limits.
"""

from __future__ import annotations

from collections.abc import Iterable

from heroku_monitor.core import platform_status
from heroku_monitor.core.outbound import REPLY, UPDATE, Message
from heroku_monitor.core.platform_status import PlatformAction, StatusUpdate, Tracked
from heroku_monitor.render.blocks import (
    MAX_SECTION,
    clip,
    context_block,
    escape,
    header_block,
    section_block,
)

TITLE = "Heroku Platform Incident"
EMOJI = "🌩️"
STATUS_PAGE = "https://status.heroku.com/"
CONTENTS_LIMIT = 2_500  # of an update's text, well inside a section's 3,000


def messages(actions: Iterable[PlatformAction]) -> list[Message]:
    """The messages to queue for `actions`, in order (each to every channel of its
    incident: the outbox does that)."""
    return [render(action) for action in actions]


def systems_line(incident: Tracked) -> str:
    named = ", ".join(f"{escape(s.system)} ({escape(s.status)})" for s in incident.systems)
    return f"Systems: {named or 'all green'}"


def link(incident: Tracked) -> str:
    url = incident.url or STATUS_PAGE
    return f"<{url}|{escape(url)}>" if url.startswith(("https://", "http://")) else escape(url)


def _opening(incident: Tracked) -> tuple[str, list[dict[str, object]]]:
    title = clip(escape(incident.title), 500)
    lines = [f"{EMOJI} *{TITLE}* {EMOJI}", title, systems_line(incident), link(incident)]
    blocks = [
        header_block(f"{EMOJI} {TITLE} {EMOJI}"),
        section_block("\n".join(lines[1:3])),
        context_block(link(incident)),
    ]
    return "\n".join(lines), blocks


def _contents(update: StatusUpdate | None) -> str:
    if update is None or not update.contents.strip():
        return ""
    return clip(escape(update.contents.strip()), CONTENTS_LIMIT)


def render(action: PlatformAction) -> Message:
    incident = action.incident
    parent = platform_status.opening_key(incident.id)
    if action.what == platform_status.OPENED:
        text, blocks = _opening(incident)
        return Message("", action.what, text, blocks, (), explicit_key=action.key)
    if action.what == platform_status.STATE:
        text, blocks = _opening(incident)
        done = f"✅ Resolved after {incident.minutes} min"
        return Message(
            "",
            action.what,
            f"{text}\n{done}",
            [*blocks, context_block(done)],
            (),
            action=UPDATE,
            parent_key=parent,
            explicit_key=action.key,
        )
    if action.what == platform_status.RESOLVED:
        head = f"✅ *Heroku resolved:* {clip(escape(incident.title), 500)}"
        body = _contents(action.update)
        text = f"{head}\n{body}" if body else head
    else:  # an update
        update = action.update
        kind = escape((update.update_type if update else "update").replace("_", " ").title())
        text = f"{EMOJI} *{kind}*: {_contents(update) or '(no text)'}"
    return Message(
        "",
        action.what,
        text,
        [section_block(clip(text, MAX_SECTION))],
        (),
        action=REPLY,
        parent_key=parent,
        broadcast=action.broadcast,
        explicit_key=action.key,
    )
