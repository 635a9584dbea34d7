"""Incident actions as Slack messages for the outbox. Pure: `incidents` decides what to say
and to whom, `messages` says how an alert reads; this turns the one into the other.

The opening message is the section 4 alert, its PRD text unchanged, with the suspect deploy
below it; its edits add the incident's state at the end; replies go in its thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from heroku_monitor.core import detect, incidents
from heroku_monitor.core.incidents import Action, Incident
from heroku_monitor.core.outbound import POST, REPLY, UPDATE, Message
from heroku_monitor.render import messages
from heroku_monitor.render.blocks import context_block, escape, section_block
from heroku_monitor.render.mentions import mention_markup

USER_MENTION = re.compile(r"<@[UW][A-Z0-9]{2,20}>")


def outbox_messages(
    actions: Iterable[Action],
    now: datetime,
    repository: str | None = None,
    dashboard_url: str | None = None,
) -> list[Message]:
    """The messages to queue for `actions`, in order; muted ones (the app is snoozed) are
    kept in the alert log, never sent. `repository`: the monitor's GitHub repository
    (`owner/name`), for commit and compare links (SPEC §14); `dashboard_url`: this
    service's address, so each alert's context line links the app's page."""
    queued: list[Message] = []
    for action in actions:
        if action.kind == incidents.MUTED:
            shown = (
                messages.build(action.events, now, repository, dashboard_url)
                if action.what == incidents.ALERT
                else [m for m in [_render(action, now, repository, dashboard_url)] if m is not None]
            )
            queued.extend(
                replace(
                    m, action=POST, parent_key=None, muted=True, explicit_key=f"{action.key}:{n}"
                )
                for n, m in enumerate(shown)
            )
            continue
        if action.what == incidents.ALERT:
            queued.extend(messages.build(action.events, now, repository, dashboard_url))
            continue
        message = _render(action, now, repository, dashboard_url)
        if message is not None:
            queued.append(message)
    return queued


def _render(
    action: Action,
    now: datetime,
    repository: str | None = None,
    dashboard_url: str | None = None,
) -> Message | None:
    incident = action.incident
    if action.what == incidents.SNOOZE_ENDED and action.snooze is not None:
        muted = ", ".join(f"{n} × {_title(kind)}" for kind, n in action.snooze.tally())
        text = (
            f"🔔 The snooze of *{escape(action.app)}* ended. Muted meanwhile: {muted or 'nothing'}."
        )
        return _plain(action, text, POST)
    if incident is None:
        return None
    if action.what in (incidents.OPENED, incidents.STATE):
        base = _opening(incident, now, repository, dashboard_url)
        if action.what == incidents.OPENED:
            return replace(
                base,
                blocks=[*base.blocks, *_buttons(incident)],
                explicit_key=action.key,
                event_keys=tuple(e.key for e in incident.opening),
            )
        state = _state_line(incident)
        return replace(
            base,
            text=f"{base.text}\n{state}",
            blocks=[*base.blocks, context_block(state), *_buttons(incident)],
            kind=incidents.STATE,
            action=UPDATE,
            parent_key=incidents.opening_key(incident.id),
            explicit_key=action.key,
            event_keys=(),
        )
    parent = incidents.opening_key(incident.id)
    if action.what == incidents.ESCALATION:
        mention = mention_markup(action.mention)
        text = (
            f"{mention} 🔁 *Crash loop on {escape(incident.app)}*: its dynos crashed "
            f"{len(incident.recent_crashes) or incident.crashes} times in 15 minutes."
        ).strip()
        return _plain(action, text, REPLY, parent)
    if action.what == incidents.ACKNOWLEDGED:
        text = f"👀 Acknowledged by {who(incident.acknowledged_by)}."
        return _plain(action, text, REPLY, parent)
    if action.what == incidents.BACK_UP:
        back, still = action.dynos, incident.down
        text = (
            f"✅ {_names(back)} {'is' if len(back) == 1 else 'are'} up again; "
            f"{_names(still)} {'is' if len(still) == 1 else 'are'} still down"
        )
        return _plain(action, text, REPLY, parent)
    if action.what in (incidents.FOLLOW_UP, incidents.RESOLVED):
        lines: list[str] = []
        blocks: list[dict] = []
        if action.events:
            (first, *_) = messages.build(action.events, now, repository, dashboard_url)
            lines, blocks = [first.text], list(first.blocks)
        elif action.what == incidents.RESOLVED:
            emoji, title = messages.header(detect.DYNOS_RECOVERED)
            lines = [f"{emoji} *{title}* {emoji}", f"App: {escape(incident.app)}"]
            blocks = [section_block("\n".join(lines))]
        if action.what == incidents.RESOLVED and incident.minutes is not None:
            done = f"✅ Resolved after {incident.minutes} min"
            lines.append(done)
            blocks.append(context_block(done))
        return Message(
            incident.app,
            action.what,
            "\n".join(lines),
            blocks,
            tuple(e.key for e in action.events),
            action=REPLY,
            parent_key=parent,
            broadcast=action.broadcast,
            explicit_key=action.key,
        )
    return None


