"""The headers of the limit alerts (SPEC §15). Pure.

    📈 *Memory Near Quota: web.1* 📈
    App: my-app
    471 of 512 MB
    92 % of its quota for 5 min, since 02:10 UTC (threshold 90 %)

    🐘 *Database Near Its Limits* 🐘
    App: my-app
    Connections: 97 of 120 (80 %)
    Storage: 52.3 of 64 GB (81 %)
    Database: postgresql-curved-12345 (standard-0)

The lines after `App:` are each event's `summary` (`messages` writes them, escaped, as it
does for every log alert); only the header line is this module's.
"""

from __future__ import annotations

from collections.abc import Sequence

from heroku_monitor.core.detect import Event
from heroku_monitor.core.logs.memory import LOG_MEMORY_NEAR_QUOTA
from heroku_monitor.core.logs.postgres import LOG_DATABASE_LIMITS
from heroku_monitor.render.blocks import escape

KINDS = (LOG_MEMORY_NEAR_QUOTA, LOG_DATABASE_LIMITS)


def header(kind: str, events: Sequence[Event] = ()) -> tuple[str, str]:
    """(emoji, title) of a limit alert: the dyno of the first event for memory."""
    if kind == LOG_MEMORY_NEAR_QUOTA:
        first = events[0] if events else None
        dyno = escape(first.dyno.name) if first is not None and first.dyno else "a dyno"
        return "📈", f"Memory Near Quota: {dyno}"
    if kind == LOG_DATABASE_LIMITS:
        return "🐘", "Database Near Its Limits"
    raise KeyError(kind)
