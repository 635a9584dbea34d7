"""Incidents: one conversation per problem (SPEC section 11). Pure: no I/O, no clock.

`model` holds the values (`Incident`, `Snooze`, `Action`, `Outcome`) and their vocabulary,
`machine` the state machine (`apply`, `tick`, `acknowledge`, `snooze`, `end_snooze`), `run`
the work of one of its calls. The package exposes their public names: `incidents.apply`,
`incidents.OPENED`, `incidents.Incident`.
"""

from heroku_monitor.core.incidents.machine import (
    acknowledge,
    apply,
    end_snooze,
    family_of,
    snooze,
    tick,
)
from heroku_monitor.core.incidents.model import (
    ACKNOWLEDGED,
    ALERT,
    BACK_UP,
    DYNOS,
    ESCALATION,
    FOLLOW_UP,
    MONITORING,
    MUTED,
    OPENED,
    POST,
    RELEASE,
    REPLY,
    RESOLVED,
    SNOOZE_ENDED,
    STATE,
    UPDATE,
    Action,
    Incident,
    Outcome,
    Snooze,
    opening_key,
)
from heroku_monitor.core.incidents.run import CRASH_LOOP, CRASH_WINDOW

__all__ = [
    "ACKNOWLEDGED",
    "ALERT",
    "BACK_UP",
    "CRASH_LOOP",
    "CRASH_WINDOW",
    "DYNOS",
    "ESCALATION",
    "FOLLOW_UP",
    "MONITORING",
    "MUTED",
    "OPENED",
    "POST",
    "RELEASE",
    "REPLY",
    "RESOLVED",
    "SNOOZE_ENDED",
    "STATE",
    "UPDATE",
    "Action",
    "Incident",
    "Outcome",
    "Snooze",
    "acknowledge",
    "apply",
    "end_snooze",
    "family_of",
    "opening_key",
    "snooze",
    "tick",
]
