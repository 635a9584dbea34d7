"""Demo mode's buttons: cause events on the simulated app, then check it at once.

The buttons change the simulator, never the monitor: detection stays in the engine.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, flash, redirect, url_for
from werkzeug.wrappers import Response

from heroku_monitor.web.context import current_service
from heroku_monitor.web.forms import ActionForm

if TYPE_CHECKING:  # registered only in demo mode, which has imported the simulator
    from heroku_sim import Simulator

bp = Blueprint("demo", __name__)
log = logging.getLogger(__name__)


def _crash(sim: Simulator, app: str) -> str:
    sim.crash_dyno(app, "web.1")
    return f"Crashed web.1 of {app}."


# A crash loop, as a person would see one: web.1 crashes, Heroku restarts it, it crashes
# again. Seconds apart, so each change has its own time stamp and its own webhook.
LOOP_CRASHES, LOOP_PAUSE = 3, 2.5  # crashes, seconds between changes


def _crash_loop(sim: Simulator, app: str) -> str:
    def loop() -> None:
        try:
            for n in range(LOOP_CRASHES):
                if n:
                    time.sleep(LOOP_PAUSE)
                    sim.start_dyno(app, "web.1")
                    time.sleep(LOOP_PAUSE)
                sim.crash_dyno(app, "web.1")
        except Exception as exc:  # the app or its dyno went away meanwhile: the loop ends
            log.info("demo crash loop of %s ended early: %s", app, exc)

    threading.Thread(target=loop, name="demo-crash-loop", daemon=True).start()
    return (
        f"web.1 of {app} crashes {LOOP_CRASHES} times in the next "
        f"{int(2 * LOOP_PAUSE * (LOOP_CRASHES - 1))} s: watch one thread in Slack."
    )


def _stop(sim: Simulator, app: str) -> str:
    sim.stop_dyno(app, "worker.1")
    return f"Stopped worker.1 of {app}."


def _start(sim: Simulator, app: str) -> str:
    for dyno in sim.dynos_json(app):
        sim.start_dyno(app, dyno["name"])
    return f"Started every dyno of {app}."


def _deploy(sim: Simulator, app: str) -> str:
    return f"Deployed v{sim.deploy(app, DEMO_USER)} of {app}."


def _rollback(sim: Simulator, app: str) -> str:
    versions = sorted(
        int(r["version"]) for r in sim.releases_json(app) if r["status"] == "succeeded"
    )
    target = versions[-2] if len(versions) > 1 else versions[-1]
    sim.rollback(app, target, DEMO_USER)
    return f"Rolled {app} back to v{target}."


def _config(sim: Simulator, app: str) -> str:
    sim.set_config(app, {"DEMO_FLAG": secrets.token_hex(4)}, DEMO_USER)
    return f"Changed the config var DEMO_FLAG of {app}."


def _failing_build(sim: Simulator, app: str) -> str:
    """A push whose build fails (SPEC §14): the alert shows its output's last lines."""
    sim.builds.push(
        app, user=DEMO_USER, message="Add the not-a-real-package dependency", status="failed"
    )
    return f"Pushed a build of {app} that fails."


def _deploy_commit(sim: Simulator, app: str) -> str:
    """A push that builds and releases: the deploy alert names its commit."""
    build_id = sim.builds.push(app, user=DEMO_USER, message="Speed up the product page")
    found = sim.builds.build_json(app, build_id)
    return f"Pushed {found['source_blob']['version'][:7]} to {app}: it built and released."


def _expire_certificate(sim: Simulator, app: str) -> str:
    """SPEC §15: the app's certificate now expires in 10 days."""
    sim.certs.expire_soon(app, days=10)
    return f"The certificate of www.{app}.example.com now expires in 10 days."


def _fail_acm(sim: Simulator, app: str) -> str:
    """SPEC §15: Automated Certificate Management fails for the app's custom domain."""
    return f"ACM failed for {sim.certs.fail_acm(app)}."


def _heroku_incident(sim: Simulator, app: str) -> str:
    """SPEC §15: Heroku's status page reports an incident (the simulator's status API)."""
    sim.status_page.start_incident(
        "Increased error rates for Heroku apps (demo)", systems={"Apps": "red"}
    )
    return "Heroku's status page reports an incident."


def _read_certificates(service: Any, app: str) -> None:
    """Read the app's certificates now rather than at its next 6-hourly read."""
    checks = getattr(service, "certificates", None)
    if checks is not None:
        checks.check_app(app)


