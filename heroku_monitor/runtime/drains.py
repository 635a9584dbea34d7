"""A drain batch taken in: its lines counted into the database (every process adds to the
same counters) and a log check of the app's monitors asked for. Both drains end here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from heroku_monitor.core.logs.count import count
from heroku_monitor.core.logs.parse import LogLine
from heroku_monitor.store.log_counts import LogCounts, as_rows
from heroku_monitor.store.monitors import Monitors


def take(
    counts: LogCounts,
    monitors: Monitors,
    check_logs_soon: Callable[[int], object],
    app: str,
    batch: str,
    lines: Sequence[LogLine],
    now: datetime,
    *,
    token: str | None = None,
) -> bool:
    """Count a batch of `app`'s log lines into the database and ask for a log check of its
    monitors; False (nothing counted) when the batch was taken before. With `token` (the
    app's drain's), lines another drain's token names are not counted."""
    counted = count(lines, token=token)
    taken = counts.take(app, batch, as_rows(counted, now), len(lines), now)
    if taken:
        for monitor_id in monitors.active_ids(app):
            check_logs_soon(monitor_id)
    return taken
