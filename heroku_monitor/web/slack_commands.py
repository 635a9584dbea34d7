"""`POST /slack/commands`: the `/heroku-status` slash command through Slack's Bolt.

Bolt checks the v0 signature and its 5-minute window and answers 401 when it fails. The
listener acks at once (from the last snapshot where there is one) and, for an app that
must be read live, answers later through the command's response_url.
https://api.slack.com/interactivity/slash-commands#responding_to_commands
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from heroku_monitor.settings import Settings, SettingsError
from heroku_monitor.status import StatusService

log = logging.getLogger(__name__)

COMMAND = "/heroku-status"


def build_bolt(settings: Settings, status: StatusService) -> App:
    """The Bolt app; building it calls nothing over the network.

    `authorize` stands in for Bolt's default single-team authorization, which would call
    `auth.test` on the first request (and read SLACK_BOT_TOKEN from the environment).
    """
    token = settings.slack_bot_token or None

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    bolt = App(
        signing_secret=settings.slack_signing_secret or "socket-mode-needs-no-signature",
        authorize=authorize,
        client=WebClient(token=token, base_url=settings.slack_api_url, timeout=10),
        token_verification_enabled=False,
        request_verification_enabled=bool(settings.slack_signing_secret),
        ssl_check_enabled=True,
        url_verification_enabled=True,
        logger=log,
    )

    @bolt.command(COMMAND)
    def heroku_status(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        answer = status.answer(str(command.get("text") or ""))
        ack(response_type="ephemeral", text=answer.text, blocks=answer.blocks)
        if answer.fetch:
            later = status.live(answer.fetch)
            respond(
                response_type="ephemeral",
                text=later.text,
                blocks=later.blocks,
                replace_original=True,
            )

    return bolt


def init_app(app: Flask, settings: Settings, status: StatusService) -> App | None:
    """Mount `/slack/commands`; without SLACK_SIGNING_SECRET it answers 503 saying why.

    Returns the Bolt app when slash commands are on (over HTTP or Socket Mode).
    """
    blueprint = Blueprint("slack", __name__)
    bolt = None
    if settings.slack_signing_secret or settings.slack_app_token:
        bolt = build_bolt(settings, status)
    handler = SlackRequestHandler(bolt) if bolt and settings.slack_signing_secret else None

    @blueprint.post("/slack/commands")
    def commands() -> Response | tuple[Response, int]:
        if handler is None:
            message = (
                "Slash commands over HTTP are off: set SLACK_SIGNING_SECRET (from your Slack "
                "app's Basic Information page) to turn them on."
            )
            return jsonify(error=message), 503
        return handler.handle(request)

    app.register_blueprint(blueprint)
    return bolt


def start_socket_mode(bolt: App, app_token: str) -> Any:
    """Serve the command over Socket Mode (no public URL needed); returns the handler."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(bolt, app_token)
    try:
        handler.connect()
    except Exception as exc:  # slack_sdk raises several kinds; each means "no connection"
        raise SettingsError(
            f"Could not connect to Slack over Socket Mode with SLACK_APP_TOKEN "
            f"({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'})."
        ) from exc
    log.info("slash commands: connected to Slack over Socket Mode")
    return handler
