"""Log lines as Heroku's router and runtime write them, and Logplex's octet-counted frames
of them, for the log rules' tests and the drains' (HTTPS and OTLP)."""

from __future__ import annotations

from datetime import datetime

from tests.support.builders import T0

H12 = (
    'at=error code=H12 desc="Request timeout" method=GET path="/slow?page=2" '
    "host=myapp.herokuapp.com request_id=50a4bf5b-0932-45bd-89ff-95a4fb89cc3d "
    'fwd="36.71.232.235" dyno=web.1 connect=1ms service=30000ms status=503 bytes=0 '
    "protocol=https"
)
OK = (
    'at=info method=GET path="/" host=myapp.herokuapp.com '
    'request_id=a8148f72-55f0-47ce-80d6-7b843f0635a3 fwd="67.244.96.207" dyno=web.2 '
    "connect=1ms service=6ms status=200 bytes=371 protocol=https"
)
R14 = "Error R14 (Memory quota exceeded)"


def frame(
    message: str,
    at: datetime = T0,
    *,
    host: str = "host",
    app: str = "heroku",
    proc: str = "router",
    pri: int = 158,
) -> bytes:
    """One octet-counted frame as Logplex posts it (the count covers the trailing newline)."""
    stamp = f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond:06d}+00:00"
    raw = f"<{pri}>1 {stamp} {host} {app} {proc} - {message}\n".encode()
    return str(len(raw)).encode() + b" " + raw


def body(*frames: bytes) -> bytes:
    return b"".join(frames)
