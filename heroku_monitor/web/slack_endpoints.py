"""`POST /slack/commands`: Slack's requests over HTTP, handed to the service's Bolt app.

Without SLACK_SIGNING_SECRET it answers 503 saying why (Socket Mode needs no URL).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from slack_bolt.adapter.flask import SlackRequestHandler

from heroku_monitor.web.context import current_service

bp = Blueprint("slack", __name__)


@bp.post("/slack/commands")
def commands() -> Response | tuple[Response, int]:
    service = current_service()
    if service.bolt is None or not service.settings.slack_signing_secret:
        message = (
            "Slash commands over HTTP are off: set SLACK_SIGNING_SECRET (from your Slack "
            "app's Basic Information page) to turn them on."
        )
        return jsonify(error=message), 503
    return SlackRequestHandler(service.bolt).handle(request)
