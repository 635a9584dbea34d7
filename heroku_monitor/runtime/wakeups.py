"""Delivery runs on a worker: now, or at the second an alert's retry is due (the delivery
asks for that through `Delivery.wake_at`), one job per second however often it is asked."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from heroku_monitor.runtime.jobs import Aps


class Wakeups:
    def __init__(self, aps: Aps, deliver: Callable[[], None]) -> None:
        self.aps = aps
        self.deliver = deliver  # a delivery run that survives its failures
        self._lock = threading.Lock()
        self._wakes: set[int] = set()  # the seconds a delivery run is scheduled at

    def deliver_soon(self) -> None:
        """Run the outbox now, on a worker."""
        self.aps.add_job(self.deliver, "date")

    def deliver_at(self, when: datetime) -> None:
        """Run the outbox at `when` (an alert's retry is due then), on a worker; one job
        per second, however often it is asked for. (No job id: APScheduler's loop fails
        when a due job of its id is replaced under it.)"""
        if not self.aps.running:
            return
        second = int(when.timestamp())
        with self._lock:
            if second in self._wakes:
                return
            self._wakes.add(second)
        self.aps.add_job(self._woken, "date", run_date=when, args=[second])

    def _woken(self, second: int) -> None:
        with self._lock:
            self._wakes.discard(second)
        self.deliver()
