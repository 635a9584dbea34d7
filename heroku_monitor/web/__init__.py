"""The Flask app. `create_app` wraps a built Service in the web endpoints; it starts nothing."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from heroku_monitor.render import mrkdwn
from heroku_monitor.service import Service
from heroku_monitor.web import (
    auth,
    dashboard,
    drains,
    healthz,
    heroku_webhooks,
    limits,
    otlp,
    slack_endpoints,
)
from heroku_monitor.web.context import EXTENSION


def create_app(service: Service) -> Flask:
    settings = service.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or service.db.secret("secret_key"),
        # The token lives as long as the session: a dashboard left open still works.
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.on_heroku,
        # Nothing we accept is near this; a bigger body is refused before it is read.
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.extensions[EXTENSION] = service
    app.add_template_filter(mrkdwn.to_html, "mrkdwn")  # alerts shown as Slack shows them
    auth.init_app(app)  # before CSRF: a stranger gets 401/403, not a form error
    csrf = CSRFProtect(app)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(healthz.bp)
    app.register_blueprint(heroku_webhooks.bp)
    app.register_blueprint(slack_endpoints.bp)
    app.register_blueprint(drains.bp)
    app.register_blueprint(otlp.bp)
    app.register_blueprint(limits.bp)  # SPEC §15: the limit rules' thresholds
    # Slack and Heroku sign their requests; they cannot send our CSRF token.
    csrf.exempt(heroku_webhooks.bp)
    csrf.exempt(slack_endpoints.bp)
    csrf.exempt(drains.bp)
    csrf.exempt(otlp.bp)
    if service.simulator is not None:
        from heroku_monitor.web import demo

        app.register_blueprint(demo.bp)

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> tuple[str, int]:
        message = (
            "This form expired or did not come from this dashboard. "
            "Go back, reload the page and try again."
        )
        return render_template("message.html", title="Form refused", message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        message = error.description or ""
        if error.code == 404:
            message = "Nothing here: that page or monitor does not exist."
        title = f"{error.code} {error.name}"
        return render_template("message.html", title=title, message=message), error.code or 500

    return app
