"""The certificate check (SPEC §15): read the domains and SNI endpoints of the apps due
(`core.certificates.due_apps`: at most every 6 hours an app, a few each run), decide what a
read says (pure), and record it for every monitor of the app through the incident machine
(`recording.record_events`), as the log alerts are recorded.

The leader runs `run()` every 10 minutes (`JOB_EVERY`); the demo's buttons call
`check_app(app)` for one app at once. The reads count in the rate budget as the source
`certs` (the transport tallies them; the checker's flush adds them to the account's spend).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from heroku_monitor.core import budget, certificates
from heroku_monitor.core.certificates import CertificateState
from heroku_monitor.core.clock import Clock
from heroku_monitor.core.detect import Event
from heroku_monitor.heroku.domains import read_certificates
from heroku_monitor.heroku.errors import HerokuError
from heroku_monitor.heroku.transport import Transport, spending
from heroku_monitor.runtime.recording import record_events
from heroku_monitor.store.certificates import CertificateReads
from heroku_monitor.store.incidents import IncidentStore
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import Outbox

log = logging.getLogger(__name__)

SOURCE = "certs"  # what the rate budget counts these reads as (`heroku_spend.source`)


class CertificateChecks:
    def __init__(
        self,
        monitors: Monitors,
        outbox: Outbox,
        incident_store: IncidentStore,
        heroku: Transport,
        reads: CertificateReads,
        clock: Clock,
        *,
        deliver: Callable[[], object] = lambda: None,
        mention: str = "here",
        dashboard_url: str | None = None,
    ) -> None:
        self.dashboard_url = dashboard_url  # this service's address: alerts link the app's page
        self.monitors = monitors
        self.outbox = outbox
        self.incident_store = incident_store
        self.heroku = heroku
        self.reads = reads
        self.clock = clock
        self.deliver = deliver  # starts a delivery run (the scheduler's `deliver_soon`)
        self.mention = mention
        self._failing: set[str] = set()  # apps whose last read failed (said once)
        self._lock = threading.Lock()

    def run(self) -> int:
        """The leader's job: read the apps due now (never-read first, then the longest
        unread, `reads_per_run` at most), unless Heroku's rate limit is nearly spent.
        Returns how many apps were read."""
        watched = self.reads.watched_apps()
        if not watched:
            return 0
        remaining = self.heroku.rate_limit_remaining
        if remaining is not None and remaining < budget.RESERVE:
            log.info("certificate reads wait: %d Heroku requests left on the token", remaining)
            return 0
        now = self.clock()
        due = certificates.due_apps(
            self.reads.last_reads(watched),
            now,
            limit=certificates.reads_per_run(len(watched)),
        )
        for app in due:
            self.check_app(app, monitor_ids=watched[app])
        return len(due)

    def check_app(self, app: str, *, monitor_ids: list[int] | None = None) -> list[Event]:
        """Read `app`'s domains and SNI endpoints now and record what the read says for each
        of its monitors (`monitor_ids`, else every active one); returns the events recorded
        (new to some monitor). A read that fails says so once and decides nothing: its time
        is kept, so a failing app costs no more requests than a working one."""
        ids = monitor_ids if monitor_ids is not None else self.monitors.active_ids(app)
        try:
            with spending(SOURCE):
                read = read_certificates(self.heroku, app)
        except HerokuError as exc:
            with self._lock:
                first = app not in self._failing
                self._failing.add(app)
            if first:
                log.warning("the certificates of %s could not be read: %s (said once)", app, exc)
            self._keep_time(app)
            return []
        with self._lock:
            self._failing.discard(app)
        now = self.clock()
        previous = self.reads.state(app)
        decision = certificates.decide(previous, read, now)
        recorded: dict[str, Event] = {}
        # Recorded before the state is kept: a state saved and events lost would never be
        # decided again (a renewal is said once), while events recorded twice are one (keys).
        for monitor_id in ids:
            for event in record_events(
                self.monitors,
                self.outbox,
                self.incident_store,
                monitor_id,
                app,
                list(decision.events),
                now,
                mention=self.mention,
                dashboard_url=self.dashboard_url,
            ):
                recorded.setdefault(event.key, event)
        with self.reads.db.transaction() as s:
            self.reads.lock(s, app)
            self.reads.save(s, app, decision.state, now)
        if recorded:
            self.deliver()
        return list(recorded.values())

    def _keep_time(self, app: str) -> None:
        now = self.clock()
        with self.reads.db.transaction() as s:
            kept = self.reads.lock(s, app) or CertificateState()
            self.reads.save(s, app, replace(kept, read_at=now), now)