def _read_status(service: Any, app: str) -> None:
    """Read Heroku's status now rather than at the leader's next 5-minute read."""
    platform = getattr(service, "platform_status", None)
    if platform is not None:
        platform.poll()


def _h12_storm(sim: Simulator, app: str) -> str:
    from heroku_sim.logs import router_error

    statuses = sim.write_logs(app, [router_error(app, "H12") for _ in range(10)])
    return f"{app}'s router timed out 10 requests (H12), written to {len(statuses)} log drain(s)."


def _r14(sim: Simulator, app: str) -> str:
    from heroku_sim.logs import runtime_error

    statuses = sim.write_logs(app, [runtime_error("R14", "web.1")])
    return f"web.1 of {app} ran out of memory (R14), written to {len(statuses)} log drain(s)."


def _memory_near_quota(sim: Simulator, app: str) -> str:
    """SPEC §15: web.1's runtime-metrics lines at 93 % of its quota for six minutes."""
    from heroku_sim.metrics import memory_near_quota

    statuses = memory_near_quota(sim, app, "web.1")
    drains = len(statuses)
    return f"web.1 of {app} is at 93 % of its memory quota, written to {drains} log drain(s)."


def _database_near_limits(sim: Simulator, app: str) -> str:
    """SPEC §15: the app's database metrics lines near its plan's connections and storage."""
    from heroku_sim.metrics import database_near_limits

    statuses = database_near_limits(sim, app)
    return f"{app}'s database is near its plan's limits, written to {len(statuses)} log drain(s)."


DEMO_USER = "you@example.com"
ACTIONS: dict[str, Callable[[Simulator, str], str]] = {
    "crash": _crash,
    "crashloop": _crash_loop,
    "h12": _h12_storm,
    "r14": _r14,
    "stop": _stop,
    "start": _start,
    "deploy": _deploy,
    "rollback": _rollback,
    "config": _config,
    "failbuild": _failing_build,  # "💥 Push a failing build"
    "commit": _deploy_commit,  # "📦 Deploy a commit"
    "certexpiry": _expire_certificate,  # "🔒 Expire a certificate soon"
    "acmfail": _fail_acm,  # "🔒 Fail ACM"
    "herokuincident": _heroku_incident,  # "🌩️ Start a Heroku incident"
    "nearquota": _memory_near_quota,  # "📈 Memory near quota"
    "database": _database_near_limits,  # "🐘 Database near its limits"
}
# The dashboard's buttons, in the order it shows them: every action has one.
BUTTONS: tuple[tuple[str, str], ...] = (
    ("crash", "💥 Crash web.1"),
    ("crashloop", "🔁 Crash loop"),
    ("h12", "🐌 H12 storm"),
    ("r14", "🧠 R14"),
    ("stop", "🛑 Stop worker.1"),
    ("start", "▶️ Start all dynos"),
    ("deploy", "🚀 Deploy"),
    ("rollback", "⏪ Roll back"),
    ("config", "⚙️ Change a config var"),
    ("failbuild", "💥 Push a failing build"),
    ("commit", "📦 Deploy a commit"),
    ("certexpiry", "🔒 Expire a certificate soon"),
    ("acmfail", "🔒 Fail ACM"),
    ("herokuincident", "🌩️ Start a Heroku incident"),
    ("nearquota", "📈 Memory near quota"),  # SPEC §15
    ("database", "🐘 Database near its limits"),
)
# What a button's change needs besides the app's check (SPEC §15's reads are not a check's).
FOLLOW_UPS: dict[str, Callable[[Any, str], None]] = {
    "certexpiry": _read_certificates,
    "acmfail": _read_certificates,
    "herokuincident": _read_status,
}


@bp.post("/demo/<action>")
def act(action: str) -> Response:
    service = current_service()
    if service.simulator is None or action not in ACTIONS:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    sim = service.simulator.sim
    monitors = [m for m in service.monitors.all() if m.app_name in sim.app_names()]
    if not monitors:
        flash("No monitor watches a simulated app: set App Name to demo-app.", "error")
        return redirect(url_for("dashboard.index"), code=303)
    said = ACTIONS[action](sim, monitors[0].app_name)
    for monitor in monitors:
        if monitor.app_name == monitors[0].app_name:
            service.scheduler.run_now(monitor.id)
    follow_up = FOLLOW_UPS.get(action)
    if follow_up is not None:
        try:
            follow_up(service, monitors[0].app_name)
        except Exception:  # a button must not fail the page: the scheduled read follows
            log.exception("the demo's %s read failed", action)
    flash(f"{said} Checking now: the alert follows in a moment.", "ok")
    return redirect(url_for("dashboard.index"), code=303)
