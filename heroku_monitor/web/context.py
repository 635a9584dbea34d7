"""The running service, as the request handlers reach it (Flask's tutorial's `get_db`)."""

from __future__ import annotations

from typing import cast

from flask import current_app

from heroku_monitor.service import Service

EXTENSION = "heroku_monitor"


def current_service() -> Service:
    """The Service the Flask app handling this request was built around."""
    return cast(Service, current_app.extensions[EXTENSION])
