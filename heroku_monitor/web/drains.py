"""`POST /drains/heroku/{app}`: a Cedar app's HTTPS log drain (SPEC section 12).

Logplex POSTs `application/logplex-1` batches: octet-counted RFC 5424 frames, with
`Logplex-Frame-Id` (the same for a batch sent again), `Logplex-Drain-Token` and
`Logplex-Msg-Count`. https://devcenter.heroku.com/articles/log-drains#https-drains
The endpoint parses and counts the batch (pure, `core.logs.count.count_logplex`), hands
it to `runtime.drains` (which keeps it in memory; the process's flusher writes the counts
within a second, then asks for a log check), and answers at once: it waits on no database
write, nor on Slack or Heroku. Malformed frames are counted and skipped; never a 500. When
memory is full and the database cannot take what waits, 503 (Logplex drops the batch).
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Blueprint, Response, jsonify, request

from heroku_monitor.core import validation
from heroku_monitor.core.logs.count import count_logplex
from heroku_monitor.runtime import drains, limits
from heroku_monitor.store.log_counts import PendingFull
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
    counts = service.checker.log_counts
    ours = counts.drain_token(app)
    token = request.headers.get("Logplex-Drain-Token")
    if ours and token and not hmac.compare_digest(token.encode(), ours.encode()):
        # Another drain's batch (one made by hand, an old one): not ours to count.
        return jsonify(lines=0, counted=False, ignored="another drain's token"), 200
    frame = request.headers.get("Logplex-Frame-Id") or hashlib.sha256(body).hexdigest()
    batch = count_logplex(body, token=ours or None)
    if service.checker.limits is not None:  # SPEC §15: runtime-metrics, Postgres metrics
        limits.take_logplex(
            service.checker.limits,
            service.monitors,
            service.scheduler.check_logs_soon,
            app,
            body,
            service.clock(),
            token=ours or None,
        )
    try:
        taken = drains.take_counted(
            counts,
            service.monitors,
            service.scheduler.check_logs_soon,
            app,
            frame,
            batch.counts,
            batch.lines,
            service.clock(),
        )
    except PendingFull:
        return jsonify(error="The log counts cannot reach the database now; try later."), 503
    if batch.malformed:
        log.info("log drain of %s: %d malformed frames skipped", app, batch.malformed)
    # Logplex counts any 2xx as delivered.
    return jsonify(lines=batch.lines, malformed=batch.malformed, counted=taken), 200
