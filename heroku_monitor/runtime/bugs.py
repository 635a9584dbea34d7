"""Bugs met by checks (SPEC §16, "nothing wedges"): a check that raises something no one
expected fails as a check does, and its traceback goes to the log once per distinct bug
(its type and where it was raised); after that the bug is only counted, and the count is
on /healthz (`internal_errors`).
"""

from __future__ import annotations

import logging
import threading
import traceback
from pathlib import Path

from heroku_monitor.core.detect import INTERNAL_ERROR

# How many distinct bugs have their traceback logged (past that, a new one is counted).
KEPT = 100


def where(exc: BaseException) -> tuple[str, str, int]:
    """What names a bug: its type, and the file and line where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    name = Path(last.filename).name if last else "?"
    return type(exc).__name__, name, (last.lineno or 0) if last else 0


def describe(exc: BaseException) -> str:
    """One sentence for the dashboard, the monitor's last error and Slack: the bug's type
    and place, never its message (which may quote what it was reading)."""
    kind, name, line = where(exc)
    return f"{INTERNAL_ERROR}{kind} at {name}:{line} (a bug; its traceback is in the log)."


class Bugs:
    """The bugs this process met in checks: how many times, and which were logged."""

    def __init__(self, logger: logging.Logger) -> None:
        self.log = logger
        self.count = 0
        self._logged: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def met(self, exc: BaseException, what: str, *args: object) -> str:
        """Count a bug met by `what`; its traceback is logged the first time only (past
        `KEPT` distinct bugs, a new one is only counted). Returns the sentence that says
        what failed."""
        key = where(exc)
        with self._lock:
            self.count += 1
            first = key not in self._logged and len(self._logged) < KEPT
            if first:
                self._logged.add(key)
        if first:
            self.log.error(
                f"{what} hit a bug (its traceback is logged once, then counted)",
                *args,
                exc_info=exc,
            )
        return describe(exc)
