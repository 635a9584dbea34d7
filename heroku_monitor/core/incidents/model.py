"""What incidents are made of: their families, the actions they call for, and the values
the state machine (`incidents.machine`) takes and returns: `Incident`, `Snooze`, `Action`,
`Outcome`. Plain, immutable values; the store keeps them as JSON (`store/incidents.py`).

Families. An incident is one (app, family): `dynos` (a crash or dynos down: a dyno that
crashes, then goes down, is one problem, and one opening message; SPEC's "nothing else about
an open incident is posted at the top level"), `release` (a failed release), `monitoring`
(the Heroku API failing), and each log-alert kind (`log_…`) on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from heroku_monitor.core.detect import Event
from heroku_monitor.core.outbound import POST as POST
from heroku_monitor.core.outbound import REPLY as REPLY
from heroku_monitor.core.outbound import UPDATE as UPDATE
from heroku_monitor.core.releases import SuspectDeploy

DYNOS = "dynos"
RELEASE = "release"
MONITORING = "monitoring"

# Action kinds.
# What an action asks of Slack (one definition, core/outbound): POST a top-level message,
# REPLY in the incident's thread (`broadcast`: also shown in the channel), or UPDATE (edit)
# the incident's opening message.
MUTED = "muted"  # what would have been posted while the app was snoozed: recorded, not sent

# What an action says.
ALERT = "alert"  # an event that is no incident's business (deploy, config, add-ons, …)
OPENED = "opened"


def opening_key(incident_id: str) -> str:
    """The one formula for the outbox key of an incident's opening message."""
    return f"{incident_id}:open"


FOLLOW_UP = "follow_up"
ESCALATION = "escalation"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
BACK_UP = "back_up"  # some of a dyno incident's dynos are up again, others still down
STATE = "state"  # the opening message with the incident's current state
SNOOZE_ENDED = "snooze_ended"


@dataclass(frozen=True)
class Incident:
    """One problem of one app, from its opening alert to its end (`resolved_at`)."""

    id: str
    app: str
    family: str
    opened_at: datetime
    last_seen: datetime  # the latest event that opened or fed it
    opening: tuple[Event, ...]  # the events of the opening message (section 4's alert)
    count: int = 1  # events that opened or fed it (crashes, downs, failures, log alerts)
    crashes: int = 0  # of which dyno crashes
    recent_crashes: tuple[datetime, ...] = ()  # crash times within CRASH_WINDOW
    dynos: tuple[str, ...] = ()  # every dyno it named
    down: tuple[str, ...] = ()  # those not up again
    recovering_since: datetime | None = None  # when every dyno it named was up again
    escalated: bool = False
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    snoozed_until: datetime | None = None
    snoozed_by: str = ""
    suspect: SuspectDeploy | None = None
    muted: bool = False  # opened while its app was snoozed: nothing posted about it yet
    resolved_at: datetime | None = None
    revision: int = 0  # how many times the opening message was edited (the update key)
    platform: str = ""  # the Heroku platform incident open when it opened (SPEC §15)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def minutes(self) -> int | None:
        """Whole minutes from opening to end, at least 1 ("Resolved after N min"); None
        while open."""
        if self.resolved_at is None:
            return None
        seconds = (self.resolved_at - self.opened_at).total_seconds()
        return max(1, math.ceil(seconds / 60))


@dataclass(frozen=True)
class Snooze:
    """An app's snooze: no top-level post from `since` to `until`; `muted` holds the kind of
    each top-level message held back meanwhile (for the line when it ends)."""

    app: str
    since: datetime
    until: datetime
    by: str = ""
    muted: tuple[str, ...] = ()

    def active(self, now: datetime) -> bool:
        return self.since <= now < self.until

    def tally(self) -> tuple[tuple[str, int], ...]:
        """(kind, how many) of what was muted, in order of first muting."""
        counts: dict[str, int] = {}
        for kind in self.muted:
            counts[kind] = counts.get(kind, 0) + 1
        return tuple(counts.items())


@dataclass(frozen=True)
class Action:
    """One thing to send (or, `MUTED`, to record): `key` is stable for the same inputs and
    unique per monitor, so the outbox records it once across restarts and processes."""

    kind: str  # POST, REPLY, UPDATE or MUTED
    what: str  # ALERT, OPENED, FOLLOW_UP, ESCALATION, ACKNOWLEDGED, RESOLVED, STATE, …
    key: str
    app: str
    at: datetime
    incident_id: str = ""
    events: tuple[Event, ...] = ()  # what it reports (the opening events for OPENED/STATE)
    incident: Incident | None = None  # the incident as this action leaves it
    broadcast: bool = False  # REPLY: also show it in the channel (`reply_broadcast`)
    mention: str = ""  # ESCALATION: the monitor's setting, see `mention_markup`
    snooze: Snooze | None = None  # SNOOZE_ENDED: the snooze and what it muted
    dynos: tuple[str, ...] = ()  # BACK_UP: the dynos that came back (`incident.down`: not yet)


@dataclass(frozen=True)
class Outcome:
    """What a call decided. `incidents`: every incident given, updated, then the new ones
    (closed ones included: save them all). `snoozes`: the snoozes to keep (one given and not
    returned has ended). `actions`: in the order to send them."""

    incidents: tuple[Incident, ...]
    actions: tuple[Action, ...]
    snoozes: tuple[Snooze, ...] = ()
