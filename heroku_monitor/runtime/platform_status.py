"""Heroku's own incidents (SPEC §15): the leader's `poll()`, every 5 minutes
(`platform_status.READ_EVERY`), reads Heroku's status API, decides what is new (pure:
`core.platform_status.decide`) and queues it in the outbox, in one transaction: a new
incident's first message to each channel of HEROKU_STATUS_CHANNEL (every alert channel by
default), its updates as replies in those threads, its end as an edit and a broadcast reply.

A read that fails decides nothing (the status client logs it once): no incident is opened
or ended on a read error. An app incident that opens while a platform incident is open names
it in its first message: `store.platform_status.open_title`, read where the app's events are
recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from heroku_monitor.core import platform_status
from heroku_monitor.core.clock import Clock
from heroku_monitor.heroku.status import StatusClient
from heroku_monitor.render import platform_status as render
from heroku_monitor.store.outbox import Outbox
from heroku_monitor.store.platform_status import PlatformIncidents

log = logging.getLogger(__name__)

OFF = "none"  # HEROKU_STATUS_CHANNEL=none (settings.STATUS_CHANNEL_OFF)


class PlatformStatus:
    def __init__(
        self,
        client: StatusClient,
        incidents: PlatformIncidents,
        outbox: Outbox,
        clock: Clock,
        *,
        channel: str | None = None,
        deliver: Callable[[], object] = lambda: None,
    ) -> None:
        self.client = client
        self.incidents = incidents
        self.outbox = outbox
        self.clock = clock
        # None: every alert channel; OFF: nowhere (still read: app incidents name it).
        self.channel = channel
        self.deliver = deliver  # starts a delivery run (the scheduler's `deliver_soon`)
        self._lock = threading.Lock()  # one poll at a time in this process

    def channels(self) -> list[str]:
        """Where a platform incident first seen now is posted."""
        if self.channel == OFF:
            return []
        if self.channel:
            return [self.channel]
        return self.incidents.alert_channels()

    def poll(self) -> int:
        """Read the status API once and queue what it says; returns how many messages were
        queued (0 when the read failed: nothing is decided then)."""
        with self._lock:
            read = self.client.read()
            if read is None:
                return 0
            now = self.clock()
            channels = self.channels()
            queued = 0
            with self.incidents.db.transaction() as s:
                given = {t.id: t for t in self.incidents.lock_recent(s, now)}
                outcome = platform_status.decide(list(given.values()), read, now, channels)
                changed = [t for t in outcome.tracked if given.get(t.id) != t]
                self.incidents.save(s, changed)
                for action in outcome.actions:
                    message = render.render(action)
                    for channel in action.incident.channels:
                        queued += self.outbox.enqueue_to_channel(s, channel, [message], now)
            if queued:
                log.info("Heroku's status: %d message(s) queued", queued)
                self.deliver()
            return queued

    def close(self) -> None:
        self.client.close()
