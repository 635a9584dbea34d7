"""A webhook receiver on 127.0.0.1 for the simulator's deliveries, the retry delays its
tests use, and what the deliveries were."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from loopback import BackgroundServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# Webhook retry delays of a few hundredths of a second, for the simulator's tests.
FAST = (0.02, 0.05, 0.1)


@dataclass
class Received:
    """One request the receiver got: raw body bytes, headers, when."""

    path: str
    headers: Headers
    body: bytes
    at: float

    @property
    def json(self) -> dict[str, Any]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every request and answers the next
    status of `script` (204 once the script is used up). While `gate` is clear, requests
    are recorded and then held (up to 5 s) before the answer."""

    script: deque[int] = field(default_factory=deque)
    gate: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gate.set()
        self._cond = threading.Condition()
        self._http = BackgroundServer(self._app, name="receiver")

    @property
    def url(self) -> str:
        return self._http.url

    def answer(self, *statuses: int) -> None:
        with self._cond:
            self.script.extend(statuses)

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self._answer(Request(environ))
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        received = Received(
            request.path, Headers(request.headers), request.get_data(), time.monotonic()
        )
        with self._cond:
            self.requests.append(received)
            status = self.script.popleft() if self.script else 204
            self._cond.notify_all()
        self.gate.wait(timeout=5)
        return Response(status=status)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout=timeout):
                raise AssertionError(f"Expected {count} requests, got {len(self.requests)}.")
            return list(self.requests)

    def __enter__(self) -> Receiver:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self._http.stop()


def entity_actions(records: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(entity, action) of each delivery record, in order."""
    return [(r["entity"], r["action"]) for r in records]
