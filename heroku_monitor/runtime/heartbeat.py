"""Watching the watcher (SPEC §16): with `HEARTBEAT_URL` set, the polling leader requests
it after every round that worked, so a dead man's switch (healthchecks.io, Cronitor,
Better Stack…) alerts when the pings stop: a dead service, a stuck scheduler or a lost
database all stop them.

Which rounds ping is the round's business (`Polling.run_round`); this only sends. A ping
never delays a round: it is requested on a thread of its own (GET, 5 s timeout), at most
one at a time (a round that ends while the last ping is still pending skips its own: the
switch only needs to hear from us once a period). A failing heartbeat is logged once per
outage, then counted, and never raised: watching the watcher must not stop the watcher.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds, to connect and again to read (SPEC §16)


class Heartbeat:
    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        # The URL holds the check's secret (hc-ping.com/<uuid>): logs name its host only.
        self.host = urlsplit(url).hostname or "the heartbeat"
        self.sent = 0  # pings the heartbeat service answered with a success
        self.failed = 0  # pings that failed (no answer in time, an error, a 4xx or 5xx)
        self.skipped = 0  # pings not sent because the one before was still pending
        self._session = requests.Session()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heartbeat")
        self._lock = threading.Lock()
        self._pending: Future[None] | None = None
        self._failing = False  # in an outage: its first failure was logged

    def ping(self) -> bool:
        """Request the URL on the heartbeat's thread and return at once; False (and no
        request) when the previous ping is still pending or the heartbeat was closed."""
        with self._lock:
            if self._pending is not None and not self._pending.done():
                self.skipped += 1
                return False
            try:
                self._pending = self._pool.submit(self._request)
            except RuntimeError:  # closed: the service is stopping
                return False
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the pending ping, if any (tests, and a clean stop)."""
        with self._lock:
            pending = self._pending
        if pending is not None:
            pending.exception(timeout=timeout)

    def close(self) -> None:
        """Stop pinging; a ping in flight ends on its own timeout, nobody waits for it."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def _request(self) -> None:
        try:
            response = self._session.get(self.url, timeout=self.timeout)
            response.raise_for_status()
        except requests.RequestException as exc:
            # Never the error's own text: it quotes the URL's path, the check's secret.
            status = getattr(exc.response, "status_code", None)
            self._failed(f"{type(exc).__name__}" + (f" (HTTP {status})" if status else ""))
            return
        except Exception:  # a bug: its traceback once, and the rounds go on
            self.failed += 1
            if not self._failing:
                self._failing = True
                log.exception("the heartbeat to %s failed on a bug", self.host)
            return
        if self._failing:
            log.info("the heartbeat to %s works again (%s pings failed)", self.host, self.failed)
        self._failing = False
        self.sent += 1

    def _failed(self, reason: str) -> None:
        self.failed += 1
        if self._failing:
            return
        self._failing = True
        log.warning(
            "the heartbeat to %s failed (%s); said once until it works again", self.host, reason
        )
