"""What people do to an incident (Acknowledge, Snooze 1 h, end a snooze) and what time does
to it (a quiet incident closes, a snooze runs out): each under the monitor's state lock,
like a check, so its edits are numbered once; the actions go through the outbox.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from heroku_monitor.core import incidents
from heroku_monitor.core.clock import Clock
from heroku_monitor.core.incidents import Action, Snooze
from heroku_monitor.render import threads
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.store.incidents import IncidentStore
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import Outbox

log = logging.getLogger(__name__)

SNOOZE_FOR = timedelta(hours=1)


class Conversations:
    def __init__(
        self,
        monitors: Monitors,
        outbox: Outbox,
        store: IncidentStore,
        delivery: Delivery,
        clock: Clock,
        *,
        dashboard_url: str | None = None,
    ) -> None:
        self.monitors, self.outbox, self.store = monitors, outbox, store
        self.delivery, self.clock = delivery, clock
        self.dashboard_url = dashboard_url  # this service's address: messages link the app's page

    def acknowledge(self, monitor_id: int, incident_id: str, by: str) -> bool:
        """`by` acknowledged the incident; False when it is closed, already acknowledged,
        or unknown (nothing changes then)."""
        now = self.clock()
        with self.monitors.db.transaction() as s:
            found = self._locked(s, monitor_id)
            if found is None:
                return False
            open_ = {i.id: i for i in self.store.open_incidents(s, monitor_id, found)}
            incident = open_.get(incident_id)
            if incident is None:
                return False
            acked, actions = incidents.acknowledge(incident, by, now)
            self.store.save(s, monitor_id, [acked])
            self._queue(s, monitor_id, actions, now)
        self.delivery.run()
        return bool(actions)

    def snooze(self, monitor_id: int, app: str, by: str) -> datetime | None:
        """Snooze the monitor's `app` for an hour from now (extending a snooze on); returns
        when it ends, or None when the monitor is gone or watches another app now."""
        now = self.clock()
        with self.monitors.db.transaction() as s:
            if self._locked(s, monitor_id) != app:
                return None
            current = next(iter(self.store.snoozes(s, monitor_id, app)), None)
            outcome = incidents.snooze(
                self.store.open_incidents(s, monitor_id, app),
                app,
                by,
                now + SNOOZE_FOR,
                now,
                current=current,
            )
            self.store.save(s, monitor_id, outcome.incidents)
            self.store.save_snoozes(s, monitor_id, outcome.snoozes)
            self._queue(s, monitor_id, outcome.actions, now)
        self.delivery.run()
        return now + SNOOZE_FOR

    def end_snooze(self, monitor_id: int) -> bool:
        """End the app's snooze now (the dashboard's button); False when there is none."""
        return self._wake(monitor_id, force=True)

    def tick(self) -> None:
        """Close what has been quiet long enough, end the snoozes whose time is up: for
        every monitor (the scheduler calls this every minute)."""
        for monitor in self.monitors.all():
            try:
                self._wake(monitor.id, force=False)
            except Exception:  # a bug: log it, and the other monitors still get their turn
                log.exception(
                    "the incidents of monitor %s could not be brought up to date", monitor.id
                )

    def _wake(self, monitor_id: int, *, force: bool) -> bool:
        now = self.clock()
        ended = False
        with self.monitors.db.transaction() as s:
            app = self._locked(s, monitor_id)
            if app is None:
                return False
            held = self.store.snoozes(s, monitor_id, app)
            outcome = incidents.tick(
                self.store.open_incidents(s, monitor_id, app),
                now,
                snoozes=held,
                resolve_after=self.store.resolve_hold(s, monitor_id),
            )
            actions = list(outcome.actions)
            kept = outcome.incidents
            for snooze in held:
                if force or not snooze.active(now):
                    over = incidents.end_snooze(snooze, kept, now)
                    kept, ended = over.incidents, True
                    actions.extend(over.actions)
            self.store.save(s, monitor_id, kept)
            remaining: list[Snooze] = [] if ended else list(outcome.snoozes)
            self.store.save_snoozes(s, monitor_id, remaining)
            self._queue(s, monitor_id, actions, now)
        if actions:
            self.delivery.run()
        return ended

    def _locked(self, s: Session, monitor_id: int) -> str | None:
        """The monitor's app, its state row locked until `s` ends; None when it is gone."""
        monitor = self.monitors.get(monitor_id)
        if monitor is None:
            return None
        if self.monitors.lock_state(s, monitor_id, monitor.app_name) is None:
            return None
        return monitor.app_name

    def _queue(
        self, s: Session, monitor_id: int, actions: list[Action] | tuple[Action, ...], now: datetime
    ) -> None:
        self.outbox.enqueue(
            s,
            monitor_id,
            threads.outbox_messages(actions, now, dashboard_url=self.dashboard_url),
            now,
        )
