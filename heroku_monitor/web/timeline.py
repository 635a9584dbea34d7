"""The dashboard's timeline as inline SVG: `render.timeline.layout`'s values drawn by
`templates/timeline.svg`, in an environment of its own so that it renders anywhere (a card,
a test) without an app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from heroku_monitor.core.incidents import Incident
from heroku_monitor.render import timeline, timeline_looks
from heroku_monitor.render.timeline import Marker


def _written(value: object) -> object:
    """What `{{ … }}` writes: a float as a coordinate ("12.5", not "12.500000001")."""
    return timeline.coordinate(value) if isinstance(value, float) else value


_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    # Names, labels and tooltips come from Heroku, Slack and people: always escaped (the
    # layout has already dropped what XML cannot carry at all).
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_written,
)
_ENV.globals["palette"] = timeline_looks


def render_timeline(
    app: str,
    incidents: Sequence[Incident],
    alerts: Sequence[Marker],
    now: datetime,
    *,
    days: int = 7,
    width: float = timeline.WIDTH,
) -> Markup:
    """`app`'s last `days` ending at `now` as an inline SVG element (see `timeline.layout`);
    safe to put in a template as it is. Raises ValueError when `days` is below 1."""
    picture = timeline.layout(app, incidents, alerts, now, days=days, width=width)
    return Markup(_ENV.get_template("timeline.svg").render(t=picture))
