"""The one composition root: `build(settings)` makes every part of the service.

`python app.py`, gunicorn (`wsgi.py`), the tests and the benchmark all build the service
here; the Flask app (`web.create_app`) and the Socket Mode handler only wrap what it
made. Building starts nothing: `Service.start()` connects Socket Mode and starts the
scheduler, `Service.stop()` ends both.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from heroku_monitor.core.clock import Clock, utcnow
from heroku_monitor.heroku.client import HerokuClient
from heroku_monitor.heroku.status import StatusClient
from heroku_monitor.render.messages import undelivered
from heroku_monitor.runtime import memory, slack_app
from heroku_monitor.runtime.certificates import CertificateChecks
from heroku_monitor.runtime.check import Checker
from heroku_monitor.runtime.conversations import Conversations
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.runtime.heartbeat import Heartbeat
from heroku_monitor.runtime.limits import Limits
from heroku_monitor.runtime.platform_status import PlatformStatus
from heroku_monitor.runtime.scheduler import Scheduler
from heroku_monitor.runtime.slack_app import StatusAnswers
from heroku_monitor.settings import Settings
from heroku_monitor.slack.notifier import LogNotifier, Notifier, SlackNotifier
from heroku_monitor.store import changes
from heroku_monitor.store.certificates import CertificateReads
from heroku_monitor.store.claims import CheckClaims
from heroku_monitor.store.database import Database, open_database
from heroku_monitor.store.incidents import IncidentStore
from heroku_monitor.store.leader import Leadership
from heroku_monitor.store.limit_settings import LimitSettings
from heroku_monitor.store.log_counts import LogCounts
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import Outbox
from heroku_monitor.store.platform_status import PlatformIncidents
from heroku_monitor.store.retention import Retention
from heroku_monitor.store.samples import Samples
from heroku_monitor.store.sightings import WebhookLedger
from heroku_monitor.store.spend import Spend
from heroku_monitor.store.teams import TeamWatches

if TYPE_CHECKING:  # the simulator is only imported, lazily, by `--demo`
    from slack_bolt import App

    from heroku_sim import SimulatorServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patience:
    """How long the service waits on Heroku and Slack, and how it backs off. The defaults
    are for production; tests pass shorter ones instead of waiting on real back-off."""

    heroku_timeout: tuple[float, float] = (3.05, 10.0)  # connect, read (seconds)
    heroku_retries: int = 3
    heroku_backoff: float = 0.5  # urllib3's backoff_factor
    # chat.postMessage answers in well under a second; a post that takes 5 s is lost.
    slack_timeout: int = 5
    slack_retries: int = 2
    slack_backoff: float = 0.5  # slack_sdk's backoff_factor

    # Time to record a post as sent once Slack answered (a busy database may make it wait).
    settle_seconds: int = 10

    @property
    def claim(self) -> float:
        """Seconds a check's claim on its app holds when its process dies mid-check: longer
        than a check can take (its requests run at once, each with its timeout, retries
        and back-off), so no live check loses its claim."""
        tries = self.heroku_retries + 1
        pauses = sum(min(8.0, self.heroku_backoff * 2**n) for n in range(self.heroku_retries))
        return float(math.ceil(sum(self.heroku_timeout) * tries + pauses + 20))

    @property
    def lease(self) -> float:
        """Seconds an outbox claim holds: just longer than the longest post can take (each
        try's timeout, the back-off between tries and its jitter) and recording it, so no
        other process takes an alert while it is being sent, and one whose sender died
        goes within seconds of the lease's end."""
        tries = self.slack_retries + 1
        pauses = sum(self.slack_backoff * (2**n + 2) for n in range(self.slack_retries))
        return float(math.ceil(self.slack_timeout * tries + pauses + self.settle_seconds))


@dataclass
class Service:
    settings: Settings
    db: Database
    monitors: Monitors
    outbox: Outbox
    heroku: HerokuClient
    notifier: Notifier
    delivery: Delivery
    checker: Checker
    scheduler: Scheduler
    answers: StatusAnswers
    conversations: Conversations
    teams: TeamWatches
    leadership: Leadership
    # Makes the Slack app (Bolt), when slash commands are on over HTTP or Socket Mode.
    make_bolt: Callable[[], App] | None = None
    # Demo mode: the simulated Heroku the service watches (its buttons act on it).
    simulator: SimulatorServer | None = None
    # SPEC §15: the leader's reads of certificates and of Heroku's status page.
    certificates: CertificateChecks | None = None
    platform_status: PlatformStatus | None = None
    # More to close at stop (the Socket Mode connection).
    closers: list[Callable[[], object]] = field(default_factory=list)
    # Gives malloc's free pages back every minute while the service runs (runtime/memory.py).
    trimmer: memory.Trimmer = field(default_factory=memory.Trimmer)
    _bolt: App | None = field(default=None, init=False, repr=False)
    _bolt_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def clock(self) -> Clock:
        return self.checker.clock

    @property
    def bolt(self) -> App | None:
        """The Slack app, made at its first use (Socket Mode's start, the first request to
        /slack/*): a process that only polls never loads Bolt, which costs ~5 MB."""
        if self.make_bolt is None:
            return None
        with self._bolt_lock:
            if self._bolt is None:
                self._bolt = self.make_bolt()
            return self._bolt

    def start(self) -> None:
        """Connect Socket Mode (SettingsError, one sentence, when it cannot) and start the
        scheduler. A restart is often the fix (a new token, an invited bot): undelivered
        alerts are tried again."""
        if self.settings.slack_app_token and self.bolt is not None:
            handler = slack_app.start_socket_mode(self.bolt, self.settings.slack_app_token)
            self.closers.append(handler.close)
        self.delivery.requeue_failed()
        self.scheduler.start()
        self.trimmer.start()

    def stop(self) -> None:
        self.trimmer.stop()
        # The drains' pending counts go to the database first (a clean shutdown loses none).
        self.checker.log_counts.close()
        if self.checker.limits is not None:
            self.checker.limits.close()
        for close in self.closers:
            close()
        self.scheduler.shutdown()
        self.heroku.close()
        if self.simulator is not None:
            self.simulator.stop()
        self.db.close()


def config_digest_key(settings: Settings, db: Database) -> bytes:
    """The key config var values are digested with. Derived from SECRET_KEY when it is
    set, so that the database holding the digests does not hold their key too (a dump
    alone then allows no guessing of short values); else one kept in the database."""
    if settings.secret_key:
        return hmac.new(settings.secret_key.encode(), b"config-var-digests", "sha256").digest()
    return db.secret("config_digest_key").encode()


def build(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    simulator: SimulatorServer | None = None,
    patience: Patience = Patience(),
) -> Service:
    """Everything the service needs, built from `settings`, with nothing started.

    Raises SettingsError, one sentence, when the database cannot be opened.
    """
    memory.limit_malloc_arenas()  # before any thread of ours allocates (runtime/memory.py)
    db = open_database(settings.database_url)
    monitors, outbox = Monitors(db, summary=undelivered), Outbox(db)
    resolve_after = timedelta(minutes=settings.resolve_after_minutes)
    incident_store, spend = IncidentStore(db, resolve_after=resolve_after), Spend(db)
    monitors.seed(
        settings.monitored_app_name,
        settings.slack_channel,
        settings.check_interval_minutes,
        clock(),
    )
    # SPEC §14: the first monitor's changes channel and repository, seeded once too.
    changes.seed(db, settings.slack_changes_channel, settings.monitored_app_repository, clock())
    teams = TeamWatches(db, outbox)
    teams.seed(
        settings.monitored_team,
        settings.slack_channel,
        settings.check_interval_minutes,
        clock(),
    )
    heroku = HerokuClient(
        settings.heroku_api_url,
        settings.heroku_api_key,
        timeout=patience.heroku_timeout,
        retries=patience.heroku_retries,
        backoff=patience.heroku_backoff,
        release_window=settings.release_window,
        concurrency=settings.max_concurrent_checks,
    )
    notifier: Notifier
    if settings.slack_bot_token:
        notifier = SlackNotifier(
            settings.slack_bot_token,
            settings.slack_api_url,
            timeout=patience.slack_timeout,
            retries=patience.slack_retries,
            backoff=patience.slack_backoff,
        )
    else:
        notifier = LogNotifier()
    digest_key = config_digest_key(settings, db)
    delivery = Delivery(outbox, monitors, notifier, clock, lease=patience.lease)
    # The process's check claims, held `patience.claim` seconds by a process that died.
    claims = CheckClaims(db, ttl=patience.claim)
    checker = Checker(
        monitors,
        outbox,
        heroku,
        delivery,
        incident_store=incident_store,
        log_counts=LogCounts(db),
        limits=Limits(Samples(db), LimitSettings(db)),
        claims=claims,
        spend=spend,
        digest_key=digest_key,
        clock=clock,
        mention=settings.alert_mention,
        dashboard_url=settings.dashboard_url,
    )
    # The lease's holder is the process its check claims name (a new leader frees them).
    leadership = Leadership(
        db, lease_seconds=settings.leader_lease_seconds, clock=clock, holder=claims.owner
    )
    conversations = Conversations(
        monitors, outbox, incident_store, delivery, clock, dashboard_url=settings.dashboard_url
    )
    # The dead man's switch the leader pings after each polling round that worked (§16).
    heartbeat = Heartbeat(settings.heartbeat_url) if settings.heartbeat_url else None
    # SPEC §15: the leader reads certificates (each app every 6 hours) and Heroku's status.
    certificates = CertificateChecks(
        monitors,
        outbox,
        incident_store,
        heroku,
        CertificateReads(db),
        clock,
        mention=settings.alert_mention,
        dashboard_url=settings.dashboard_url,
    )
    platform = PlatformStatus(
        StatusClient(settings.heroku_status_url, timeout=patience.heroku_timeout),
        PlatformIncidents(db),
        outbox,
        clock,
        channel=settings.heroku_status_channel,
    )
    scheduler = Scheduler(
        checker,
        monitors,
        delivery,
        outbox,
        teams=teams,
        spend=spend,
        ledger=WebhookLedger(db),
        leadership=leadership,
        conversations=conversations,
        retention=Retention(db),
        heartbeat=heartbeat,
        certificates=certificates,
        platform_status=platform,
        max_workers=settings.max_concurrent_checks,
        rate_share=settings.rate_share,
    )
    delivery.wake_at = scheduler.deliver_at
    certificates.deliver = platform.deliver = scheduler.deliver_soon
    answers = StatusAnswers(
        monitors, heroku, digest_key, clock, dashboard_url=settings.dashboard_url
    )
    make_bolt = None
    if settings.slack_signing_secret or settings.slack_app_token:
        make_bolt = partial(slack_app.build_bolt, settings, answers, conversations)
    return Service(
        settings,
        db,
        monitors,
        outbox,
        heroku,
        notifier,
        delivery,
        checker,
        scheduler,
        answers,
        conversations,
        teams,
        leadership,
        make_bolt=make_bolt,
        simulator=simulator,
        certificates=certificates,
        platform_status=platform,
        closers=[platform.close, *([heartbeat.close] if heartbeat is not None else [])],
    )
