"""Heroku's own incidents (SPEC section 15), from its status API
(`GET https://status.heroku.com/api/v4/current-status`, as `heroku status` reads it:
`status` [{system, status}], `incidents` [{id, title, created_at, updated_at, full_url,
resolved?, updates [{id, update_type, contents, created_at, updated_at}]}], `scheduled`).
Pure: no I/O, no clock.

`decide(tracked, read, now, channels)` says what to post about one successful read: an
incident not seen before is posted once, to the channels given (kept with it, so that
everything later about it goes to the same threads); each update not seen before is a reply
in its thread; its resolution (an update of type `resolved`, `resolved: true`, or the
incident gone from the current status) edits the first message and is a reply broadcast to
the channel. An incident first seen already resolved is old news: nothing is posted. A read
that failed decides nothing: the shell never calls `decide` then, so no read error ever
opens or ends an incident. Scheduled maintenance is not an incident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from heroku_monitor.core.outbound import POST, REPLY, UPDATE

READ_EVERY = timedelta(minutes=5)  # SPEC §15: the leader reads the status every 5 minutes
# An open incident names app incidents only while reads keep confirming it: a status API
# that stopped answering is not a platform incident that goes on for days.
FRESH_FOR = timedelta(minutes=30)
GREEN = "green"
RESOLVED_TYPE = "resolved"

# What an action says.
OPENED = "platform_opened"
UPDATED = "platform_update"
RESOLVED = "platform_resolved"
STATE = "platform_state"  # the first message, edited to say it ended


@dataclass(frozen=True)
class SystemStatus:
    system: str  # "Apps", "Data", "Tools"
    status: str  # "green", "yellow", "red"


@dataclass(frozen=True)
class StatusUpdate:
    id: str
    update_type: str  # "issue", "update", "monitoring", "resolved", …
    contents: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class PlatformIncident:
    id: str
    title: str
    url: str = ""
    created_at: datetime | None = None
    resolved: bool = False
    updates: tuple[StatusUpdate, ...] = ()

    @property
    def has_ended(self) -> bool:
        return self.resolved or any(u.update_type == RESOLVED_TYPE for u in self.updates)


@dataclass(frozen=True)
class StatusRead:
    """One successful read of the status API."""

    systems: tuple[SystemStatus, ...] = ()
    incidents: tuple[PlatformIncident, ...] = ()


@dataclass(frozen=True)
class Tracked:
    """A platform incident as the database keeps it."""

    id: str
    title: str
    url: str
    systems: tuple[SystemStatus, ...]  # the systems not green when it was first seen
    opened_at: datetime  # its `created_at`, else when it was first seen
    first_seen: datetime
    last_seen: datetime
    channels: tuple[str, ...]  # where its first message went
    updates: tuple[str, ...] = ()  # ids of the updates seen (replied to, or older)
    resolved_at: datetime | None = None
    revision: int = 0  # edits of the first message (the update key)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def minutes(self) -> int | None:
        if self.resolved_at is None:
            return None
        return max(1, math.ceil((self.resolved_at - self.opened_at).total_seconds() / 60))


@dataclass(frozen=True)
class PlatformAction:
    """One thing to send: `kind` POST, REPLY (`broadcast`: to the channel too) or UPDATE of
    the incident's first message; `key` stable for the same inputs (one per incident and
    thing said), so each is recorded once."""

    kind: str
    what: str
    key: str
    incident: Tracked
    update: StatusUpdate | None = None
    broadcast: bool = False


@dataclass(frozen=True)
class Outcome:
    tracked: tuple[Tracked, ...]  # every incident given, changed, then the new ones
    actions: tuple[PlatformAction, ...]


def opening_key(incident_id: str) -> str:
    """The one formula for the key of a platform incident's first message."""
    return f"platform:{incident_id}:open"


def affected(systems: Sequence[SystemStatus]) -> tuple[SystemStatus, ...]:
    """The systems that are not green."""
    return tuple(s for s in systems if s.status != GREEN)


def decide(
    tracked: Sequence[Tracked], read: StatusRead, now: datetime, channels: Sequence[str]
) -> Outcome:
    """What a successful read at `now` changes: see the module's docstring. `tracked`: the
    incidents kept (open ones, at least); `channels`: where a new incident goes."""
    kept = {t.id: t for t in tracked}
    actions: list[PlatformAction] = []
    seen_ids = set()
    for incident in read.incidents:
        seen_ids.add(incident.id)
        known = kept.get(incident.id)
        if known is None:
            if incident.has_ended:
                continue  # first seen resolved: old news
            new = Tracked(
                id=incident.id,
                title=incident.title,
                url=incident.url,
                systems=affected(read.systems),
                opened_at=incident.created_at or now,
                first_seen=now,
                last_seen=now,
                channels=tuple(dict.fromkeys(channels)),
                updates=tuple(u.id for u in incident.updates),
            )
            kept[new.id] = new
            actions.append(PlatformAction(POST, OPENED, opening_key(new.id), new))
            continue
        if not known.is_open:
            continue
        fresh = [u for u in _oldest_first(incident.updates) if u.id not in known.updates]
        current = replace(
            known,
            last_seen=now,
            title=incident.title or known.title,
            updates=(*known.updates, *(u.id for u in fresh)),
        )
        ending = next((u for u in fresh if u.update_type == RESOLVED_TYPE), None)
        for update in fresh:
            if update is ending:
                continue
            key = f"platform:{known.id}:update:{update.id}"
            actions.append(PlatformAction(REPLY, UPDATED, key, current, update))
        if incident.has_ended:
            current = _resolve(current, now, ending, actions)
        kept[current.id] = current
    for known in list(kept.values()):
        if known.is_open and known.id not in seen_ids:
            # Gone from the current status: Heroku ended it.
            kept[known.id] = _resolve(replace(known, last_seen=now), now, None, actions)
    return Outcome(tuple(kept.values()), tuple(actions))


def _oldest_first(updates: Sequence[StatusUpdate]) -> list[StatusUpdate]:
    far = datetime.max.replace(tzinfo=None)
    return sorted(
        updates, key=lambda u: (u.created_at.replace(tzinfo=None) if u.created_at else far, u.id)
    )


def _resolve(
    incident: Tracked,
    now: datetime,
    update: StatusUpdate | None,
    actions: list[PlatformAction],
) -> Tracked:
    ended_at = update.created_at if update is not None and update.created_at else now
    ended = replace(incident, resolved_at=max(ended_at, incident.opened_at))
    ended = replace(ended, revision=ended.revision + 1)
    actions.append(
        PlatformAction(UPDATE, STATE, f"platform:{ended.id}:edit:{ended.revision}", ended, update)
    )
    actions.append(
        PlatformAction(
            REPLY, RESOLVED, f"platform:{ended.id}:resolved", ended, update, broadcast=True
        )
    )
    return ended


def open_title(tracked: Sequence[Tracked], now: datetime) -> str:
    """The title of the newest platform incident open at `now` and confirmed by a read
    within `FRESH_FOR` ("" when none): what an app incident opened now names."""
    live = [t for t in tracked if t.is_open and now - t.last_seen <= FRESH_FOR]
    if not live:
        return ""
    return max(live, key=lambda t: t.first_seen).title
