"""The Flask app. `create_app` builds it around a Runtime and starts nothing."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template

from heroku_monitor.runtime import Runtime


def create_app(runtime: Runtime) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = runtime.settings.secret_key or runtime.store.secret("secret_key")
    app.extensions["runtime"] = runtime

    @app.get("/")
    def index() -> str:
        return render_template(
            "index.html",
            monitors=runtime.store.monitors(),
            alerts=runtime.store.alerts(limit=20),
            demo=runtime.settings.demo,
        )

    @app.get("/healthz")
    def healthz() -> tuple[Any, int]:
        health = runtime.engine.health
        running = runtime.scheduler.running
        healthy = running and health.last_ok is not False
        body = {
            "status": "ok" if healthy else "unhealthy",
            "scheduler": "running" if running else "stopped",
            "last_check_at": health.last_check_at.isoformat() if health.last_check_at else None,
            "last_check_ok": health.last_ok,
            "last_error": health.last_error,
            "heroku_rate_limit_remaining": runtime.heroku.rate_limit_remaining,
        }
        return jsonify(body), 200 if healthy else 503

    return app
