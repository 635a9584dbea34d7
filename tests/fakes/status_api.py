"""A fake of Heroku's status API (status.heroku.com), built from its published behaviour.

`FakeStatusApi` is a real HTTP server on 127.0.0.1 answering `GET /api/v4/current-status`
the way status.heroku.com does (the shape the Heroku CLI's `heroku status` reads, heroku/cli
packages/cli/src/commands/status.ts): `status` [{system, status}] for Apps, Data and Tools,
`incidents` [{id, title, created_at, updated_at, full_url, resolved, updates [{id,
update_type, contents, created_at, updated_at}]}], `scheduled`. It is public: no token.
Its incidents are a `heroku_sim.certs.StatusPage` (`page`), the simulator's own, so both
answer alike.

Faults can be scripted: `fail_next(status, count)` answers an HTTP error, `garble_next(count)`
a body that is not JSON, `set_latency(seconds)` a slow answer (past the client's timeout).
Every request is counted (`requests`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from flask import Flask, Response, jsonify

from heroku_sim.certs import STATUS_PATH, StatusPage
from loopback import BackgroundServer


class FakeStatusApi(BackgroundServer):
    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.page = StatusPage(now)
        self.requests = 0
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self._garbled = 0
        self._latency = 0.0
        super().__init__(self._build(), name="fake-status-api")

    @property
    def status_url(self) -> str:
        """What HEROKU_STATUS_URL is set to, to read this fake."""
        return f"{self.url}{STATUS_PATH}"

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def garble_next(self, count: int = 1) -> None:
        with self._lock:
            self._garbled += count

    def set_latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = seconds

    def _build(self) -> Flask:
        app = Flask("fake_status_api")

        @app.get(STATUS_PATH)
        def current_status() -> Response:
            with self._lock:
                self.requests += 1
                failure = self._failures.pop(0) if self._failures else None
                garbled = self._garbled > 0
                self._garbled -= 1 if garbled else 0
                latency = self._latency
            if latency:
                time.sleep(latency)  # a slow server, for the client's timeout
            if failure is not None:
                return Response("<html>Service Unavailable</html>", failure, mimetype="text/html")
            if garbled:
                return Response('{"status": [', 200, mimetype="application/json")
            return jsonify(self.page.current_status_json())

        return app
