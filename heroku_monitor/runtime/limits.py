"""The limit rules of SPEC §15 in a process: the drains' metrics samples taken (for the
database, `store.samples`), and a log check's events for them (memory before R14, the
database), with what could not be judged (a dyno size or a plan Heroku's tables do not
name) said once in the log per app and thing, not guessed.

Wiring (service and endpoints): `Limits(Samples(db), LimitSettings(db))`, built once;
the drain endpoints call `take_logplex` / `take_lines` with each batch, the log check adds
`events(monitor, now)` to its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial

from heroku_monitor.core.detect import Event
from heroku_monitor.core.logs import memory, metrics, postgres
from heroku_monitor.core.logs.limits import (
    DatabaseThresholds,
    MemoryThresholds,
    parse_thresholds,
)
from heroku_monitor.core.logs.parse import LogLine
from heroku_monitor.store.limit_settings import LimitSettings
from heroku_monitor.store.monitors import Monitors, MonitorView
from heroku_monitor.store.samples import Samples

log = logging.getLogger(__name__)

SAID_KEPT = 10_000  # things said once, remembered (then forgotten, and said again once)
APPS_KEPT = 10_000  # apps (and monitors' settings) remembered
SETTINGS_TTL = 5.0  # seconds a monitor's thresholds are used before they are read again
# How long after this process last took an app's samples its log checks read them: the
# longest a rule looks back (a 60-minute memory window, its gap and QUIET_FOR).
TAKEN_FOR = timedelta(minutes=75)


class Limits:
    def __init__(self, samples: Samples, settings: LimitSettings) -> None:
        self.samples = samples
        self.settings = settings
        self._said: set[str] = set()
        self._lock = threading.Lock()
        # Apps whose samples this process took, and when last: a log check reads samples
        # only for them (every write of samples asks for a check in the process that took
        # them, so an app's check elsewhere would find nothing new to judge). Bounded.
        self._taken: dict[str, datetime] = {}
        self._settings: dict[int, tuple[dict[str, str], float]] = {}  # monitor -> (texts, until)

    # ------------------------------------------------------------------------ taking

    def take(
        self, app: str, found: Sequence[metrics.Sample], now: datetime,
        then: Callable[[], object] | None = None,
    ) -> int:  # fmt: skip
        """Keep `app`'s samples for the next write; `then` (a log check of its monitors)
        is asked for after that write. How many were kept."""
        kept = self.samples.take(app, found, now, then=then)
        if kept:
            with self._lock:
                if app not in self._taken and len(self._taken) >= APPS_KEPT:
                    self._taken.clear()
                self._taken[app] = now
        return kept

    def _texts(self, monitor_id: int) -> dict[str, str]:
        """The monitor's stored texts, read at most every SETTINGS_TTL seconds."""
        at = time.monotonic()
        with self._lock:
            kept = self._settings.get(monitor_id)
        if kept is not None and kept[1] > at:
            return kept[0]
        texts = self.settings.get(monitor_id)
        with self._lock:
            if len(self._settings) >= APPS_KEPT:
                self._settings.clear()
            self._settings[monitor_id] = (texts, at + SETTINGS_TTL)
        return texts

    def forget_settings(self, monitor_id: int) -> None:
        """Read the monitor's thresholds again at its next check (they were just set)."""
        with self._lock:
            self._settings.pop(monitor_id, None)

    def thresholds(self, monitor_id: int) -> tuple[MemoryThresholds, DatabaseThresholds]:
        """The monitor's thresholds (a stored text that no longer reads: the defaults, and
        said once)."""
        texts = self._texts(monitor_id)
        mem = parse_thresholds(MemoryThresholds, texts.get("near_quota"))
        db = parse_thresholds(DatabaseThresholds, texts.get("database"))
        for rule, parsed in (("near_quota", mem), ("database", db)):
            if parsed.errors:
                self._say_once(
                    f"settings:{monitor_id}:{rule}",
                    "monitor %s: its %s thresholds do not read (%s); the defaults hold",
                    monitor_id, rule, " ".join(parsed.errors.values()),
                )  # fmt: skip
        return mem.thresholds or MemoryThresholds(), db.thresholds or DatabaseThresholds()

    # ------------------------------------------------------------------------ checking

    def events(self, monitor: MonitorView, now: datetime) -> list[Event]:
        """The limit events of the monitor's app at `now`: its dynos near their memory
        quota, its databases near their limits (each rule as the monitor set it)."""
        app = monitor.app_name
        with self._lock:
            taken = self._taken.get(app)
        if taken is None or now - taken > TAKEN_FOR:
            return []  # no samples of the app lately, here: nothing to read
        mem_t, db_t = self.thresholds(monitor.id)
        if not mem_t.on and not db_t.on:
            return []
        since = now - max(memory.history(mem_t), postgres.history())
        found = self.samples.since(app, since.replace(second=0, microsecond=0))
        if not found:
            return []
        near = memory.near_quota(app, found, memory.dyno_sizes(monitor.snapshot), now, mem_t)
        known = monitor.snapshot is not None  # before the first check, nothing is known yet
        for what in near.unknown if known else ():
            self._say_once(
                f"size:{app}:{what}",
                "%s: no memory quota is known for %s; memory before R14 is not watched for "
                "it (its runtime-metrics lines carry no memory_quota)",
                app, what,
            )  # fmt: skip
        limits = postgres.limits_near(app, found, postgres.databases(monitor.snapshot), now, db_t)
        for what in limits.unknown if known else ():
            self._say_once(
                f"plan:{app}:{what}",
                "%s: the limits of the database %s are not in Heroku's plan table; set them "
                "on the dashboard to watch it",
                app, what,
            )  # fmt: skip
        return [*near.events(), *limits.events()]

    def _say_once(self, key: str, message: str, *args: object) -> None:
        with self._lock:
            if key in self._said:
                return
            if len(self._said) >= SAID_KEPT:
                self._said.clear()
            self._said.add(key)
        log.warning(message, *args)

    def close(self) -> None:
        self.samples.close()


# ---------------------------------------------------------------------------- the drains


def take_logplex(
    limits: Limits,
    monitors: Monitors,
    check_logs_soon: Callable[[int], object],
    app: str,
    body: bytes,
    now: datetime,
    *,
    token: str | None = None,
) -> int:
    """The samples of a Logplex body, kept; once written, a log check of the app's monitors
    is asked for. A body without metrics lines costs one substring search."""
    found = metrics.from_logplex(body, token=token)
    if not found:
        return 0
    return limits.take(app, found, now, then=partial(_check_logs, monitors, check_logs_soon, app))


def take_lines(
    limits: Limits,
    monitors: Monitors,
    check_logs_soon: Callable[[int], object],
    app: str,
    lines: Iterable[LogLine],
    now: datetime,
    *,
    token: str | None = None,
) -> int:
    """`take_logplex` for lines parsed already (an OTLP request's)."""
    found = metrics.from_lines(lines, token=token)
    if not found:
        return 0
    return limits.take(app, found, now, then=partial(_check_logs, monitors, check_logs_soon, app))


def _check_logs(monitors: Monitors, check_logs_soon: Callable[[int], object], app: str) -> None:
    for monitor_id in monitors.active_ids(app):
        check_logs_soon(monitor_id)
