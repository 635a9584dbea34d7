"""Who may see and change the dashboard, and the security headers of every answer.

With DASHBOARD_PASSWORD: HTTP Basic auth (any user name) for the dashboard and every
state-changing route. On Heroku without it: the dashboard is read-only. The Slack and
webhook endpoints verify their own signatures, and /healthz is for uptime checks.
"""

from __future__ import annotations

import hmac

from flask import Flask, Response, render_template, request

from heroku_monitor.settings import Settings
from heroku_monitor.web.context import current_service

OPEN_ENDPOINTS = frozenset({"healthz.healthz", "slack.commands", "webhooks.heroku", "static"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# No inline scripts or styles, nothing from elsewhere: the page works offline.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def read_only(settings: Settings) -> bool:
    """On Heroku, a dashboard without a password must not let anyone change it."""
    return settings.on_heroku and not settings.dashboard_password


def init_app(app: Flask) -> None:
    @app.before_request
    def guard() -> Response | tuple[str, int] | None:
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        settings = current_service().settings
        if settings.dashboard_password:
            given = request.authorization.password if request.authorization else None
            if given is None or not hmac.compare_digest(
                given.encode(), settings.dashboard_password.encode()
            ):
                return Response(
                    "Sign in with the dashboard password (DASHBOARD_PASSWORD; any user name).",
                    401,
                    {"WWW-Authenticate": 'Basic realm="Heroku Monitor", charset="UTF-8"'},
                )
            return None
        if read_only(settings) and request.method not in SAFE_METHODS:
            return render_template(
                "message.html",
                title="Read-only",
                message="This dashboard is read-only on Heroku until DASHBOARD_PASSWORD is set: "
                "heroku config:set DASHBOARD_PASSWORD=… turns changes on.",
            ), 403
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
