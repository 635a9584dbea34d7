"""An app's last days as a picture: incidents as bars, alerts and changes as marks (SPEC
section 11, the dashboard's timeline). Pure: no I/O, no clock.

`layout` places one app's window: every bar, mark, tick and legend entry as plain values in
the picture's units; `web/templates/timeline.svg` draws them as inline SVG, on the server:
no JavaScript, no stylesheet of its own. The dashboard's CSP (`style-src 'self'`) blocks
inline styles, so everything is drawn with presentation attributes (`fill=`, `stroke=`,
`font-size=`), never a `style` attribute or element. Texts are kept free of characters XML
cannot carry (`xml_safe`), so the picture always parses; the template escapes them.

The picture scales with its container (`width="100%"` and a `viewBox`); its units are
sized so that at a phone's 390 px the text is about 11 px. Three lanes, top to bottom:
incidents (bars from opening to end, or to now while open, coloured by family), alerts
(crashes, downs, log errors, …) and changes (deploys, rollbacks, config changes, …).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise
from typing import NamedTuple, Protocol

from heroku_monitor.core.incidents import Incident
from heroku_monitor.render import timeline_looks as looks
from heroku_monitor.render.mrkdwn import to_plain
from heroku_monitor.render.timeline_looks import ALERTS, CHANGES, INCIDENTS
from heroku_monitor.render.timescale import LEFT, RIGHT, TimeScale, day_label, day_starts, utc, when

# The picture's coordinates (viewBox units: about one CSS pixel on a 390 px wide phone);
# the window's days run from LEFT to RIGHT.
WIDTH = 400.0
WIDE = 1000.0  # an app's page at a desktop's full width: its text about 12 px at 1,100 px
MARGIN = 4.0  # where the lanes' names and the legend begin
FONT_SIZE = 11
FONT = "Georgia, Palatino, 'Palatino Linotype', 'Book Antiqua', serif"
LABEL_LIMIT = 160  # a marker's tooltip keeps this many characters of its label


class Lane(NamedTuple):
    """A band of the picture, from `top`, `height` high, with its `name` left of it."""

    key: str
    name: str
    top: float
    height: float

    @property
    def middle(self) -> float:
        return self.top + self.height / 2

    @property
    def label(self) -> Text:
        return Text(MARGIN, self.middle + TEXT_DROP, self.name)


_LANES = (
    Lane(INCIDENTS, "Incidents", 6.0, 24.0),
    Lane(ALERTS, "Alerts", 34.0, 18.0),
    Lane(CHANGES, "Changes", 56.0, 18.0),
)
_LANE = {key: (top, height) for key, _, top, height in _LANES}
AXIS_Y = 78.0
TICK = 4.0  # a day's tick reaches this far below the axis
TEXT_DROP = 4.0  # a text's baseline sits this far below the middle of what it names
DAY_LABEL_Y = 94.0
_LEGEND_Y = 104.0
_LEGEND_ROW = 16.0
_LEGEND_COLUMNS = 3
MAX_TRACKS = 3  # overlapping incidents share the lane in at most this many tracks
MIN_BAR = 1.5  # a bar this narrow still shows (one unit is about half an hour of 7 days)
# Characters XML 1.0 cannot carry, even escaped (C0 controls but tab/LF/CR, surrogates, …).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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
        return cls(alert.created_at, alert.kind, to_plain(alert.text))


class _AlertRow(Protocol):
    """What `Marker.from_alert` reads of a `db.Alert` row."""

    @property
    def created_at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...


# -- what the template draws ---------------------------------------------------------------


@dataclass(frozen=True)
class Glyph:
    """A mark's shape, placed: a `circle` (centre `x`, `y`, radius `size`; a `ring` is
    unfilled, drawn in its colour), a `square` (corner `x`, `y`, side `size`) or a
    `polygon` (its `points`)."""

    shape: str  # circle, square, polygon
    colour: str
    x: float = 0.0
    y: float = 0.0
    size: float = 0.0
    ring: bool = False
    points: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Text:
    """A text at `x`, its baseline at `y`."""

    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Bar:
    """An incident's bar: a rectangle in its track of the incidents lane, with its tooltip;
    an `open` one (still going) is drawn dashed."""

    id: str
    family: str
    x: float
    y: float
    width: float
    height: float
    colour: str
    open: bool
    title: str


@dataclass(frozen=True)
class Mark:
    """An alert's mark at `x`: its glyph, its tooltip, and whether a guide line runs
    across the lanes at it."""

    kind: str
    x: float
    glyph: Glyph
    title: str
    guide: bool


@dataclass(frozen=True)
class Key:
    """A legend entry: a family's swatch (a small bar at `x`, `y`) or a kind's `glyph`, and
    its `name` written at `label`."""

    name: str
    colour: str
    x: float
    y: float
    glyph: Glyph | None
    label: Text


@dataclass(frozen=True)
class Timeline:
    """One app's window, placed: what `web/templates/timeline.svg` draws, in viewBox units.
    Every text in it is XML-safe (not yet escaped)."""

    title: str  # "my-app: the last 7 days"
    height: float
    midnights: tuple[float, ...]  # where each day's tick and guide go
    days: tuple[Text, ...]  # the days' names
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    quiet: Text | None  # what an empty window says
    legend: tuple[Key, ...]
    lanes: tuple[Lane, ...] = _LANES
    width: float = WIDTH
    left: float = LEFT
    right: float = RIGHT
    top: float = _LANES[0].top  # where the lanes (and guides) begin
    axis_y: float = AXIS_Y
    tick_y: float = AXIS_Y + TICK
    font: str = FONT
    font_size: int = FONT_SIZE

    @property
    def span(self) -> float:
        """How wide the window's days are drawn."""
        return self.right - self.left


