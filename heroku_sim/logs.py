"""What a simulated app writes to its log drains: Heroku router and runtime lines, posted
as Logplex posts them (`application/logplex-1`: octet-counted RFC 5424 frames, with the
`Logplex-Msg-Count`, `Logplex-Frame-Id` and `Logplex-Drain-Token` headers, the drain URL's
credentials as Basic auth). https://devcenter.heroku.com/articles/log-drains#https-drains
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import requests

# Heroku's descriptions of the codes the demo can cause.
DESCRIPTIONS = {"H12": "Request timeout", "H13": "Connection closed without response",
                "H14": "No web dynos running", "R14": "Memory quota exceeded",
                "R15": "Memory quota vastly exceeded", "R10": "Boot timeout"}  # fmt: skip


def router_error(app: str, code: str, path: str = "/slow", dyno: str = "web.1") -> tuple[str, str]:
    """(procid, message) of a router error line, as Heroku's router writes it."""
    return "router", (
        f'at=error code={code} desc="{DESCRIPTIONS.get(code, "Error")}" method=GET '
        f'path="{path}" host={app}.herokuapp.com request_id={uuid.uuid4()} '
        f'fwd="203.0.113.7" dyno={dyno} connect=1ms service=30000ms status=503 bytes=0 '
        "protocol=https"
    )


def runtime_error(code: str, dyno: str = "web.1") -> tuple[str, str]:
    """(procid, message) of a runtime error line from `heroku[dyno]`."""
    return dyno, f"Error {code} ({DESCRIPTIONS.get(code, 'Error')})"


def logplex_body(lines: Sequence[tuple[str, str]], at: datetime | None = None) -> bytes:
    """Octet-counted RFC 5424 frames of Heroku-written lines (app-name `heroku`)."""
    moment = at or datetime.now(UTC)
    return b"".join(frame(moment, "heroku", procid, message) for procid, message in lines)


def frame(at: datetime, app_name: str, procid: str, message: str) -> bytes:
    """One octet-counted RFC 5424 frame of a line written at `at`, as Logplex frames it."""
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds")
    raw = f"<158>1 {stamp} host {app_name} {procid} - {message}\n".encode()
    return str(len(raw)).encode() + b" " + raw


def post_batch(url: str, token: str, lines: Sequence[tuple[str, str]], timeout: float = 5) -> int:
    """POST one batch to a drain URL as Logplex does; returns the HTTP status."""
    return post_body(url, token, logplex_body(lines), len(lines), timeout)


def post_body(url: str, token: str, body: bytes, count: int, timeout: float = 5) -> int:
    """POST a Logplex body of `count` lines to a drain URL as Logplex does (its headers,
    the URL's credentials as Basic auth); returns the HTTP status."""
    parts = urlsplit(url)
    auth = (parts.username or "", parts.password or "") if parts.password else None
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
    headers = {
        "Content-Type": "application/logplex-1",
        "Logplex-Msg-Count": str(count),
        "Logplex-Frame-Id": uuid.uuid4().hex,
        "Logplex-Drain-Token": token,
        "User-Agent": "Logplex/v72",
    }
    response = requests.post(bare, data=body, headers=headers, auth=auth, timeout=timeout)
    return response.status_code


def otlp_logs_json(
    app: str, app_id: str, lines: Sequence[tuple[str, str]], at: datetime | None = None
) -> dict:
    """The same lines as a Fir telemetry drain sends them: an OTLP/HTTP logs request in its
    JSON encoding (camelCase, `timeUnixNano` as a string), the app in `service.name`."""
    nanos = str(int((at or datetime.now(UTC)).timestamp() * 1_000_000_000))
    records = [
        {
            "timeUnixNano": nanos,
            "body": {"stringValue": message},
            "attributes": [{"key": "dyno", "value": {"stringValue": procid}}],
        }
        for procid, message in lines
    ]
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": app}},
                        {"key": "heroku.app.id", "value": {"stringValue": app_id}},
                    ]
                },
                "scopeLogs": [{"logRecords": records}],
            }
        ]
    }


def post_otlp(url: str, headers: dict[str, str], body: dict, timeout: float = 5) -> int:
    """POST one OTLP/HTTP JSON logs request to a telemetry drain; returns the HTTP status."""
    sent = {**headers, "Content-Type": "application/json"}
    return requests.post(url, json=body, headers=sent, timeout=timeout).status_code
