"""`GET /healthz`: the scheduler's state and the last check, for uptime monitors."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify

from heroku_monitor.runtime import Runtime


def init_app(app: Flask, runtime: Runtime) -> None:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """200 while the scheduler runs and the last check succeeded (or none ran yet)."""
        health = runtime.engine.health
        running = runtime.scheduler.running
        healthy = running and health.last_ok is not False
        body = {
            "status": "ok" if healthy else "unhealthy",
            "scheduler": "running" if running else "stopped",
            "last_check_at": health.last_check_at.isoformat() if health.last_check_at else None,
            "last_check_ok": health.last_ok,
            "last_error": health.last_error,
            "monitors": len(runtime.store.monitors()),
            "pending_alerts": runtime.store.count_alerts("pending"),
            "heroku_rate_limit_remaining": runtime.heroku.rate_limit_remaining,
        }
        return jsonify(body), 200 if healthy else 503

    app.register_blueprint(bp)
