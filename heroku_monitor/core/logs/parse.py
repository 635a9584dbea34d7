"""Log lines (SPEC section 12): a Logplex HTTPS drain batch, or an OTLP log record of a
telemetry drain, as `LogLine`s; the fields of router and runtime-error lines. Pure.

- `parse_logplex(body)`: an `application/logplex-1` body (RFC 6587 octet counting, each
  frame an RFC 5424 message) into a `Batch` of `LogLine`s; frames that do not hold together
  are counted in `Batch.malformed`, never raised.
- `otlp_line(message, nanos, attributes, resource, now)`: an OTLP log record's fields as the
  `LogLine` a Logplex drain would give for it.

Shapes (Heroku Dev Center "Log Drains", the Logplex README "HTTP drains"):
    284 <158>1 2016-05-28T06:50:53.369991+00:00 host heroku router - at=error code=H12 …
    83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\\n
The octet count covers the frame's trailing newline when there is one. The hostname is
`host` on HTTPS drains, or the drain token (`d.…`) on drains that write it there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_PATH = 200  # characters of a path kept
HEROKU_CODE = re.compile(r"[HRL][0-9]{2}")
# Where an OTLP record (or its resource) may name its dyno, most specific first.
DYNO_KEYS = ("dyno", "heroku.dyno", "heroku.dyno.name", "process.dyno", "service.instance.id")

_FRAME_START = re.compile(rb"(?<![0-9])[0-9]{1,7} <[0-9]{1,3}>[0-9]{1,2} ")
_NEXT_FRAME = re.compile(rb"[ \t\r\n]*[0-9]{1,7} <")
_BLANK = re.compile(rb"[ \t\r\n]*")
_PAIR = re.compile(r'([a-z_]+)=("[^"]*"|\S*)')
_RUNTIME = re.compile(r"(?:- )?Error ([RL][0-9]{2}) \(([^)]*)\)")
_PREFIX = re.compile(r"^heroku\[([A-Za-z0-9_.\-]{1,64})\]: ?")
_DYNO = re.compile(r"^[A-Za-z0-9_\-]{1,50}\.[0-9]{1,5}$")  # web.1, worker.12, run.1234


@dataclass(frozen=True, slots=True)
class LogLine:
    """One RFC 5424 message of a drain batch."""

    priority: int
    version: int
    timestamp: str
    hostname: str  # `host`, or the drain token `d.…`
    app_name: str  # `app` (the app's own output) or `heroku` (router, dyno manager)
    procid: str  # `router`, `web.1`, `api`, …
    msgid: str
    message: str

    @property
    def is_router(self) -> bool:
        return self.app_name == "heroku" and self.procid == "router"

    def router(self) -> RouterLine | None:
        """The fields of a router line; None for any other line."""
        return parse_router(self.message) if self.is_router else None

    def runtime(self) -> RuntimeLine | None:
        """An `Error R14 (Memory quota exceeded)` line of the platform; None otherwise."""
        if self.app_name != "heroku" or self.procid == "router":
            return None
        return parse_runtime(self.message, self.procid)


@dataclass(frozen=True, slots=True)
class RouterLine:
    code: str | None  # `H12` for `at=error code=H12`; None for `at=info`
    status: int | None
    path: str
    dyno: str | None
    method: str
    service_ms: int | None = None  # `service=30000ms`: how long the dyno took to answer


@dataclass(frozen=True, slots=True)
class RuntimeLine:
    code: str  # R14
    description: str  # Memory quota exceeded
    dyno: str  # web.1


@dataclass(frozen=True)
class Batch:
    """A drain post: its lines in order, the frames skipped as malformed, and how many lines
    held bytes that are not UTF-8 (kept, those bytes read as U+FFFD)."""

    lines: tuple[LogLine, ...] = ()
    malformed: int = 0
    replaced: int = 0


def parse_logplex(body: bytes) -> Batch:
    """The frames of an `application/logplex-1` body. A frame whose length is not digits,
    runs past the body, or does not end where the next frame (or the body) begins, and a
    frame whose header is not RFC 5424, is counted in `malformed` and skipped; parsing
    resumes at the next frame header. Never raises."""
    lines: list[LogLine] = []
    malformed = 0
    replaced = 0
    for parts, not_utf8 in messages(body):
        replaced += not_utf8
        if parts is None:
            malformed += 1
            continue
        head, timestamp, host, app_name, procid, msgid, message = parts
        close = head.find(">")
        lines.append(
            LogLine(
                int(head[1:close]),
                int(head[close + 1 :]),
                timestamp,
                host,
                app_name,
                procid,
                msgid,
                message,
            )
        )
    return Batch(tuple(lines), malformed, replaced)


def messages(body: bytes) -> Iterator[tuple[list[str] | None, bool]]:
    """The frames of an `application/logplex-1` body as their `fields`, None for a frame
    that does not hold together or is not RFC 5424, each with whether its bytes were not
    all UTF-8 (read then with U+FFFD for those bytes). Never raises."""
    for raw in frames(body):
        if raw is None:
            yield None, False
            continue
        try:
            text, not_utf8 = raw.decode(), False
        except UnicodeDecodeError:
            text, not_utf8 = raw.decode(errors="replace"), True
        yield fields(text), not_utf8


def frames(body: bytes) -> Iterator[bytes | None]:
    """The frames of an `application/logplex-1` body, each its bytes after the octet count,
    or None for one that does not hold together (its length is not digits, runs past the
    body, or it does not end where the next frame, or the body, begins); after such a
    frame, the next frame header found. Never raises."""
    n = len(body)
    pos = _BLANK.match(body, 0).end()  # type: ignore[union-attr]
    while pos < n:
        space = body.find(b" ", pos, pos + 9)
        digits = body[pos:space] if space > 0 else b""
        start = space + 1
        end = start + int(digits) if digits.isdigit() else -1
        if end < 0 or end > n or not _ends_well(body, start, end):
            yield None
            found = _FRAME_START.search(body, pos + 1)
            if found is None:
                return
            pos = found.start()
            continue
        yield body[start:end]
        # The next frame's octet count at once (the usual case), or blanks before it.
        digit = end < n and 48 <= body[end] <= 57
        pos = end if digit else _BLANK.match(body, end).end()  # type: ignore[union-attr]


def _ends_well(body: bytes, start: int, end: int) -> bool:
    """Whether a frame ends where it should: at the end of the body, on a newline (Logplex
    ends each message with one), or where the next frame's header begins."""
    return end == len(body) or body[end - 1] == 10 or _NEXT_FRAME.match(body, end) is not None


