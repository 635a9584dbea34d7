"""`GET /healthz`: whether this process is well, for uptime monitors and Heroku."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from heroku_monitor import detect
from heroku_monitor.outbox import PENDING
from heroku_monitor.web.context import current_service

bp = Blueprint("healthz", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 while the scheduler runs and no monitor is in trouble (its checks failed
    TROUBLE_AFTER times in a row); one failed check is noise, not ill health."""
    service = current_service()
    last = service.checker.last_check
    running = service.scheduler.running
    monitors = service.monitors.all()
    troubled = [m.app_name for m in monitors if not m.paused and m.failures >= detect.TROUBLE_AFTER]
    well = running and not troubled
    body = {
        "status": "ok" if well else "unhealthy",
        "scheduler": "running" if running else "stopped",
        "last_check_at": last.at.isoformat() if last.at else None,
        "last_check_ok": last.ok,
        "last_error": last.error,
        "monitors": len(monitors),
        "apps_in_trouble": troubled,
        "pending_alerts": service.outbox.count(PENDING),
        "heroku_rate_limit_remaining": service.heroku.rate_limit_remaining,
    }
    return jsonify(body), 200 if well else 503
