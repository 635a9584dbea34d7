"""`POST /drains/heroku/{app}`: a Cedar app's HTTPS log drain (SPEC section 12).

Logplex POSTs `application/logplex-1` batches: octet-counted RFC 5424 frames, with
`Logplex-Frame-Id` (the same for a batch sent again), `Logplex-Drain-Token` and
`Logplex-Msg-Count`. https://devcenter.heroku.com/articles/log-drains#https-drains
The endpoint parses the batch (pure, `core/logs/parse.py`), hands it to `runtime.drains`
(which counts it into the database in one statement and asks for a log check), and answers
at once: it never waits on Slack or Heroku. Malformed frames are counted and skipped; never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Blueprint, Response, jsonify, request

from heroku_monitor.core import validation
from heroku_monitor.core.logs.parse import parse_logplex
from heroku_monitor.runtime import drains
from heroku_monitor.store.log_counts import drain_token_key
from heroku_monitor.web.context import current_service

log = logging.getLogger(__name__)

bp = Blueprint("drains", __name__)


REALM = {"WWW-Authenticate": 'Basic realm="Heroku Monitor log drain", charset="UTF-8"'}


@bp.post("/drains/heroku/<app>")
def logplex(app: str) -> tuple[Response, int] | Response:
    service = current_service()
    secret = service.settings.heroku_drain_secret
    if not secret:
        message = "Log drains are off: set HEROKU_DRAIN_SECRET to turn them on."
        return jsonify(error=message), 503
    given = request.authorization.password if request.authorization else None
    if given is None or not hmac.compare_digest(given.encode(), secret.encode()):
        response = jsonify(error="Sign in with the drain password (HEROKU_DRAIN_SECRET).")
        response.headers.update(REALM)
        return response, 401
    if validation.app_name_error(app):
        return jsonify(error="That is not a Heroku app name."), 404
    body = request.get_data(cache=False)
    ours = service.db.value(drain_token_key(app))
    token = request.headers.get("Logplex-Drain-Token")
    if ours and token and not hmac.compare_digest(token.encode(), ours.encode()):
        # Another drain's batch (one made by hand, an old one): not ours to count.
        return jsonify(lines=0, counted=False, ignored="another drain's token"), 200
    frame = request.headers.get("Logplex-Frame-Id") or hashlib.sha256(body).hexdigest()
    batch = parse_logplex(body)
    taken = drains.take(
        service.checker.log_counts,
        service.monitors,
        service.scheduler.check_logs_soon,
        app,
        frame,
        batch.lines,
        service.clock(),
        token=ours or None,
    )
    if batch.malformed:
        log.info("log drain of %s: %d malformed frames skipped", app, batch.malformed)
    # Logplex counts any 2xx as delivered.
    return jsonify(lines=len(batch.lines), malformed=batch.malformed, counted=taken), 200
