"""`POST /webhooks/heroku`: Heroku app webhook deliveries trigger a check within seconds.

The delivery only says *that* something changed; the check (the same function the
scheduler calls) decides *what* changed, so detection stays in one place and the many
deliveries Heroku may send for one change (a release's create and update, retries) end
in one alert. https://devcenter.heroku.com/articles/app-webhooks#securing-webhook-requests

They must not each cost a check either (five Heroku requests): a delivery whose event id
any process saw in the last hour is ignored (Heroku's retries, a replayed capture), and the
rest go to `Scheduler.check_soon`: the first checks its app at once, and the rest of a storm
for that app joins one trailing check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from heroku_monitor.web.context import current_service

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Heroku-Webhook-Hmac-SHA256"
# Not in Heroku's documentation (which names only the signature and Authorization
# headers); used when a body carries no event id.
ID_HEADER = "Heroku-Webhook-Id"
MAX_ID_LENGTH = 100

bp = Blueprint("webhooks", __name__)


def signature(secret: str, body: bytes) -> str:
    """What Heroku puts in Heroku-Webhook-Hmac-SHA256: base64 of HMAC-SHA256 of the body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def app_name_of(payload: Any) -> str | None:
    """The app a delivery is about: `data.app.name`, or `data.name` for the app itself."""
    if not isinstance(payload, dict):
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    app = data.get("app")
    if isinstance(app, dict) and isinstance(app.get("name"), str):
        return str(app["name"])
    if payload.get("resource") == "app" and isinstance(data.get("name"), str):
        return str(data["name"])
    return None


def delivery_key(payload: Any, header: str | None) -> str | None:
    """What identifies a delivery, to ignore it when it comes again: the event's `id`
    (the same in a retry, a duplicate and a replay; `webhook_metadata.event.id` holds it
    too), else the `Heroku-Webhook-Id` header; None when there is neither."""
    event_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID_LENGTH:
        return f"event:{event_id}"
    if header and len(header) <= MAX_ID_LENGTH:
        return f"header:{header}"
    return None


@bp.post("/webhooks/heroku")
def heroku() -> tuple[Response, int]:
    service = current_service()
    secret = service.settings.heroku_webhook_secret
    if not secret:
        message = "Heroku webhooks are off: set HEROKU_WEBHOOK_SECRET to turn them on."
        return jsonify(error=message), 503
    body = request.get_data(cache=False)
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(given.encode(), signature(secret, body).encode()):
        return jsonify(error="The Heroku-Webhook-Hmac-SHA256 signature does not match."), 401
    try:
        payload = json.loads(body)
    except ValueError:
        return jsonify(error="The delivery is not JSON."), 400
    except RecursionError:  # nested deeper than the parser goes: no delivery looks so
        return jsonify(error="The delivery is nested too deeply to be a Heroku event."), 400
    name = app_name_of(payload)
    key = delivery_key(payload, request.headers.get(ID_HEADER))
    if key is not None and not service.scheduler.first_sighting(key):
        # Seen before (by this process or another): answer 2xx so Heroku stops retrying.
        return jsonify(app=name, checks=0, duplicate=True), 200
    monitors = service.monitors.active_ids(name) if name else []
    for monitor_id in monitors:
        service.scheduler.check_soon(monitor_id)
    if name and not monitors:
        log.info("webhook for %s, which no active monitor watches: ignored", name)
    # Heroku counts any 2xx as delivered; answering before the check keeps it fast.
    return jsonify(app=name, checks=len(monitors)), 202
