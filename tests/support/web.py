"""Helpers for driving the Flask app in tests."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from slack_sdk.signature import SignatureVerifier

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from loopback import BackgroundServer

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, **kwargs: Any) -> str:
    """The CSRF token a browser would send, read from the dashboard as it would."""
    page = client.get("/", **kwargs).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, "no CSRF token on the dashboard"
    return match.group(1)


@dataclass
class Site:
    """The Flask app of a service and its test client; posts carry the CSRF token."""

    service: Service
    app: Flask
    client: FlaskClient

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: object):
        fields = {"csrf_token": csrf_token(self.client, **kwargs), **(data or {})}
        return self.client.post(path, data=fields, **kwargs)


# Seconds in an interval's minute (`Scheduler.minute`) for a test that counts Heroku
# requests or checks while a scheduler runs: interval polls fall on a grid of their interval
# since the epoch (every 5 minutes of the clock with a real minute), which a test must not
# straddle; with this minute the grid's points are weeks apart.
NO_INTERVAL_POLLS = 1e6


def slack_signed(secret: str, body: str, *, age: float = 0) -> dict[str, str]:
    """The headers of a form Slack posts, `body` signed with `secret` `age` seconds ago."""
    timestamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None  # None only without a secret
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class LiveSite(BackgroundServer):
    """The Flask app served on 127.0.0.1 from a thread, with the scheduler running."""

    def __init__(self, service: Service) -> None:
        super().__init__(create_app(service), name="live-site")
        self.service = service

    def start(self) -> LiveSite:
        super().start()
        self.service.scheduler.start()
        return self

    def stop(self) -> None:
        super().stop()
        self.service.stop()
