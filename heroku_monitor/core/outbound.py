"""What leaves for Slack, as plain values: a message, what it asks of Slack, and the receipt.

Defined once here so that the renderer that makes messages, the outbox that keeps them and
the notifier that sends them share one meaning without importing one another."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

POST, REPLY, UPDATE = "post", "reply", "update"  # what an outbox row asks of Slack

Blocks = list[dict[str, Any]]


@dataclass(frozen=True)
class Message:
    """One Slack message: `text` is the notification fallback, `blocks` the rich form.

    `action` says what to do with it: POST it to the channel, REPLY in the thread of the
    message whose key is `parent_key` (`broadcast`: to the channel too), or UPDATE (edit)
    that message. `explicit_key` names a message no event set names (an edit, say)."""

    app: str
    kind: str
    text: str
    blocks: Blocks
    event_keys: tuple[str, ...]
    action: str = POST
    parent_key: str | None = None
    broadcast: bool = False
    explicit_key: str | None = None
    muted: bool = False  # its app is snoozed: kept in the alert log, never sent

    @property
    def key(self) -> str:
        """Stable identity of the message, from the events it carries."""
        if self.explicit_key is not None:
            return self.explicit_key
        return alert_key(self.app, self.kind, self.event_keys)


def alert_key(app: str, kind: str, event_keys: tuple[str, ...]) -> str:
    """The one formula for an alert's key: its app, its kind and the events it carries."""
    joined = "\n".join(sorted(event_keys))
    return f"{app}:{kind}:{hashlib.sha256(joined.encode()).hexdigest()[:24]}"


@dataclass(frozen=True)
class Receipt:
    """A delivered message: its `ts` and its channel's ID as Slack answered (both empty when
    only logged), and whether it only went to the log (no Slack token in demo mode)."""

    ts: str
    channel_id: str = ""
    logged: bool = False
