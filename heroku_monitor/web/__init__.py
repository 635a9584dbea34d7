"""The Flask app. `create_app` builds it around a Runtime and starts nothing."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from heroku_monitor.runtime import Runtime
from heroku_monitor.status import StatusService
from heroku_monitor.web import auth, dashboard, demo, health, slack_commands, webhooks


def create_app(runtime: Runtime) -> Flask:
    settings = runtime.settings
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or runtime.store.secret("secret_key"),
        # The token lives as long as the session: a dashboard left open still works.
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.on_heroku,
        # Nothing we accept is near this; a bigger body is refused before it is read.
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.extensions["runtime"] = runtime
    auth.init_app(app, settings)  # before CSRF: a stranger gets 401/403, not a form error
    csrf = CSRFProtect(app)
    dashboard.init_app(app, runtime)
    health.init_app(app, runtime)
    webhooks.init_app(app, runtime)
    if runtime.simulator is not None:
        demo.init_app(app, runtime)
    status = StatusService(
        runtime.store, runtime.heroku, runtime.engine.digest_key, runtime.engine.clock
    )
    app.extensions["bolt"] = slack_commands.init_app(app, settings, status)
    # Slack and Heroku sign their requests; they cannot send our CSRF token.
    csrf.exempt("heroku_monitor.web.slack_commands.commands")
    csrf.exempt("heroku_monitor.web.webhooks.heroku")

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
