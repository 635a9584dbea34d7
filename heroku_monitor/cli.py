"""The command line: `python app.py [--demo]` runs the service; commands do one thing.

python app.py                                   # the real Heroku and Slack
python app.py --demo                            # the built-in Heroku simulator
python app.py register-webhook APP --url URL    # real-time alerts for APP
python app.py register-drain APP --url URL      # router and runtime errors from its logs
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from flask import Flask
from werkzeug.serving import make_server

from heroku_monitor import service as service_module
from heroku_monitor.heroku.client import HerokuClient
from heroku_monitor.heroku.errors import HerokuError
from heroku_monitor.service import Service
from heroku_monitor.settings import DEFAULT_DATABASE_URL, Settings, SettingsError, from_env
from heroku_monitor.store.database import open_database
from heroku_monitor.store.log_counts import drain_token_key
from heroku_monitor.web import create_app

if TYPE_CHECKING:
    from heroku_sim import SimulatorServer

log = logging.getLogger("heroku_monitor")

DEMO_APP = "demo-app"
# The app webhook entities that can change what a check sees (`api:build`: a failed build
# is alerted in seconds, SPEC §14).
WEBHOOK_ENTITIES = ["api:release", "dyno", "api:addon", "api:formation", "api:app", "api:build"]
# Where the service receives deliveries: how `register-webhook` knows its own webhook
# when the URL's host changed.
WEBHOOK_PATH = "/webhooks/heroku"
DEMO_DATABASE = "instance/demo.db"


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("apscheduler", "werkzeug", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str, code: int = 2) -> int:
    """Say one sentence on stderr; returns the exit code."""
    print(f"heroku-monitor: {message}", file=sys.stderr)
    return code


def start_demo(settings: Settings) -> tuple[Settings, SimulatorServer]:
    """Start the simulator with one app and point the settings at it."""
    try:
        from heroku_sim import HEROKU_REFILL_PER_MINUTE, Simulator, SimulatorServer
    except ImportError as exc:
        raise SettingsError(
            "--demo needs the Heroku simulator (the heroku_sim package), which comes with "
            "the source checkout, not with the installed package."
        ) from exc
    app_name = settings.monitored_app_name or DEMO_APP
    # Refill the rate limit as Heroku does, or a long demo would end in 429s.
    sim = Simulator(rate_limit_refill_per_minute=HEROKU_REFILL_PER_MINUTE)
    sim.create_app(app_name)
    try:
        server = SimulatorServer(sim, port=settings.simulator_port)
    except OSError as exc:
        raise SettingsError(
            f"the simulator cannot listen on port {settings.simulator_port} ({exc.strerror}); "
            "set SIMULATOR_PORT to a free port."
        ) from exc
    server.start()
    database_url = settings.database_url
    if database_url == DEFAULT_DATABASE_URL:
        # The simulator starts afresh each run, so the demo's own state does too.
        Path(DEMO_DATABASE).unlink(missing_ok=True)
        database_url = f"sqlite:///{DEMO_DATABASE}"
    interval = settings.check_interval_minutes
    if settings.sources.get("check_interval") == "default":
        interval = 1
    # The simulated app delivers signed webhooks to this demo, as a real app would after
    # `register-webhook`: alerts arrive within a second of a change.
    secret = settings.heroku_webhook_secret or secrets.token_hex(32)
    sim.create_webhook(
        app_name,
        include=WEBHOOK_ENTITIES,
        level="sync",
        url=f"http://127.0.0.1:{settings.port}/webhooks/heroku",
        secret=secret,
    )
    # And its router and runtime lines to a log drain (the demo's H12 and R14 buttons).
    drain_secret = settings.heroku_drain_secret or secrets.token_hex(32)
    sim.create_log_drain(
        app_name, f"http://heroku:{drain_secret}@127.0.0.1:{settings.port}/drains/heroku/{app_name}"
    )
    demo = replace(
        settings,
        heroku_drain_secret=drain_secret,
        heroku_webhook_secret=secret,
        heroku_api_url=server.url,
        heroku_status_url=server.url + "/api/v4/current-status",  # the simulator's status page
        heroku_api_key=sim.token,
        monitored_app_name=app_name,
        slack_channel=settings.default_channel,
        check_interval_minutes=interval,
        database_url=database_url,
    )
    log.info(
        "demo: simulated Heroku API at %s; crash a dyno with\n"
        "    curl -X POST %s/_sim/apps/%s/dynos/web.1/crash",
        server.url,
        server.url,
        app_name,
    )
    return demo, server


def our_webhook(hooks: list[dict[str, Any]], url: str) -> dict[str, Any] | None:
    """The app's webhook that `register-webhook` made before: the one at `url`; else, when
    the URL moved, the only one whose URL path ends with WEBHOOK_PATH. ValueError when
    several end so and none is at `url` (which one is ours cannot be told)."""
    same = [h for h in hooks if h.get("url") == url]
    if same:
        return same[0]
    ours = [h for h in hooks if urlsplit(str(h.get("url") or "")).path.endswith(WEBHOOK_PATH)]
    if len(ours) > 1:
        listed = ", ".join(f"{h.get('id')} ({h.get('url')})" for h in ours)
        raise ValueError(
            f"several webhooks end with {WEBHOOK_PATH}: {listed}; remove the ones no monitor "
            "serves (heroku webhooks:remove ID -a APP) and run this again"
        )
    return ours[0] if ours else None


def register_webhook(settings: Settings, app_name: str, url: str) -> int:
    """Subscribe `url` to the app's webhook events, signed with HEROKU_WEBHOOK_SECRET; run
    again (a rotated secret, a new URL, more event types), it updates that subscription."""
    secret = settings.heroku_webhook_secret
    if not secret:
        return fail(
            "set HEROKU_WEBHOOK_SECRET first (any long random string, e.g. "
            "`openssl rand -hex 32`); the same value must be set where the monitor runs."
        )
    client = HerokuClient(settings.heroku_api_url, settings.heroku_api_key)
    try:
        hook, verb = _create_or_update(client, app_name, url, secret)
    except (HerokuError, ValueError) as exc:
        return fail(f"could not register the webhook on {app_name}: {exc}", 1)
    print(f"{verb} webhook {hook.get('id')} on {app_name}: {', '.join(WEBHOOK_ENTITIES)} -> {url}")
    return 0


def _create_or_update(client: HerokuClient, app: str, url: str, secret: str) -> tuple[Any, str]:
    existing = our_webhook(client.webhooks(app), url)
    if existing is None:
        try:
            hook = client.create_webhook(app, url=url, secret=secret, include=WEBHOOK_ENTITIES)
            return hook, "Registered"
        except HerokuError as exc:
            # 409: made meanwhile (another run of this command): update it instead.
            if exc.status != 409:
                raise
            existing = our_webhook(client.webhooks(app), url)
            if existing is None:
                raise
    hook = client.update_webhook(
        app, str(existing["id"]), url=url, secret=secret, include=WEBHOOK_ENTITIES
    )
    return hook, "Updated"


def register_drain(settings: Settings, app_name: str, url: str) -> int:
    """Add the app's HTTPS log drain at `url` (this service's POST /drains/heroku/APP), the
    drain password in the URL Heroku posts to; run again (a rotated secret, a new host), it
    replaces the drain it made before, so one drain remains. Keeps the drain's token."""
    secret = settings.heroku_drain_secret
    if not secret:
        return fail(
            "set HEROKU_DRAIN_SECRET first (any long random string, e.g. "
            "`openssl rand -hex 32`); the same value must be set where the monitor runs."
        )
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return fail("--url must be https://HOST/drains/heroku/APP, without a user or password.")
    netloc = f"heroku:{quote(secret, safe='')}@{parts.netloc}"
    with_password = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    client = HerokuClient(settings.heroku_api_url, settings.heroku_api_key)
    try:
        drains = client.log_drains(app_name)
        same = next((d for d in drains if d.get("url") == with_password), None)
        if same is None:
            for old in drains:  # ours from before: another secret, or another host
                if urlsplit(str(old.get("url") or "")).path == parts.path:
                    client.delete_log_drain(app_name, str(old["id"]))
            same = client.create_log_drain(app_name, with_password)
    except HerokuError as exc:
        said = str(exc).replace(quote(secret, safe=""), "***").replace(secret, "***")
        return fail(f"could not register the log drain on {app_name}: {said}", 1)
    try:
        db = open_database(settings.database_url)
    except SettingsError as exc:
        return fail(str(exc))
    db.keep(drain_token_key(app_name), str(same.get("token") or ""))
    db.close()
    print(f"Registered log drain {same.get('id')} on {app_name} -> {url}")
    return 0


