"""`GET /healthz`: whether this process is well, for uptime monitors and Heroku. Always
JSON: 200 when well, 503 with the cause when not (never an error page)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from heroku_monitor.core import detect
from heroku_monitor.service import Service
from heroku_monitor.store.database import database_problem
from heroku_monitor.store.outbox import PENDING
from heroku_monitor.store.overview import Overview
from heroku_monitor.web.context import current_service

bp = Blueprint("healthz", __name__)
TROUBLE = detect.TROUBLE_AFTER  # failed checks in a row that make an app "in trouble"


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 while the scheduler runs, the database can be read and written (a small write,
    given 2 s) and checks can use it, and no
    monitor is in trouble (its checks failed TROUBLE_AFTER times in a row); one failed
    check is noise, not ill health."""
    service = current_service()
    last = service.checker.last_check
    running = service.scheduler.running
    body: dict[str, Any] = {
        "status": "ok",
        "scheduler": "running" if running else "stopped",
        "last_check_at": last.at.isoformat() if last.at else None,
        "last_check_ok": last.ok,
        "last_error": last.error,
        "heroku_rate_limit_remaining": service.heroku.rate_limit_remaining,
        # Checks that failed on a bug (each traceback logged once, then counted).
        "internal_errors": service.checker.internal_errors,
    }
    problems = [] if running else ["the scheduler is stopped"]
    try:
        # (app, paused, failures) of every monitor in one statement: no snapshot is read.
        monitors = Overview(service.db).health()
        body["pending_alerts"] = service.outbox.count(PENDING)
        body["polling"] = polling(service)
    except SQLAlchemyError as exc:
        problems.append(f"the database cannot be read: {database_problem(exc)}")
        monitors = []
    if service.checker.database_error:
        problems.append(f"checks cannot use the database: {service.checker.database_error}")
    elif (unwritable := service.db.write_problem()) is not None:
        problems.append(f"the database cannot be written: {unwritable}")
    troubled = [app for app, paused, failures in monitors if not paused and failures >= TROUBLE]
    if troubled:
        problems.append(f"checks keep failing for {', '.join(troubled)}")
    body.update(monitors=len(monitors), apps_in_trouble=troubled, problems=problems)
    if problems:
        body["status"] = "unhealthy"
    return jsonify(body), 503 if problems else 200


def polling(service: Service) -> dict[str, Any]:
    """Which process polls (SPEC section 13): this one, another, or none right now (the
    lease expired and no process has taken it yet, within two lease periods)."""
    lease = service.leadership.current()
    return {
        "leader": lease.label if lease else None,
        "this_process": service.leadership.label,
        "this_process_leads": bool(lease and lease.ours),
        "leader_since": lease.since.isoformat() if lease else None,
        "lease_expires_at": lease.expires_at.isoformat() if lease else None,
        "lease_seconds": service.leadership.lease.total_seconds(),
    }