def _opening(
    incident: Incident,
    now: datetime,
    repository: str | None = None,
    dashboard_url: str | None = None,
) -> Message:
    """The opening message: the section 4 alert of its opening events, and the deploy it
    is suspected of, below (with what it brought, when the monitor names its repository)."""
    (base, *_) = messages.build(incident.opening, incident.opened_at, repository, dashboard_url)
    if incident.platform:  # SPEC §15: so that nobody rolls back a good deploy
        line = f"🌩️ Heroku reports an incident: {escape(incident.platform)}"
        blocks = [*base.blocks, section_block(line)]
        base = replace(base, text=f"{base.text}\n{line}", blocks=blocks)
    suspect = incident.suspect
    if suspect is None:
        return base
    line = (
        f"🕵️ Suspect deploy: v{suspect.version} by {escape(suspect.user or 'unknown')}, "
        f"{suspect.minutes_before} min before."
    )
    if suspect.rollback_command:
        line += f" To undo it: `{suspect.rollback_command}`"
    changes = messages.compare_line(suspect.previous_commit, suspect.commit, repository)
    if changes:  # SPEC §14: the suspect deploy carries the deploy alert's compare link
        line += f"\n{changes}"
    return replace(base, text=f"{base.text}\n{line}", blocks=[*base.blocks, section_block(line)])


ACKNOWLEDGE, SNOOZE = "incident_acknowledge", "incident_snooze"  # the buttons' action IDs


def _buttons(incident: Incident) -> list[dict[str, Any]]:
    """Acknowledge and Snooze 1 h, while the incident is open (Acknowledge until someone
    has). Their value names the incident; Slack signs what comes back."""
    if not incident.is_open:
        return []
    value = incident.id
    buttons = [ButtonElement(text="😴 Snooze 1 h", action_id=SNOOZE, value=value)]
    if not incident.acknowledged_by:
        acknowledge = ButtonElement(
            text="👀 Acknowledge", action_id=ACKNOWLEDGE, value=value, style="primary"
        )
        buttons.insert(0, acknowledge)
    return [ActionsBlock(block_id="incident", elements=buttons).to_dict()]


def who(by: str) -> str:
    """A person as Slack shows them: a user mention as given, anything else escaped."""
    return by if USER_MENTION.fullmatch(by) else escape(by)


def _state_line(incident: Incident) -> str:
    parts = []
    if incident.crashes > 1:
        parts.append(f"🔁 {incident.crashes} crashes so far")
    if incident.family == incidents.DYNOS and incident.is_open and incident.down:
        # Each dyno it named, while some are still down: a partial recovery shows.
        parts.extend(
            f"{escape(n)} {'down' if n in incident.down else 'up'}" for n in incident.dynos
        )
    if incident.acknowledged_by:
        when = incident.acknowledged_at
        at = f" at {when:%H:%M UTC}" if when is not None else ""
        parts.append(f"👀 acknowledged by {who(incident.acknowledged_by)}{at}")
    if incident.snoozed_until is not None:
        parts.append(
            f"😴 snoozed by {who(incident.snoozed_by)} until {incident.snoozed_until:%H:%M UTC}"
        )
    if incident.recovering_since is not None and incident.is_open:
        parts.append("🩹 every dyno is up again")
    if incident.minutes is not None:
        parts.append(f"✅ Resolved after {incident.minutes} min")
    return " · ".join(parts) or "Open"


def _names(dynos: tuple[str, ...]) -> str:
    """ "web.1", "web.1 and web.2", "web.1, web.2 and worker.1"."""
    named = [escape(n) for n in dynos]
    return " and ".join(named) if len(named) < 3 else f"{', '.join(named[:-1])} and {named[-1]}"


def _plain(action: Action, text: str, kind: str, parent: str | None = None) -> Message:
    return Message(
        action.app,
        action.what,
        text,
        [section_block(text)],
        tuple(e.key for e in action.events),
        action=kind,
        parent_key=parent,
        broadcast=action.broadcast,
        explicit_key=action.key,
    )


def _title(kind: str) -> str:
    try:
        return messages.header(kind)[1]
    except KeyError:
        return kind