def start(settings: Settings, simulator: SimulatorServer | None = None) -> tuple[Service, Flask]:
    """Build the service and its web app, and start it (Socket Mode, the scheduler).

    Raises SettingsError, one sentence, for what a user can fix (database, Slack app token).
    """
    service = service_module.build(settings, simulator=simulator)
    try:
        web = create_app(service)
        service.start()
    except BaseException:
        service.stop()
        raise
    return service, web


def run(settings: Settings) -> int:
    """Run the service in this process (werkzeug's threaded server) until interrupted."""
    try:
        # Bound first, by us: werkzeug would print its own lines and exit on a busy port,
        # after the scheduler had started.
        listener = socket.create_server(("0.0.0.0", settings.port))
    except OSError as exc:
        return fail(
            f"cannot listen on port {settings.port} ({exc.strerror}); set PORT to a free port."
        )
    simulator = None
    try:
        if settings.demo:
            settings, simulator = start_demo(settings)
        service, web = start(settings, simulator)
    except SettingsError as exc:
        listener.close()
        if simulator is not None:
            simulator.stop()
        return fail(str(exc))
    try:  # the scheduler runs: a Ctrl-C from here on stops it before the process ends
        server = make_server("0.0.0.0", settings.port, web, threaded=True, fd=listener.fileno())
        listener.close()  # the server holds its own copy of the socket
        log.info("dashboard on http://localhost:%s", settings.port)
        stop_on_sigterm(server)
        server.serve_forever()  # until Ctrl-C or SIGTERM: it returns, and closes the socket
    finally:
        service.stop()
    return 0