def layout(
    app: str,
    incidents: Sequence[Incident],
    alerts: Sequence[Marker],
    now: datetime,
    *,
    days: int = 7,
    width: float = WIDTH,
) -> Timeline:
    """`app`'s last `days` ending at `now`: its incidents as bars, `alerts` as marks;
    whatever lies outside the window is left out (a bar that crosses its edge is cut
    there). `width`: the picture's width in viewBox units, its text staying FONT_SIZE
    units high: WIDTH (400) reads well at a phone's 390 px, `WIDE` at a desktop's full
    width. Raises ValueError when `days` is below 1 or `width` below WIDTH."""
    if width < WIDTH:
        raise ValueError(f"a timeline is at least {WIDTH:g} units wide")
    scale = replace(TimeScale.window(now, days), right=RIGHT + (width - WIDTH))
    bars = [b for b in (_bar(i, scale) for i in incidents) if b is not None]
    marks = sorted(
        (m for m in alerts if m.kind not in looks.SKIPPED_KINDS and scale.contains(m.at)),
        key=lambda m: utc(m.at),
    )
    legend = looks.legend((b.incident.family for b in bars), (m.kind for m in marks))
    columns = max(_LEGEND_COLUMNS, int(_LEGEND_COLUMNS * width / WIDTH))
    rows = math.ceil(len(legend) / columns)
    span = f"{days} day" if days == 1 else f"{days} days"
    quiet = None
    if not bars and not marks:
        alerts_lane = _LANES[1]
        quiet = Text(
            (scale.left + scale.right) / 2,
            alerts_lane.middle + TEXT_DROP,
            f"Quiet on the range: nothing in {span}",
        )
    starts = day_starts(scale)
    return Timeline(
        title=xml_safe(f"{app}: the last {span}"),
        height=_LEGEND_Y + rows * _LEGEND_ROW + 2 if rows else _LEGEND_Y - 2,
        midnights=tuple(scale.x(m) for m in starts),
        days=tuple(_day_names(scale, starts)),
        bars=tuple(_placed_bars(bars, scale)),
        marks=tuple(_mark(m, scale) for m in marks),
        quiet=quiet,
        legend=tuple(_keys(legend, scale.right, columns)),
        width=width,
        right=scale.right,
    )


def xml_safe(text: str) -> str:
    """`text` without the characters XML cannot carry, even escaped."""
    return _NOT_XML.sub("", text)


