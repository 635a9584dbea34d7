"""The scheduler: what runs on APScheduler, composed of the polling plan (`plan`), the
rounds (`polling`), the per-monitor triggers (`triggers`), the delivery wake-ups
(`wakeups`) and the interval jobs (`jobs`), plus the jobs every process runs: the outbox's
retries, following the database, tending incidents and the polling lease.

Every process sharing the database runs a scheduler; the one holding the polling lease
(`leader.Leadership`, renewed every third of the lease on a thread of its own, `renewal`,
never behind the pool's rounds and checks) runs the interval jobs, so
polling costs the same for one process or ten, and the prune job (`retention.Retention`,
every table's rule, SPEC §16), so one process prunes for all.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from heroku_monitor.core.budget import Budget
from heroku_monitor.runtime.certificates import CertificateChecks
from heroku_monitor.runtime.check import Checker
from heroku_monitor.runtime.conversations import Conversations
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.runtime.heartbeat import Heartbeat
from heroku_monitor.runtime.jobs import Aps, IntervalJobs, survived
from heroku_monitor.runtime.plan import Plan
from heroku_monitor.runtime.platform_status import PlatformStatus
from heroku_monitor.runtime.polling import Polling
from heroku_monitor.runtime.renewal import Renewal
from heroku_monitor.runtime.triggers import DEBOUNCE, Triggers
from heroku_monitor.runtime.wakeups import Wakeups
from heroku_monitor.store.leader import Leadership
from heroku_monitor.store.monitors import Monitors, MonitorView
from heroku_monitor.store.outbox import Outbox
from heroku_monitor.store.retention import Retention
from heroku_monitor.store.sightings import WebhookLedger
from heroku_monitor.store.spend import Spend
from heroku_monitor.store.teams import TeamWatches

log = logging.getLogger(__name__)

DELIVERY_JOB = "deliver-outbox"
PRUNE_JOB = "prune-database"
PRUNE_EVERY = 600  # seconds
RECONCILE_JOB = "follow-monitors"
RECONCILE_EVERY = 60  # seconds
TEND_JOB = "tend-incidents"
TEND_EVERY = 60  # seconds
# A webhook's trigger no check began this long after: its process died before its check
# claimed anything, so the leader's minute job checks it. (One whose check a process killed
# mid-check claimed is checked once that process's liveness expired: `answer_left_triggers`.)
STALE_TRIGGER = 60  # seconds
CERTS_JOB = "read-certificates"
CERTS_EVERY = 600  # seconds: each app's certificates are read every 6 hours (SPEC §15)
STATUS_JOB = "read-heroku-status"
STATUS_EVERY = 300  # seconds: Heroku's status API, every 5 minutes (SPEC §15)
LEAD_JOB = "lead-polling"  # the renewal's thread (not a job: it never waits for a worker)


class Scheduler:
    def __init__(
        self,
        checker: Checker,
        monitors: Monitors,
        delivery: Delivery,
        outbox: Outbox,
        *,
        teams: TeamWatches,
        spend: Spend,
        ledger: WebhookLedger,
        leadership: Leadership,
        conversations: Conversations | None = None,
        retention: Retention | None = None,
        heartbeat: Heartbeat | None = None,
        certificates: CertificateChecks | None = None,
        platform_status: PlatformStatus | None = None,
        max_workers: int = 4,
        deliver_every: int = 15,
        rate_share: float = 0.5,
        debounce: float = DEBOUNCE,
        minute: float = 60.0,
    ) -> None:
        self.checker = checker
        self.monitors = monitors
        self.delivery = delivery
        self.outbox = outbox
        self.teams = teams
        self.spend = spend
        self.ledger = ledger
        self.leadership = leadership
        # Incidents and snoozes, tended every minute (none: nothing to tend).
        self.conversations = conversations
        # Every table's retention, run by the leader's prune job (none: nothing pruned).
        self.retention = retention
        # The leader's reads of certificates and of Heroku's status (none: not read).
        self.certificates = certificates
        self.platform_status = platform_status
        self.deliver_every = deliver_every
        self._was_leading = False
        self.aps = Aps(max_workers)
        self.plan = Plan(spend, rate_share=rate_share, minute=minute, clock=checker.clock)
        self.triggers = Triggers(checker, self.aps, self.plan, debounce=debounce)
        self.polling = Polling(
            checker,
            monitors,
            teams,
            delivery,
            plan=self.plan,
            triggers=self.triggers,
            aps=self.aps,
            leadership=leadership,
            max_workers=max_workers,
            heartbeat=heartbeat,
        )
        self.jobs = IntervalJobs(self.aps, self.plan, self.polling.poll)
        self.wakeups = Wakeups(self.aps, self.deliver)
        self.renewal = Renewal(self._lead, leadership.renew_every, name=LEAD_JOB)
        # What the web and the service call, as they are.
        self.poll_now = self.polling.poll_now
        self.run_round = self.polling.run_round
        self.run_now = self.triggers.run_now
        self.check_soon = self.triggers.check_soon
        self.check_logs_soon = self.triggers.check_logs_soon
        self.deliver_soon = self.wakeups.deliver_soon
        self.deliver_at = self.wakeups.deliver_at
        self.interval_seconds = self.plan.interval_seconds

    @property
    def running(self) -> bool:
        return bool(self.aps.running)

    @property
    def leading(self) -> bool:
        return self.leadership.leads()

    @property
    def budget(self) -> Budget:
        """The polling plan made last, within the rate budget."""
        return self.plan.budget

    @property
    def rounds(self) -> int:
        """The polling rounds this process ran to their end."""
        return self.polling.rounds

    @property
    def debounce(self) -> float:
        """Seconds a webhook's check waits for the rest of its storm."""
        return self.triggers.debounce

    @debounce.setter
    def debounce(self, seconds: float) -> None:
        self.triggers.debounce = seconds

    @property
    def minute(self) -> float:
        """Seconds in an interval's minute: 60, but a test may make time run faster."""
        return self.plan.minute

    @minute.setter
    def minute(self, seconds: float) -> None:
        self.plan.minute = seconds

    @property
    def requests_per_poll(self) -> float:
        """What a round cost per app, measured (the plan's figure until a round ran)."""
        return self.plan.requests_per_poll

    @requests_per_poll.setter
    def requests_per_poll(self, requests: float) -> None:
        self.plan.requests_per_poll = requests

    def start(self) -> None:
        """Start: take the polling lease if it is free (then every active monitor that
        is due is checked in a round right away), and keep tending it."""
        self.aps.start()
        self._lead(starting=True)
        # A restart is often the fix (a new token, an invited bot): try what waits now.
        self.deliver_soon()
        self.renewal.start()
        self.aps.add_job(
            self.deliver,
            "interval",
            seconds=self.deliver_every,
            id=DELIVERY_JOB,
            replace_existing=True,
        )
        self.aps.add_job(
            self.prune, "interval", seconds=PRUNE_EVERY, id=PRUNE_JOB, replace_existing=True
        )
        # Other processes change monitors too: follow the database, so a pause or a new
        # interval saved anywhere reaches the leader's schedule.
        self.aps.add_job(
            self._reconcile,
            "interval",
            seconds=RECONCILE_EVERY,
            id=RECONCILE_JOB,
            replace_existing=True,
        )
        # Incidents end when quiet, snoozes run out: both are time's doing, not a check's.
        self.aps.add_job(
            self._tend, "interval", seconds=TEND_EVERY, id=TEND_JOB, replace_existing=True
        )
        self.aps.add_job(
            self.read_certificates,
            "interval",
            seconds=CERTS_EVERY,
            id=CERTS_JOB,
            replace_existing=True,
        )
        self.aps.add_job(
            self.read_heroku_status,
            "interval",
            seconds=STATUS_EVERY,
            id=STATUS_JOB,
            replace_existing=True,
        )

    def _lead(self, *, starting: bool = False) -> None:
        """Take or renew the polling lease. A process that becomes the leader schedules the
        interval jobs; as it starts, it checks every app at once (what happened while the
        service was down or deploying is seen now), and on a failover only what is overdue
        (the apps the old leader polled lately wait for their turn: polling costs the
        same) and what a webhook asked for that no check answered. One that lost the
        lease drops its jobs."""
        with survived(log, "tending the polling lease"):
            was = self._was_leading
            leads, taken_from = self.leadership.tend()
            self._was_leading = leads
            if taken_from is not None:
                # The old leader died mid-round, maybe: its claims go now, not in minutes.
                self.checker.claims.release_of(taken_from)
            if leads and not was:
                self.reconcile()
                self.polling.poll_overdue(everything=starting)
                if not starting:  # at start every monitor is checked in the round
                    self.answer_triggers()
            elif starting:  # another process leads, or a dead one's lease still holds
                self.answer_triggers()
            elif not leads and was:
                log.info("this process no longer leads the polling")
                self.jobs.drop(set())

    def shutdown(self) -> None:
        """Stop scheduling and wait for running checks (each is bounded by its timeouts)."""
        self.stop_jobs()
        self.polling.shutdown()
        self.leadership.resign()

    def stop_jobs(self, *, wait: bool = True) -> None:
        """Stop renewing the lease and stop APScheduler (without `wait`, leave its running
        jobs to end on their own)."""
        self.renewal.stop()
        self.aps.stop(wait=wait)

    def sync(self, monitor_id: int) -> None:
        """Apply a monitor's saved settings at once: reschedule, and check it now unless
        it is paused or gone."""
        self.reconcile()
        monitor = self.monitors.get(monitor_id)
        if monitor is not None and not monitor.paused:
            self.run_now(monitor.id)

    def reconcile(self) -> None:
        """Plan polling within the rate budget (less what the other checks of every process
        spent in the last hour) and, in the leader, make the interval jobs match the
        monitors in the database: a job per active monitor at its (stretched) interval,
        none for the rest. A process that does not lead has none."""
        active = [m for m in self.monitors.all() if not m.paused]
        self.plan.replan([m.check_interval for m in active], self.checker.clock())
        if not self.leading:
            self.jobs.drop(set())
            return
        self.jobs.follow(active, [w for w in self.teams.all() if not w.paused])

    def next_run(self, monitor: MonitorView) -> datetime | None:
        """When the monitor is polled next: by its job in the leader; elsewhere, its last
        check plus its interval (None for a paused monitor)."""
        return self.jobs.next_run(monitor, leading=self.leading)

    def first_sighting(self, delivery_key: str, asking: Collection[int] = ()) -> bool:
        """False when any process saw this webhook delivery in the last hour; a first one
        keeps the trigger of the monitors it is `asking` to check (see `answer_triggers`)."""
        return self.ledger.first_sighting(delivery_key, self.checker.clock(), asking=asking)

    def answer_triggers(self) -> None:
        """Check at once every monitor a webhook delivery asked to check that no check
        begun since has ended: its process was killed after answering the delivery (or
        mid-check). Run by a process as it starts, and as it takes the lease of a dead
        leader (whose claims it just freed): the delivery is not sent again, and with a
        long interval no poll would see its change for an hour. The leader's minute job
        checks those a process that did not lead left (`answer_left_triggers`)."""
        with survived(log, "checking the monitors whose webhook no check answered"):
            for monitor_id in self.checker.claims.unanswered():
                log.info("monitor %s: a webhook's check was never done; checking now", monitor_id)
                self.check_soon(monitor_id)

    def answer_left_triggers(self) -> None:
        """The leader's minute job: check every monitor whose webhook trigger no check will
        answer, in one read (`Leadership.unanswered`): one a process killed mid-check
        claimed, once that process's liveness expired (a lease after its last renewal; its
        claims are freed first, instead of held for minutes), and one no check began
        `STALE_TRIGGER` seconds after. So a trigger left by any dead process is checked
        within a lease and a minute."""
        with survived(log, "checking the monitors whose webhook no check will answer"):
            stale = timedelta(seconds=STALE_TRIGGER)
            monitor_ids, dead = self.leadership.unanswered(stale=stale)
            for holder, label in sorted(dead.items()):
                log.warning(
                    "the process %s stopped renewing its liveness in the middle of a check: "
                    "its checks are taken over",
                    label,
                )
                self.checker.claims.release_of(holder)
            for monitor_id in monitor_ids:
                log.info("monitor %s: a webhook's check was never done; checking now", monitor_id)
                self.check_soon(monitor_id)

    def deliver(self) -> None:
        """Run the outbox now, in this thread; a failure is logged, never raised."""
        with survived(log, "delivering the outbox"):
            self.delivery.run()

    def prune(self) -> dict[str, int]:
        """The prune job: in the leader only (one process prunes for all), every table's
        retention rule; what went is logged once, at INFO, when anything did."""
        gone: dict[str, int] = {}
        if self.retention is None or not self.leading:
            return gone
        with survived(log, "pruning the database"):
            gone = self.retention.prune(self.checker.clock())
            if gone:
                said = ", ".join(f"{table} {n}" for table, n in gone.items())
                log.info("pruned what its retention no longer keeps (rows deleted): %s", said)
        return gone

    def read_certificates(self) -> None:
        """The leader's job: read the certificates of the apps due (at most every 6 hours
        each) and alert what expires or what ACM failed (SPEC §15)."""
        if self.certificates is None or not self.leading:
            return
        with survived(log, "reading certificates"):
            self.certificates.run()

    def read_heroku_status(self) -> None:
        """The leader's job: read Heroku's status API and post its incidents (SPEC §15)."""
        if self.platform_status is None or not self.leading:
            return
        with survived(log, "reading Heroku's status"):
            self.platform_status.poll()

    def _reconcile(self) -> None:
        with survived(log, "following the monitors in the database"):
            self.checker.flush_spend()
            self.reconcile()
        if self.leading:
            self.answer_left_triggers()

    def _tend(self) -> None:
        if self.conversations is not None:
            self.conversations.tick()
