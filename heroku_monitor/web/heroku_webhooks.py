"""`POST /webhooks/heroku`: Heroku app webhook deliveries trigger a check within seconds.

The delivery only says *that* something changed; the check (the same function the
scheduler calls) decides *what* changed, so detection stays in one place and the many
deliveries Heroku may send for one change (a release's create and update, retries) end
in one alert. https://devcenter.heroku.com/articles/app-webhooks#securing-webhook-requests

They must not each cost a check either (five Heroku requests): a delivery whose event id
any process saw in the last hour is ignored (Heroku's retries, a replayed capture), and the
rest go to `Scheduler.check_soon`: the first checks its app at once, and the rest of a storm
for that app joins one trailing check. What a delivery says is read in `heroku.webhooks`.
"""

from __future__ import annotations

import hmac
import json
import logging

from flask import Blueprint, Response, jsonify, request

from heroku_monitor.heroku.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    app_name_of,
    delivery_key,
    signature,
)
from heroku_monitor.web.context import current_service

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)


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
    monitors = service.monitors.active_ids(name) if name else []
    # Seen and its trigger kept in one transaction, before the answer: a process killed
    # after it leaves the trigger for the next process to check (Scheduler.answer_triggers).
    if key is not None and not service.scheduler.first_sighting(key, monitors):
        # Seen before (by this process or another): answer 2xx so Heroku stops retrying.
        return jsonify(app=name, checks=0, duplicate=True), 200
    for monitor_id in monitors:
        service.scheduler.check_soon(monitor_id)
    if name and not monitors:
        log.info("webhook for %s, which no active monitor watches: ignored", name)
    # Heroku counts any 2xx as delivered; answering before the check keeps it fast.
    return jsonify(app=name, checks=len(monitors)), 202
