"""Serve a WSGI app on 127.0.0.1 from a daemon thread: the Heroku simulator (`heroku_sim`),
the fake Slack and the tests' live sites all start and stop the same way.

A neighbour of the product, like the simulator: not in its wheel, used by the demo, the
tests and the benchmark."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: tests and the demo stay readable (errors still show)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class BackgroundServer:
    """Serve `app` on `host:port` (0: any free port) from a daemon thread.

    The socket is bound on construction, so `url` is known before `start()`. Use it as a
    context manager, or call `start()` and `stop()`.
    """

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "http"
    ) -> None:
        self.host = host
        self.name = name
        # Bound here, so a busy port raises OSError (werkzeug would print and exit).
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.create_server((host, port), family=family) as listener:
            self._server: BaseWSGIServer = make_server(
                host, port, app, threaded=True, request_handler=QuietHandler, fd=listener.fileno()
            )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        """Start serving (idempotent); returns self."""
        if self._thread is None:
            # A short poll makes `stop()` (and each test's teardown) quick.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{self.name}-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; waits up to 5 s for the thread."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
