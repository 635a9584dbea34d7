"""The polling lease's renewal, on a thread of its own (SPEC §16: the leader keeps its
lease while a long round runs). On the scheduler's pool it would wait behind rounds and
checks (a person's check waiting for a busy app, a round slowed by Heroku), the lease would
lapse and a second process would start polling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# How long a stop waits for a renewal in progress (a write of one row, bounded by the
# database's timeouts); the thread is a daemon, so a stuck one never holds the exit.
STOP_WAIT = 5.0  # seconds


class Renewal:
    """Call `renew` every `every` seconds on a daemon thread, from `start` to `stop`."""

    def __init__(self, renew: Callable[[], None], every: float, *, name: str) -> None:
        self.renew = renew
        self.every = every
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """No more renewals: the one in progress, if any, ends first (within `STOP_WAIT`)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_WAIT)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.renew()  # never raises: the scheduler's `_lead` logs what failed
