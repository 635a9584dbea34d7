"""Demo mode's buttons: cause events on the simulated app, then check it at once.

The buttons change the simulator, never the monitor: detection stays in the engine.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

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


def _h12_storm(sim: Simulator, app: str) -> str:
    from heroku_sim.logs import router_error

    statuses = sim.write_logs(app, [router_error(app, "H12") for _ in range(10)])
    return f"{app}'s router timed out 10 requests (H12), written to {len(statuses)} log drain(s)."


def _r14(sim: Simulator, app: str) -> str:
    from heroku_sim.logs import runtime_error

    statuses = sim.write_logs(app, [runtime_error("R14", "web.1")])
    return f"web.1 of {app} ran out of memory (R14), written to {len(statuses)} log drain(s)."


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
    flash(f"{said} Checking now: the alert follows in a moment.", "ok")
    return redirect(url_for("dashboard.index"), code=303)
