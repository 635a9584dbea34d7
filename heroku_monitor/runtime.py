"""Wire the pieces together from Settings: the one place that builds the service.

`python app.py`, gunicorn (`wsgi.py`), the end-to-end tests and the benchmark all use it.
Building starts nothing; `start()` starts the scheduler.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from heroku_monitor.engine import Clock, Engine, utcnow
from heroku_monitor.heroku import HerokuClient
from heroku_monitor.scheduler import Scheduler
from heroku_monitor.settings import Settings, SettingsError
from heroku_monitor.slack import LogNotifier, Notifier, SlackNotifier
from heroku_monitor.store import SchemaError, Store

if TYPE_CHECKING:
    from heroku_monitor.simulator import SimulatorServer

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    heroku: HerokuClient
    notifier: Notifier
    engine: Engine
    scheduler: Scheduler
    simulator: SimulatorServer | None = None
    # More to close at stop (a Socket Mode connection).
    closers: list[Callable[[], object]] = field(default_factory=list)

    def start(self) -> None:
        # A restart is often the fix (a new token, an invited bot): try undelivered alerts again.
        self.store.requeue_failed(self.engine.clock())
        self.scheduler.start()

    def stop(self) -> None:
        for close in self.closers:
            close()
        self.scheduler.shutdown()
        if self.simulator is not None:
            self.simulator.stop()
        self.store.close()


def open_store(url: str) -> Store:
    """The store at `url`; a database that cannot be opened is a SettingsError saying why,
    without the URL's password."""
    try:
        return Store(url)
    except (SQLAlchemyError, OSError, SchemaError, CommandError) as exc:
        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except SQLAlchemyError:
            shown = "DATABASE_URL"
        if isinstance(exc, ArgumentError):
            reason = "that is not a database URL (try postgres://… or sqlite:///path)"
        elif isinstance(exc, SchemaError):
            reason = str(exc)
        elif isinstance(exc, CommandError):
            reason = f"its schema is newer than this version knows ({exc}); upgrade the code"
        elif isinstance(exc, DBAPIError) and exc.orig is not None:
            reason = str(exc.orig).strip().splitlines()[0]
        else:
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise SettingsError(f"Cannot open the database at {shown}: {reason}.") from exc


def config_digest_key(settings: Settings, store: Store) -> bytes:
    """The key config var values are digested with. Derived from SECRET_KEY when it is
    set, so that the database holding the digests does not hold their key too (a dump
    alone then allows no guessing of short values); else one kept in the database."""
    if settings.secret_key:
        return hmac.new(settings.secret_key.encode(), b"config-var-digests", "sha256").digest()
    return store.secret("config_digest_key").encode()


def build(settings: Settings, *, clock: Clock = utcnow) -> Runtime:
    """Everything the service needs, built from `settings`, with nothing started."""
    store = open_store(settings.database_url)
    store.seed(
        settings.monitored_app_name,
        settings.slack_channel,
        settings.check_interval_minutes,
        clock(),
    )
    heroku = HerokuClient(
        settings.heroku_api_url, settings.heroku_api_key, release_window=settings.release_window
    )
    notifier: Notifier
    if settings.slack_bot_token:
        notifier = SlackNotifier(settings.slack_bot_token, settings.slack_api_url)
    else:
        notifier = LogNotifier()
    digest_key = config_digest_key(settings, store)
    engine = Engine(store, heroku, notifier, digest_key=digest_key, clock=clock)
    scheduler = Scheduler(
        engine, max_workers=settings.max_concurrent_checks, rate_share=settings.rate_share
    )
    return Runtime(settings, store, heroku, notifier, engine, scheduler)