def fields(text: str) -> list[str] | None:
    """An RFC 5424 message's header fields and its message: [<pri>version, timestamp,
    hostname, app name, procid, msgid, message]; None when it is not one."""
    if text.endswith("\n"):
        text = text[:-1]
    parts = text.split(" ", 6)
    if len(parts) < 6:
        return None
    head = parts[0]
    close = head.find(">")
    if not head.startswith("<") or close < 2:
        return None
    if not (head[1:close].isdecimal() and head[close + 1 :].isdecimal()):  # int() reads them
        return None
    timestamp = parts[1]
    if len(timestamp) < 20 or timestamp[10] != "T" or timestamp[4] != "-":
        return None
    if len(parts) == 6:
        parts.append("")
    return parts


def parse_router(message: str) -> RouterLine | None:
    """`at=error code=H12 desc="…" method=GET path="/" … dyno=web.1 … status=503 …` (and
    `at=info …`) as its fields; None when it is not a router request line."""
    pairs = {k: v.strip('"') for k, v in _PAIR.findall(message)}
    if "at" not in pairs or "method" not in pairs:
        return None
    status = pairs.get("status", "")
    return RouterLine(
        code=_code(pairs.get("code")),
        status=int(status) if status.isdecimal() and len(status) <= 3 else None,
        path=_path(pairs.get("path", "")),
        dyno=pairs.get("dyno") or None,
        method=pairs["method"],
        service_ms=service_ms(message),
    )


def service_ms(message: str) -> int | None:
    """The `service=NNNms` of a router line (SPEC §15, slow responses): the milliseconds
    the dyno took to answer; None when the line has none (or a number of more than 7
    digits, over two hours: not a router's)."""
    at = message.find(" service=")
    if at < 0:
        if not message.startswith("service="):
            return None
        at = -1
    start = at + 9
    end = message.find("ms", start, start + 9)
    digits = message[start:end] if end > 0 else ""
    return int(digits) if digits.isdecimal() and end - start <= 7 else None


def parse_runtime(message: str, procid: str) -> RuntimeLine | None:
    """`Error R14 (Memory quota exceeded)` from `heroku[web.1]` as (R14, …, web.1)."""
    found = _RUNTIME.match(message)
    if found is None:
        return None
    return RuntimeLine(found[1], found[2], procid)


def _path(path: str) -> str:
    """The path without its query string (bounded cardinality), at most MAX_PATH long."""
    cut = path.find("?")
    return (path if cut < 0 else path[:cut])[:MAX_PATH]


def _code(value: str | None) -> str | None:
    """A Heroku error code (H12, R14, L10); anything else is no code (it is not counted
    apart: a sender cannot make counters without end)."""
    return value if value and HEROKU_CODE.fullmatch(value) else None


# ------------------------------------------------------------------------------------ OTLP


def otlp_line(
    message: str,
    nanos: int,
    attributes: Mapping[str, str],
    resource: Mapping[str, str],
    now: datetime,
) -> LogLine | None:
    """An OTLP log record (its string body, its time in nanoseconds since the epoch, 0 for
    none, its string attributes and its resource's) as the `LogLine` a Logplex drain would
    give for it: router lines (`at=… method=…`) as `heroku[router]`, `Error R14 (…)` lines
    as `heroku[<dyno>]`, anything else as the app's own output (not counted). The dyno comes
    from an attribute (DYNO_KEYS) or from a `heroku[web.1]: ` prefix on the message. None
    without a usable time."""
    stamp = _timestamp(nanos, now)
    if stamp is None:
        return None
    message = message.rstrip("\n")
    dyno = _dyno(attributes) or _dyno(resource)
    prefixed = _PREFIX.match(message)
    if prefixed is not None:
        message = message[prefixed.end() :]
        if prefixed[1] != "router":
            dyno = prefixed[1]
    if parse_router(message) is not None:
        app_name, procid = "heroku", "router"
    elif parse_runtime(message, dyno or "") is not None:
        app_name, procid = "heroku", dyno or "unknown"
    else:
        app_name, procid = "app", dyno or "app"
    return LogLine(
        priority=0,
        version=1,
        timestamp=stamp,
        hostname="host",
        app_name=app_name,
        procid=procid,
        msgid="-",
        message=message,
    )


def _dyno(attributes: Mapping[str, str]) -> str | None:
    for key in DYNO_KEYS:
        value = attributes.get(key, "")
        if _DYNO.fullmatch(value):
            return value
    return None


def _timestamp(nanos: int, now: datetime) -> str | None:
    """Nanoseconds since the epoch as RFC 3339 in UTC, as Logplex writes it
    (`2026-11-27T12:00:00.123456+00:00`); `now` when the record has no time (0)."""
    try:
        when = datetime.fromtimestamp(nanos / 1e9, UTC) if nanos else now.astimezone(UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}+00:00"
