"""`POST /slack/commands`: Slack's requests over HTTP, handed to the service's Bolt app.

Without SLACK_SIGNING_SECRET it answers 503 saying why (Socket Mode needs no URL). The
signature is checked here first, with slack_sdk's verifier, before Bolt reads anything:
unsigned junk (a malformed timestamp, a body that is not what its Content-Type says, a
body over the size limit) gets a 4xx and one short log line, never a traceback.
https://api.slack.com/authentication/verifying-requests-from-slack
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from heroku_monitor.web.context import current_service

log = logging.getLogger(__name__)

bp = Blueprint("slack", __name__)


def _refusal() -> tuple[Response, int] | None:
    """401 unless the request carries Slack's valid signature of its body (read here, within
    the app's body size limit, which answers 413 beyond it)."""
    secret = current_service().settings.slack_signing_secret or ""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    well_formed = (
        timestamp.isascii()
        and timestamp.isdigit()
        and len(timestamp) <= 12  # seconds since 1970; int() refuses 5,000 digits
        and signature.isascii()
        and signature.startswith("v0=")
    )
    if not well_formed:
        reason = "no valid X-Slack-Request-Timestamp or X-Slack-Signature"
    elif not SignatureVerifier(secret).is_valid(request.get_data(), timestamp, signature):
        reason = "a signature that does not match, or is over 5 minutes old"
    else:
        return None
    log.info("refused a request to %s from %s: %s", request.path, request.remote_addr, reason)
    return jsonify(error="The request is not signed by Slack."), 401


@bp.post("/slack/interactions")
def interactions() -> Response | tuple[Response, int]:
    """The incident buttons (Acknowledge, Snooze 1 h), handed to the Bolt app."""
    return commands()


@bp.post("/slack/commands")
def commands() -> Response | tuple[Response, int]:
    service = current_service()
    if service.bolt is None or not service.settings.slack_signing_secret:
        message = (
            "Slash commands over HTTP are off: set SLACK_SIGNING_SECRET (from your Slack "
            "app's Basic Information page) to turn them on."
        )
        return jsonify(error=message), 503
    refused = _refusal()
    if refused is not None:
        return refused
    return SlackRequestHandler(service.bolt).handle(request)