def stop_on_sigterm(server: Any) -> None:
    """Heroku stops a dyno with SIGTERM (then SIGKILL 30 s later): end the server's loop, so
    the service stops cleanly (the drains' pending counts written, the lease given up)."""
    if threading.current_thread() is not threading.main_thread():
        return  # signals reach the main thread only (a test running `run` in a thread)

    def shut_down(signum: int, frame: object) -> None:
        log.info("SIGTERM: stopping")
        threading.Thread(target=server.shutdown, daemon=True).start()  # not in the loop's own

    signal.signal(signal.SIGTERM, shut_down)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Watch Heroku apps and alert Slack.")
    parser.add_argument("--demo", action="store_true", help="use the built-in Heroku simulator")
    commands = parser.add_subparsers(dest="command")
    register = commands.add_parser(
        "register-webhook", help="create the Heroku app webhook that makes alerts real-time"
    )
    register.add_argument("app", help="the monitored Heroku app")
    register.add_argument(
        "--url", required=True, help="public URL of POST /webhooks/heroku on this service"
    )
    drain = commands.add_parser(
        "register-drain", help="add the Heroku log drain that brings router and runtime errors"
    )
    drain.add_argument("app", help="the monitored Heroku app")
    drain.add_argument(
        "--url",
        required=True,
        help="public URL of POST /drains/heroku/APP on this service (no credentials)",
    )
    args = parser.parse_args(argv)
    configure_logging()
    registering = args.command in ("register-webhook", "register-drain")
    try:
        settings = from_env(os.environ, demo=args.demo, require_slack=not registering)
    except SettingsError as exc:
        return fail(str(exc))
    if args.command == "register-webhook":
        return register_webhook(settings, args.app, args.url)
    if args.command == "register-drain":
        return register_drain(settings, args.app, args.url)
    return run(settings)


def serve_in_process(env: Mapping[str, str]) -> Flask:
    """For a WSGI server: the started service's web app; a bad environment exits with
    one line, as `python app.py` does."""
    configure_logging()
    try:
        service, web = start(from_env(env))
    except SettingsError as exc:
        raise SystemExit(fail(str(exc))) from None
    atexit.register(service.stop)
    return web


def entry() -> None:
    """The `heroku-monitor` console script, as `python app.py`: Ctrl-C before the server's
    loop exits 130 without a traceback (what had started is stopped by `run`)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
