"""What the timeline's things look like and are called: its palette, each incident family's
colour and legend name, each alert kind's lane and shape, and an incident's tooltip. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from heroku_monitor.core import detect
from heroku_monitor.core import incidents as inc
from heroku_monitor.core.incidents import Incident
from heroku_monitor.core.logs.rules import LOG_PREFIX, is_log_kind
from heroku_monitor.render.timescale import TimeScale, duration, utc, when

# The Western palette of style.css.
SADDLE, LEATHER, WHEAT = "#593b32", "#4a312a", "#fff7d4"
TAN, SAND, HAY, PANEL = "#d2b48c", "#f3e3b5", "#e9d29a", "#fffbe8"
CACTUS, RUST, AMBER = "#3f6b2a", "#8b2e16", "#b8860b"
DUST, COPPER = "#7d6b5d", "#c0632b"

# The lanes, top to bottom.
INCIDENTS, ALERTS, CHANGES = "incidents", "alerts", "changes"

# Incident families: (legend name, colour), in legend order.
_FAMILIES = {
    inc.DYNOS: ("Dynos", RUST),
    inc.RELEASE: ("Release", AMBER),
    inc.MONITORING: ("Monitoring", DUST),
    LOG_PREFIX: ("Log errors", COPPER),
}


@dataclass(frozen=True)
class Look:
    """How a marker kind is drawn: its lane, shape, colour, legend name, and whether a
    faint line marks it across all lanes (a deploy is worth lining up with incidents)."""

    lane: str
    shape: str  # circle, dot, ring, square, diamond, up, down
    colour: str
    name: str
    line: bool = False


_LOOKS = {
    detect.DYNO_CRASHED: Look(ALERTS, "circle", RUST, "Crash"),
    detect.DYNOS_DOWN: Look(ALERTS, "square", RUST, "Dynos down"),
    detect.RELEASE_FAILED: Look(ALERTS, "diamond", AMBER, "Failed release"),
    detect.MONITORING_TROUBLE: Look(ALERTS, "diamond", DUST, "Monitoring"),
    LOG_PREFIX: Look(ALERTS, "diamond", COPPER, "Log error"),
    inc.ESCALATION: Look(ALERTS, "ring", RUST, "Crash loop"),
    inc.FOLLOW_UP: Look(ALERTS, "dot", RUST, "Follow-up"),
    detect.DYNOS_RECOVERED: Look(ALERTS, "circle", CACTUS, "Recovered"),
    detect.MONITORING_RECOVERED: Look(ALERTS, "circle", CACTUS, "Recovered"),
    detect.DEPLOY: Look(CHANGES, "up", CACTUS, "Deploy", line=True),
    detect.ROLLBACK: Look(CHANGES, "down", RUST, "Rollback", line=True),
    detect.CONFIG_CHANGED: Look(CHANGES, "square", SADDLE, "Config"),
    detect.ADDON_ADDED: Look(CHANGES, "square", TAN, "Add-on"),
    detect.ADDON_REMOVED: Look(CHANGES, "square", TAN, "Add-on"),
    detect.ADDON_CHANGED: Look(CHANGES, "square", TAN, "Add-on"),
    detect.MAINTENANCE: Look(CHANGES, "diamond", AMBER, "Maintenance"),
}
_OTHER = Look(CHANGES, "dot", DUST, "Other")
# Alert-log kinds the incident bars already tell (edits of the opening message, the reply
# that it ended, the acknowledgement): not drawn again as marks.
SKIPPED_KINDS = frozenset({inc.STATE, inc.RESOLVED, inc.ACKNOWLEDGED})


def look(kind: str) -> Look:
    """How an alert of `kind` is drawn (any `log_…` kind like the others)."""
    if is_log_kind(kind):
        return _LOOKS[LOG_PREFIX]
    return _LOOKS.get(kind, _OTHER)


def _family_key(family: str) -> str:
    return LOG_PREFIX if is_log_kind(family) else family


def colour(family: str) -> str:
    """The colour of an incident family's bars."""
    return _FAMILIES.get(_family_key(family), ("", TAN))[1]


def legend(families: Iterable[str], kinds: Iterable[str]) -> list[tuple[str, str, Look | None]]:
    """(name, colour, look) of each incident family and alert kind drawn, in a fixed order;
    a family has no look (its swatch is a small bar)."""
    keys = {_family_key(f) for f in families}
    items: list[tuple[str, str, Look | None]] = []
    for key, (name, shade) in _FAMILIES.items():
        if key in keys:
            items.append((name, shade, None))
    for family in sorted(keys - _FAMILIES.keys()):
        items.append((family.replace("_", " ").capitalize(), TAN, None))
    looks = {look(k) for k in kinds}
    seen = set()
    for each in [*_LOOKS.values(), _OTHER]:
        if each in looks and each.name not in seen:
            seen.add(each.name)
            items.append((each.name, each.colour, each))
    return items


def incident_title(i: Incident, scale: TimeScale) -> str:
    """ "Crash loop: 5 crashes, 14 min, acknowledged by ann (Mon 1 14:05 UTC)"."""
    if i.family == inc.DYNOS:
        if i.escalated or i.crashes >= inc.CRASH_LOOP:
            what = "Crash loop"
        else:
            what = "Dyno crash" if i.crashes else "Dynos down"
    elif i.family == inc.RELEASE:
        what = "Failed release"
    elif i.family == inc.MONITORING:
        what = "Monitoring trouble"
    elif is_log_kind(i.family):
        what = "Log errors: " + (i.family[len(LOG_PREFIX) :].replace("_", " ") or "?")
    else:
        what = i.family.replace("_", " ").capitalize()
    parts = []
    if i.crashes:
        parts.append(f"{i.crashes} crash" + ("" if i.crashes == 1 else "es"))
    elif i.family == inc.DYNOS and i.dynos:
        parts.append(", ".join(i.dynos) + " down")
    elif i.count > 1:
        parts.append(f"{i.count} alerts")
    if i.resolved_at is None:
        parts.append(f"open for {duration(scale.end - utc(i.opened_at))}")
    else:
        parts.append(duration(utc(i.resolved_at) - utc(i.opened_at)))
    if i.acknowledged_by:
        parts.append(f"acknowledged by {i.acknowledged_by}")
    if i.suspect is not None:
        parts.append(f"after deploy v{i.suspect.version} by {i.suspect.user or 'unknown'}")
    return f"{what}: {', '.join(parts)} ({when(i.opened_at, scale)})"
