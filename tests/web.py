"""Helpers for driving the Flask app in tests."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, **kwargs: Any) -> str:
    """The CSRF token a browser would send, read from the dashboard as it would."""
    page = client.get("/", **kwargs).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, "no CSRF token on the dashboard"
    return match.group(1)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
