"""`GET /healthz`: the scheduler's state and the last check, for uptime monitors."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify

from heroku_monitor import detect
from heroku_monitor.runtime import Runtime


def init_app(app: Flask, runtime: Runtime) -> None:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """200 while the scheduler runs and no monitor is in trouble (its checks failed
        TROUBLE_AFTER times in a row); one failed check is noise, not ill health."""
        health = runtime.engine.health
        running = runtime.scheduler.running
        monitors = runtime.store.monitors()
        troubled = [
            m.app_name for m in monitors if not m.paused and m.failures >= detect.TROUBLE_AFTER
        ]
        healthy = running and not troubled
        body = {
            "status": "ok" if healthy else "unhealthy",
            "scheduler": "running" if running else "stopped",
            "last_check_at": health.last_check_at.isoformat() if health.last_check_at else None,
            "last_check_ok": health.last_ok,
            "last_error": health.last_error,
            "monitors": len(monitors),
            "apps_in_trouble": troubled,
            "pending_alerts": runtime.store.count_alerts("pending"),
            "heroku_rate_limit_remaining": runtime.heroku.rate_limit_remaining,
        }
        return jsonify(body), 200 if healthy else 503

    app.register_blueprint(bp)
