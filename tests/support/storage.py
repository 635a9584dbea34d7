"""One process's storage on a database, recording checks as the checker does, for the
tests of the store, of delivery and of threads."""

from __future__ import annotations

from datetime import datetime

from heroku_monitor.core import detect
from heroku_monitor.core.detect import CheckFailed
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.runtime import recording
from heroku_monitor.store.database import Database
from heroku_monitor.store.incidents import IncidentStore
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import Outbox


class Storage:
    """One process's view of a database: its monitors and its outbox."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)
        self.monitors = Monitors(self.db)
        self.outbox = Outbox(self.db)
        self.incidents = IncidentStore(self.db)

    def success(self, monitor_id: int, seen: AppSnapshot, now: datetime) -> list[detect.Event]:
        """What a successful check records: the events it found that were not seen before."""
        return recording.record(
            self.monitors, self.outbox, self.incidents, monitor_id, seen.app, seen, now
        )

    def failure(self, monitor_id: int, app: str, reason: str, now: datetime) -> list[detect.Event]:
        failed = CheckFailed(reason)
        return recording.record(
            self.monitors, self.outbox, self.incidents, monitor_id, app, failed, now
        )
