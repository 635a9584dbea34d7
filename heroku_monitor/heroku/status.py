"""Heroku's status API (SPEC §15): `GET {HEROKU_STATUS_URL}`, by default
https://status.heroku.com/api/v4/current-status, the answer `heroku status` reads
(heroku/cli, packages/cli/src/commands/status.ts):

    {"status": [{"system": "Apps", "status": "green"}, {"system": "Data", …}, {"system":
    "Tools", …}], "incidents": [{"id", "title", "created_at", "updated_at", "full_url",
    "resolved"?, "updates": [{"id", "update_type", "contents", "created_at",
    "updated_at"}]}], "scheduled": [...]}

A public page: no token is sent (the Heroku API key never leaves for another host). Every
read has a timeout; a read that fails (no answer, an HTTP error, a body that is not that
shape) is None, and said once in the log until a read works again: a failed read never
opens or ends an incident.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests

from heroku_monitor.core.platform_status import (
    PlatformIncident,
    StatusRead,
    StatusUpdate,
    SystemStatus,
)
from heroku_monitor.heroku.mapping import moment
from heroku_monitor.heroku.transport import USER_AGENT

log = logging.getLogger(__name__)

DEFAULT_URL = "https://status.heroku.com/api/v4/current-status"
MAX_INCIDENTS = 50  # Heroku has a handful at once; more is a broken answer, cut
MAX_UPDATES = 100  # per incident


class ShapeError(ValueError):
    """The status API answered something other than its documented shape."""


class StatusClient:
    """Reads the status API; thread-safe."""

    def __init__(self, url: str = DEFAULT_URL, *, timeout: tuple[float, float] = (3.05, 10.0)):
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        self._lock = threading.Lock()
        self._failing: str | None = None  # why the last read failed (said once)
        self.last_error: str | None = None

    def read(self) -> StatusRead | None:
        """The current status, or None when it could not be read (logged once)."""
        try:
            response = self.session.get(self.url, timeout=self.timeout)
            if response.status_code != 200:
                raise ShapeError(f"it answered HTTP {response.status_code}")
            try:
                body = response.json()
            except ValueError as exc:
                raise ShapeError("its answer is not JSON") from exc
            read = parse(body)
        except requests.Timeout:
            self._failed("it did not answer in time")
            return None
        except requests.RequestException as exc:
            self._failed(f"it could not be reached ({type(exc).__name__})")
            return None
        except ShapeError as exc:
            self._failed(str(exc))
            return None
        with self._lock:
            was, self._failing, self.last_error = self._failing, None, None
        if was is not None:
            log.info("Heroku's status API at %s answers again", self.url)
        return read

    def _failed(self, why: str) -> None:
        with self._lock:
            first = self._failing is None
            self._failing = self.last_error = why
        if first:
            log.warning(
                "Heroku's status could not be read from %s: %s; no platform incident is "
                "opened or ended until it can (said once)",
                self.url,
                why,
            )

    def close(self) -> None:
        self.session.close()


def parse(body: Any) -> StatusRead:
    """The status API's answer as core values; ShapeError when it is not that shape."""
    if not isinstance(body, dict):
        raise ShapeError("its answer is not an object")
    systems, incidents = body.get("status"), body.get("incidents")
    if not isinstance(systems, list) or not isinstance(incidents, list):
        raise ShapeError("its answer has no `status` and `incidents` lists")
    try:
        return StatusRead(
            systems=tuple(
                SystemStatus(str(s["system"]), str(s["status"]).lower())
                for s in systems
                if isinstance(s, dict)
            ),
            incidents=tuple(_incident(i) for i in incidents[:MAX_INCIDENTS]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ShapeError(f"its answer is missing fields ({exc})") from exc


def _incident(data: dict[str, Any]) -> PlatformIncident:
    updates = data.get("updates") or []
    if not isinstance(updates, list):
        raise TypeError("updates is not a list")
    return PlatformIncident(
        id=str(data["id"]),
        title=str(data.get("title") or "Untitled incident"),
        url=str(data.get("full_url") or ""),
        created_at=moment(data.get("created_at")),
        resolved=bool(data.get("resolved", False)),
        updates=tuple(
            StatusUpdate(
                id=str(u["id"]),
                update_type=str(u.get("update_type") or "update"),
                contents=str(u.get("contents") or ""),
                created_at=moment(u.get("created_at")),
            )
            for u in updates[:MAX_UPDATES]
        ),
    )
