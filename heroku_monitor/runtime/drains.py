"""A drain batch taken in: its lines counted in memory, for the process's flusher to add to
the database's counters (every process adds to the same ones, `store.log_counts`), which
then asks for a log check of the app's monitors. Both drains end here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from heroku_monitor.core.logs.count import Counts, count
from heroku_monitor.core.logs.parse import LogLine
from heroku_monitor.store.log_counts import LogCounts, as_rows, as_times
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
    """Count a batch of `app`'s log lines for the database; once they are written (within
    a second) a log check of its monitors is asked for. False (nothing counted) when the
    batch was taken before. With `token` (the app's drain's), lines another drain's token
    names are not counted. Raises `log_counts.PendingFull` when memory is full and the
    database cannot take what waits."""
    return take_counted(
        counts, monitors, check_logs_soon, app, batch, count(lines, token=token), len(lines), now
    )


def take_counted(
    counts: LogCounts,
    monitors: Monitors,
    check_logs_soon: Callable[[int], object],
    app: str,
    batch: str,
    counted: Counts,
    lines: int,
    now: datetime,
) -> bool:
    """`take`, for a batch counted already (`core.logs.count`)."""
    then = partial(_check_logs, monitors, check_logs_soon, app)
    rows, times = as_rows(counted, now), as_times(counted, now)
    return counts.take(app, batch, rows, lines, now, then=then, times=times)


def _check_logs(monitors: Monitors, check_logs_soon: Callable[[int], object], app: str) -> None:
    for monitor_id in monitors.active_ids(app):
        check_logs_soon(monitor_id)