def coordinate(value: float) -> str:
    """A coordinate as the SVG writes it: two decimals at most, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# -- bars ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    incident: Incident
    start: datetime  # within the window
    end: datetime
    open: bool


def _bar(incident: Incident, scale: TimeScale) -> _Span | None:
    opened = utc(incident.opened_at)
    ended = scale.end if incident.resolved_at is None else utc(incident.resolved_at)
    if ended < scale.start or opened > scale.end:
        return None
    start, end = max(opened, scale.start), min(ended, scale.end)
    return _Span(incident, start, max(start, end), incident.resolved_at is None)


def _placed_bars(bars: Sequence[_Span], scale: TimeScale) -> list[Bar]:
    """The bars, overlapping ones in tracks of their own (at most MAX_TRACKS)."""
    ordered = sorted(bars, key=lambda b: (b.start, b.incident.id))
    track_ends: list[float] = []
    placed: list[tuple[_Span, int]] = []
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
        out.append(
            Bar(
                id=xml_safe(bar.incident.id),
                family=xml_safe(bar.incident.family),
                x=x0,
                y=top + 2 + track * each + 0.5,
                width=max(scale.x(bar.end) - x0, MIN_BAR),
                height=each - 1,
                colour=looks.colour(bar.incident.family),
                open=bar.open,
                title=xml_safe(looks.incident_title(bar.incident, scale)),
            )
        )
    return out


def _mark(marker: Marker, scale: TimeScale) -> Mark:
    look = looks.look(marker.kind)
    x = scale.x(marker.at)
    top, height = _LANE[look.lane]
    label = " ".join(xml_safe(marker.label).split()) or look.name
    if len(label) > LABEL_LIMIT:
        label = label[: LABEL_LIMIT - 1] + "…"
    return Mark(
        kind=xml_safe(marker.kind),
        x=x,
        glyph=_glyph(look, x, top + height / 2),
        title=f"{label} ({when(marker.at, scale)})",
        guide=look.line,
    )


def _glyph(look: looks.Look, x: float, y: float, size: float = 4.5) -> Glyph:
    """`look`'s shape centred on `x`, `y`, `size` from its middle to its tips."""
    s = size
    if look.shape == "circle":
        return Glyph("circle", look.colour, x, y, s * 0.85)
    if look.shape == "dot":
        return Glyph("circle", look.colour, x, y, s * 0.55)
    if look.shape == "ring":
        return Glyph("circle", look.colour, x, y, s, ring=True)
    if look.shape == "square":
        h = s * 0.75
        return Glyph("square", look.colour, x - h, y - h, 2 * h)
    points: tuple[tuple[float, float], ...]
    if look.shape == "up":
        points = ((x, y - s), (x + s, y + s * 0.8), (x - s, y + s * 0.8))
    elif look.shape == "down":
        points = ((x - s, y - s * 0.8), (x + s, y - s * 0.8), (x, y + s))
    else:  # diamond
        points = ((x, y - s), (x + s, y), (x, y + s), (x - s, y))
    return Glyph("polygon", look.colour, points=points)


# -- days, legend --------------------------------------------------------------------------


def _day_names(scale: TimeScale, starts: Sequence[datetime]) -> list[Text]:
    """Each day's name under its middle (when enough of the day is in the window for it to
    fit)."""
    out = []
    edges = [scale.start, *starts, scale.end]
    for begin, end in pairwise(edges):
        x0, x1 = scale.x(begin), scale.x(end)
        if x1 - x0 < 28:
            continue
        out.append(Text((x0 + x1) / 2, DAY_LABEL_Y, day_label(begin.astimezone(scale.zone))))
    return out


def _keys(
    items: Sequence[tuple[str, str, looks.Look | None]],
    right: float = RIGHT,
    columns: int = _LEGEND_COLUMNS,
) -> list[Key]:
    """The legend's entries, placed in rows of `columns` up to `right`."""
    out = []
    column = (right - MARGIN) / columns
    for n, (name, colour, look) in enumerate(items):
        row, col = divmod(n, columns)
        x = MARGIN + col * column
        y = _LEGEND_Y + row * _LEGEND_ROW
        glyph = None if look is None else _glyph(look, x + 7, y + 6, size=4)
        name = xml_safe(name)
        out.append(Key(name, colour, x, y + 2, glyph, Text(x + 18, y + 10, name)))
    return out
