"""Who may see and change the dashboard, and the security headers of every answer.

With DASHBOARD_PASSWORD: HTTP Basic auth (any user name) for the dashboard and every
state-changing route. Without it: on Heroku the dashboard is read-only; elsewhere only
clients on this machine (loopback) may change anything, since it listens on 0.0.0.0. The Slack and
webhook endpoints verify their own signatures, and /healthz is for uptime checks.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Flask, Response, render_template, request

from heroku_monitor.settings import Settings
from heroku_monitor.web.context import current_service

OPEN_ENDPOINTS = frozenset(
    {
        "healthz.healthz",
        "slack.commands",
        "slack.interactions",
        "webhooks.heroku",
        "drains.logplex",
        "otlp.logs_export",
        "static",
    }
)
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


ON_HEROKU = (
    "This dashboard runs on Heroku without DASHBOARD_PASSWORD, so it is read-only: "
    "heroku config:set DASHBOARD_PASSWORD=… turns changes on."
)
NOT_LOCAL = (
    "Without DASHBOARD_PASSWORD, changes are taken only from this machine (it listens on "
    "every address): set DASHBOARD_PASSWORD to make changes from elsewhere."
)


def read_only_reason(settings: Settings, client: str | None) -> str:
    """Why `client` may not change anything here, or "" when it may. Without a password,
    on Heroku nobody may; elsewhere only a client on this machine (loopback) may."""
    if settings.dashboard_password:
        return ""
    if settings.on_heroku:
        return ON_HEROKU
    return "" if _loopback(client) else NOT_LOCAL


def _loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False  # a Unix socket or no address: nothing says it is this machine
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


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
        reason = read_only_reason(settings, request.remote_addr)
        if reason and request.method not in SAFE_METHODS:
            return render_template("message.html", title="Read-only", message=reason), 403
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
