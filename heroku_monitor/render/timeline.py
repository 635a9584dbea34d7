"""An app's last days as a picture: incidents as bars, alerts and changes as marks (SPEC
section 11, the dashboard's timeline). Pure: no I/O, no clock.

`timeline_svg` draws one app's window as inline SVG, on the server: no JavaScript, no
stylesheet of its own. The dashboard's CSP (`style-src 'self'`) blocks inline styles, so
everything is drawn with presentation attributes (`fill=`, `stroke=`, `font-size=`), never
a `style` attribute or element. Every text (app names, labels, who acknowledged) is XML
escaped, and characters XML cannot carry are dropped, so the result always parses.

The picture scales with its container (`width="100%"` and a `viewBox`); its units are
sized so that at a phone's 390 px the text is about 11 px. Three lanes, top to bottom:
incidents (bars from opening to end, or to now while open, coloured by family), alerts
(crashes, downs, log errors, …) and changes (deploys, rollbacks, config changes, …).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

from heroku_monitor.core import detect
from heroku_monitor.core import incidents as inc
from heroku_monitor.core.incidents import Incident
from heroku_monitor.render.mrkdwn import unescape

# The picture's coordinates (viewBox units: about one CSS pixel on a 390 px wide phone).
WIDTH = 400.0
LEFT = 62.0  # the lanes' names sit left of this
RIGHT = 392.0
FONT_SIZE = 11
FONT = "Georgia, Palatino, 'Palatino Linotype', 'Book Antiqua', serif"
LABEL_LIMIT = 160  # a marker's tooltip keeps this many characters of its label

# The Western palette of style.css.
SADDLE, LEATHER, WHEAT = "#593b32", "#4a312a", "#fff7d4"
TAN, SAND, HAY, PANEL = "#d2b48c", "#f3e3b5", "#e9d29a", "#fffbe8"
CACTUS, RUST, AMBER = "#3f6b2a", "#8b2e16", "#b8860b"
DUST, COPPER = "#7d6b5d", "#c0632b"

# Lanes: (key, name, top, height).
INCIDENTS, ALERTS, CHANGES = "incidents", "alerts", "changes"
_LANES = (
    (INCIDENTS, "Incidents", 6.0, 24.0),
    (ALERTS, "Alerts", 34.0, 18.0),
    (CHANGES, "Changes", 56.0, 18.0),
)
_LANE = {key: (top, height) for key, _, top, height in _LANES}
AXIS_Y = 78.0
_DAY_LABEL_Y = 94.0
_LEGEND_Y = 104.0
_LEGEND_ROW = 16.0
_LEGEND_COLUMNS = 3
MAX_TRACKS = 3  # overlapping incidents share the lane in at most this many tracks
MIN_BAR = 1.5  # a bar this narrow still shows (one unit is about half an hour of 7 days)

# Incident families: (legend name, colour), in legend order.
_FAMILIES = {
    inc.DYNOS: ("Dynos", RUST),
    inc.RELEASE: ("Release", AMBER),
    inc.MONITORING: ("Monitoring", DUST),
    inc.LOG_PREFIX: ("Log errors", COPPER),
}


@dataclass(frozen=True)
class _Look:
    """How a marker kind is drawn: its lane, shape, colour, legend name, and whether a
    faint line marks it across all lanes (a deploy is worth lining up with incidents)."""

    lane: str
    shape: str  # circle, dot, ring, square, diamond, up, down
    colour: str
    name: str
    line: bool = False


_LOOKS = {
    detect.DYNO_CRASHED: _Look(ALERTS, "circle", RUST, "Crash"),
    detect.DYNOS_DOWN: _Look(ALERTS, "square", RUST, "Dynos down"),
    detect.RELEASE_FAILED: _Look(ALERTS, "diamond", AMBER, "Failed release"),
    detect.MONITORING_TROUBLE: _Look(ALERTS, "diamond", DUST, "Monitoring"),
    inc.LOG_PREFIX: _Look(ALERTS, "diamond", COPPER, "Log error"),
    inc.ESCALATION: _Look(ALERTS, "ring", RUST, "Crash loop"),
    inc.FOLLOW_UP: _Look(ALERTS, "dot", RUST, "Follow-up"),
    detect.DYNOS_RECOVERED: _Look(ALERTS, "circle", CACTUS, "Recovered"),
    detect.MONITORING_RECOVERED: _Look(ALERTS, "circle", CACTUS, "Recovered"),
    detect.DEPLOY: _Look(CHANGES, "up", CACTUS, "Deploy", line=True),
    detect.ROLLBACK: _Look(CHANGES, "down", RUST, "Rollback", line=True),
    detect.CONFIG_CHANGED: _Look(CHANGES, "square", SADDLE, "Config"),
    detect.ADDON_ADDED: _Look(CHANGES, "square", TAN, "Add-on"),
    detect.ADDON_REMOVED: _Look(CHANGES, "square", TAN, "Add-on"),
    detect.ADDON_CHANGED: _Look(CHANGES, "square", TAN, "Add-on"),
    detect.MAINTENANCE: _Look(CHANGES, "diamond", AMBER, "Maintenance"),
}
_OTHER = _Look(CHANGES, "dot", DUST, "Other")
# Alert-log kinds the incident bars already tell (edits of the opening message, the reply
# that it ended, the acknowledgement): not drawn again as marks.
SKIPPED_KINDS = frozenset({inc.STATE, inc.RESOLVED, inc.ACKNOWLEDGED})

# Characters XML 1.0 cannot carry, even escaped (C0 controls but tab/LF/CR, surrogates, …).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SLACK_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>")
_SLACK_STYLE = re.compile(r"(?<!\w)[*_~](?=\S)|(?<=\S)[*_~](?!\w)")


@dataclass(frozen=True)
class Marker:
    """One mark on the timeline: an alert of `kind` (an event kind of `detect`, a `log_…`
    kind, or an incident reply's kind) at `at`; `label` is its tooltip, plain text."""

    at: datetime
    kind: str
    label: str

    @classmethod
    def from_alert(cls, alert: _AlertRow) -> Marker:
        """The mark of an alert-log row: its kind, and its Slack text as one plain line."""
        return cls(alert.created_at, alert.kind, plain_label(alert.text))


class _AlertRow(Protocol):
    """What `Marker.from_alert` reads of a `db.Alert` row."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...


def plain_label(text: str) -> str:
    """Slack mrkdwn as one plain line: links by their label, no `*bold*` marks, lines
    joined with " · ", Slack's escapes undone (the SVG escapes it again)."""
    lines = []
    for raw in text.splitlines():
        line = _SLACK_LINK.sub(lambda m: m.group(2), raw)
        line = " ".join(_SLACK_STYLE.sub("", line).split())
        if line:
            lines.append(unescape(line))
    return " · ".join(lines)


@dataclass(frozen=True)
class TimeScale:
    """Times from `start` to `end` onto x from `left` to `right`, clamped to that span.
    Days are told in `zone` (the time zone of the `now` given; naive times are UTC)."""

    start: datetime
    end: datetime
    zone: tzinfo = UTC
    left: float = LEFT
    right: float = RIGHT

    @classmethod
    def window(cls, now: datetime, days: int = 7) -> TimeScale:
        """The `days` ending at `now`."""
        if days < 1:
            raise ValueError(f"days must be at least 1, not {days}")
        end = _utc(now)
        zone = now.tzinfo if now.tzinfo is not None else UTC
        return cls(end - timedelta(days=days), end, zone)

    def contains(self, at: datetime) -> bool:
        return self.start <= _utc(at) <= self.end

    def x(self, at: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        share = (_utc(at) - self.start).total_seconds() / span
        return self.left + min(1.0, max(0.0, share)) * (self.right - self.left)


def timeline_svg(
    app: str,
    incidents: Sequence[Incident],
    alerts: Sequence[Marker],
    now: datetime,
    *,
    days: int = 7,
) -> Markup:
    """`app`'s last `days` ending at `now` as an inline SVG element: its incidents as bars,
    `alerts` as marks; whatever lies outside the window is left out (a bar that crosses its
    edge is cut there). Safe to put in a template as it is."""
    scale = TimeScale.window(now, days)
    bars = [b for b in (_bar(i, scale) for i in incidents) if b is not None]
    marks = sorted(
        (m for m in alerts if m.kind not in SKIPPED_KINDS and scale.contains(m.at)),
        key=lambda m: _utc(m.at),
    )
    legend = _legend(bars, marks)
    rows = math.ceil(len(legend) / _LEGEND_COLUMNS)
    height = _LEGEND_Y + rows * _LEGEND_ROW + 2 if rows else _LEGEND_Y - 2
    span = f"{days} day" if days == 1 else f"{days} days"

    out = [
        "<svg"
        + _attrs(
            xmlns="http://www.w3.org/2000/svg",
            viewBox=f"0 0 {_n(WIDTH)} {_n(height)}",
            width="100%",
            preserveAspectRatio="xMidYMin meet",
            role="img",
            class_="timeline",
            font_family=FONT,
            font_size=FONT_SIZE,
            fill=LEATHER,
            aria_label=f"{app}: the last {span}",
        )
        + ">",
        _el("title", {}, f"{app}: the last {span}"),
        *_lanes(),
        *_days(scale),
    ]
    out += [_mark_line(m, scale) for m in marks if _look(m.kind).line]
    out += _draw_bars(bars, scale)
    out += [_mark(m, scale) for m in marks]
    if not bars and not marks:
        out.append(
            _el(
                "text",
                {
                    "x": (LEFT + RIGHT) / 2,
                    "y": _LANE[ALERTS][0] + _LANE[ALERTS][1] / 2 + 4,
                    "text-anchor": "middle",
                    "font-style": "italic",
                    "fill": SADDLE,
                    "class": "timeline-quiet",
                },
                f"Quiet on the range: nothing in {span}",
            )
        )
    out += _draw_legend(legend)
    out.append("</svg>")
    return Markup("".join(out))


# -- bars ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bar:
    incident: Incident
    start: datetime  # within the window
    end: datetime
    open: bool


def _bar(incident: Incident, scale: TimeScale) -> _Bar | None:
    opened = _utc(incident.opened_at)
    ended = scale.end if incident.resolved_at is None else _utc(incident.resolved_at)
    if ended < scale.start or opened > scale.end:
        return None
    start, end = max(opened, scale.start), min(ended, scale.end)
    return _Bar(incident, start, max(start, end), incident.resolved_at is None)


def _family_key(family: str) -> str:
    return inc.LOG_PREFIX if inc.is_log_kind(family) else family


def _colour(family: str) -> str:
    return _FAMILIES.get(_family_key(family), ("", TAN))[1]


def _draw_bars(bars: Sequence[_Bar], scale: TimeScale) -> list[str]:
    """The bars, overlapping ones in tracks of their own (at most MAX_TRACKS)."""
    ordered = sorted(bars, key=lambda b: (b.start, b.incident.id))
    track_ends: list[float] = []
    placed: list[tuple[_Bar, int]] = []
    for bar in ordered:
        x0 = scale.x(bar.start)
        x1 = max(scale.x(bar.end), x0 + MIN_BAR)
        free = [t for t, end in enumerate(track_ends) if end <= x0]
        if free:
            track = free[0]
        elif len(track_ends) < MAX_TRACKS:
            track = len(track_ends)
            track_ends.append(x1)
        else:
            track = min(range(len(track_ends)), key=lambda t: track_ends[t])
        track_ends[track] = max(track_ends[track], x1)
        placed.append((bar, track))
    top, height = _LANE[INCIDENTS]
    tracks = max(1, len(track_ends))
    each = (height - 4) / tracks
    out = []
    for bar, track in placed:
        x0 = scale.x(bar.start)
        width = max(scale.x(bar.end) - x0, MIN_BAR)
        rect = {
            "x": x0,
            "y": top + 2 + track * each + 0.5,
            "width": width,
            "height": each - 1,
            "rx": 1.5,
            "fill": _colour(bar.incident.family),
            "stroke": LEATHER,
            "stroke-width": 0.6,
        }
        if bar.open:
            rect["stroke-dasharray"] = "2 1.5"
        out.append(
            _group(
                {
                    "class": "timeline-incident" + (" timeline-open" if bar.open else ""),
                    "data-incident": bar.incident.id,
                    "data-family": bar.incident.family,
                },
                _incident_title(bar, scale),
                _el("rect", rect),
            )
        )
    return out


def _incident_title(bar: _Bar, scale: TimeScale) -> str:
    """ "Crash loop: 5 crashes, 14 min, acknowledged by ann (Mon 1 14:05 UTC)"."""
    i = bar.incident
    if i.family == inc.DYNOS:
        if i.escalated or i.crashes >= inc.CRASH_LOOP:
            what = "Crash loop"
        else:
            what = "Dyno crash" if i.crashes else "Dynos down"
    elif i.family == inc.RELEASE:
        what = "Failed release"
    elif i.family == inc.MONITORING:
        what = "Monitoring trouble"
    elif inc.is_log_kind(i.family):
        what = "Log errors: " + (i.family[len(inc.LOG_PREFIX) :].replace("_", " ") or "?")
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
        parts.append(f"open for {_duration(scale.end - _utc(i.opened_at))}")
    else:
        parts.append(_duration(_utc(i.resolved_at) - _utc(i.opened_at)))
    if i.acknowledged_by:
        parts.append(f"acknowledged by {i.acknowledged_by}")
    if i.suspect is not None:
        parts.append(f"after deploy v{i.suspect.version} by {i.suspect.user or 'unknown'}")
    return f"{what}: {', '.join(parts)} ({_when(i.opened_at, scale)})"


def _duration(span: timedelta) -> str:
    """Whole minutes, at least 1: "14 min", "2 h 5 min", "3 d 4 h"."""
    minutes = max(1, math.ceil(span.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


# -- marks ---------------------------------------------------------------------------------


def _look(kind: str) -> _Look:
    if inc.is_log_kind(kind):
        return _LOOKS[inc.LOG_PREFIX]
    return _LOOKS.get(kind, _OTHER)


def _mark_line(marker: Marker, scale: TimeScale) -> str:
    x = scale.x(marker.at)
    return _el(
        "line",
        {
            "x1": x,
            "y1": _LANE[INCIDENTS][0],
            "x2": x,
            "y2": AXIS_Y,
            "stroke": _look(marker.kind).colour,
            "stroke-width": 0.6,
            "stroke-dasharray": "2 2",
            "class": "timeline-guide",
        },
    )


def _mark(marker: Marker, scale: TimeScale) -> str:
    look = _look(marker.kind)
    x = scale.x(marker.at)
    top, height = _LANE[look.lane]
    label = " ".join(_clean(marker.label).split()) or look.name
    if len(label) > LABEL_LIMIT:
        label = label[: LABEL_LIMIT - 1] + "…"
    return _group(
        {"class": "timeline-mark", "data-kind": marker.kind, "data-x": _n(x)},
        f"{label} ({_when(marker.at, scale)})",
        _shape(look, x, top + height / 2),
    )


def _shape(look: _Look, x: float, y: float, size: float = 4.5) -> str:
    paint = {"fill": look.colour, "stroke": LEATHER, "stroke-width": 0.6}
    s = size
    if look.shape == "circle":
        return _el("circle", {"cx": x, "cy": y, "r": s * 0.85, **paint})
    if look.shape == "dot":
        return _el("circle", {"cx": x, "cy": y, "r": s * 0.55, **paint})
    if look.shape == "ring":
        return _el(
            "circle",
            {"cx": x, "cy": y, "r": s, "fill": "none", "stroke": look.colour, "stroke-width": 1.8},
        )
    if look.shape == "square":
        h = s * 0.75
        return _el("rect", {"x": x - h, "y": y - h, "width": 2 * h, "height": 2 * h, **paint})
    if look.shape == "up":
        points = [(x, y - s), (x + s, y + s * 0.8), (x - s, y + s * 0.8)]
    elif look.shape == "down":
        points = [(x - s, y - s * 0.8), (x + s, y - s * 0.8), (x, y + s)]
    else:  # diamond
        points = [(x, y - s), (x + s, y), (x, y + s), (x - s, y)]
    return _el("polygon", {"points": " ".join(f"{_n(a)},{_n(b)}" for a, b in points), **paint})


# -- frame: lanes, days, legend ------------------------------------------------------------


def _lanes() -> list[str]:
    out = []
    for _key, name, top, height in _LANES:
        out.append(
            _el(
                "rect",
                {
                    "x": LEFT,
                    "y": top,
                    "width": RIGHT - LEFT,
                    "height": height,
                    "rx": 2,
                    "fill": SAND,
                    "stroke": HAY,
                    "stroke-width": 0.6,
                },
            )
        )
        out.append(
            _el(
                "text",
                {"x": 4, "y": top + height / 2 + 4, "fill": SADDLE, "class": "timeline-lane"},
                name,
            )
        )
    out.append(
        _el(
            "line",
            {
                "x1": LEFT,
                "y1": AXIS_Y,
                "x2": RIGHT,
                "y2": AXIS_Y,
                "stroke": SADDLE,
                "stroke-width": 1.2,
            },
        )
    )
    return out


def day_starts(scale: TimeScale) -> list[datetime]:
    """The midnights (in the scale's zone) inside the window: where the day ticks go."""
    local = scale.start.astimezone(scale.zone).date()
    starts: list[datetime] = []
    while True:
        midnight = datetime(local.year, local.month, local.day, tzinfo=scale.zone)
        if midnight > scale.end:
            return starts
        if midnight >= scale.start:
            starts.append(midnight)
        local += timedelta(days=1)


def day_label(day: datetime) -> str:
    """ "Mon 1"."""
    return f"{day:%a} {day.day}"


def _days(scale: TimeScale) -> list[str]:
    """A tick and a guide at each midnight, and each day's name under its middle (when
    enough of the day is in the window for it to fit)."""
    out = []
    starts = day_starts(scale)
    for midnight in starts:
        x = scale.x(midnight)
        out.append(
            _el(
                "line",
                {
                    "x1": x,
                    "y1": _LANE[INCIDENTS][0],
                    "x2": x,
                    "y2": AXIS_Y,
                    "stroke": TAN,
                    "stroke-width": 0.5,
                    "stroke-dasharray": "1 2",
                },
            )
        )
        out.append(
            _el("line", {"x1": x, "y1": AXIS_Y, "x2": x, "y2": AXIS_Y + 4, "stroke": SADDLE})
        )
    edges = [scale.start, *starts, scale.end]
    for begin, end in pairwise(edges):
        x0, x1 = scale.x(begin), scale.x(end)
        if x1 - x0 < 28:
            continue
        out.append(
            _el(
                "text",
                {
                    "x": (x0 + x1) / 2,
                    "y": _DAY_LABEL_Y,
                    "text-anchor": "middle",
                    "class": "timeline-day",
                },
                day_label(begin.astimezone(scale.zone)),
            )
        )
    return out


def _legend(bars: Sequence[_Bar], marks: Sequence[Marker]) -> list[tuple[str, str, _Look | None]]:
    """(name, colour, look) of each family and kind of mark drawn, in a fixed order."""
    families = {_family_key(b.incident.family) for b in bars}
    items: list[tuple[str, str, _Look | None]] = []
    for key, (name, colour) in _FAMILIES.items():
        if key in families:
            items.append((name, colour, None))
    for family in sorted(families - _FAMILIES.keys()):
        items.append((family.replace("_", " ").capitalize(), TAN, None))
    looks = {_look(m.kind) for m in marks}
    seen = set()
    for look in [*_LOOKS.values(), _OTHER]:
        if look in looks and look.name not in seen:
            seen.add(look.name)
            items.append((look.name, look.colour, look))
    return items


def _draw_legend(items: Iterable[tuple[str, str, _Look | None]]) -> list[str]:
    out = []
    column = (RIGHT - 4) / _LEGEND_COLUMNS
    for n, (name, colour, look) in enumerate(items):
        row, col = divmod(n, _LEGEND_COLUMNS)
        x = 4 + col * column
        y = _LEGEND_Y + row * _LEGEND_ROW
        if look is None:
            swatch = _el(
                "rect",
                {
                    "x": x,
                    "y": y + 2,
                    "width": 14,
                    "height": 8,
                    "rx": 1.5,
                    "fill": colour,
                    "stroke": LEATHER,
                    "stroke-width": 0.6,
                },
            )
        else:
            swatch = _shape(look, x + 7, y + 6, size=4)
        text = _el("text", {"x": x + 18, "y": y + 10, "class": "timeline-legend"}, name)
        out.append(_group({"class": "timeline-key"}, None, swatch + text))
    return out


# -- XML -------------------------------------------------------------------------------------


def _utc(at: datetime) -> datetime:
    """`at` in UTC (naive: taken as UTC), so that differences and comparisons are real time."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _when(at: datetime, scale: TimeScale) -> str:
    """ "Mon 1 14:05 UTC", in the time zone of the window's end."""
    local = _utc(at).astimezone(scale.zone)
    zone = local.tzname() or ""
    return f"{day_label(local)} {local:%H:%M} {zone}".strip()


def _n(value: float) -> str:
    """A coordinate: two decimals at most, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _attr_text(value: object) -> str:
    return _n(value) if isinstance(value, float) else str(value)


def _attrs(**attrs: object) -> str:
    """Keyword attributes: `class_` is `class`, `_` is `-` (`font_size` is `font-size`)."""
    return _attr_dict({k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()})


def _attr_dict(attrs: dict[str, object]) -> str:
    return "".join(f" {k}={quoteattr(_clean(_attr_text(v)))}" for k, v in attrs.items())


def _el(tag: str, attrs: dict[str, object], text: str | None = None) -> str:
    """An element: `text` (plain, escaped here) as its content, or none."""
    opening = f"<{tag}{_attr_dict(attrs)}"
    if text is None:
        return opening + "/>"
    return f"{opening}>{escape(_clean(text))}</{tag}>"


def _group(attrs: dict[str, object], title: str | None, inner: str) -> str:
    """A `<g>` with its tooltip (`<title>`, plain text, escaped here) and drawn `inner`."""
    tooltip = _el("title", {}, title) if title is not None else ""
    return f"<g{_attr_dict(attrs)}>{tooltip}{inner}</g>"
