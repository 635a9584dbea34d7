"""Log-based alerts (SPEC section 12): read a Logplex HTTPS drain batch, count it per minute,
decide what to alert on. Pure: no I/O, no clock (`now` is passed in).

- `parse_logplex(body)`: an `application/logplex-1` body (RFC 6587 octet counting, each
  frame an RFC 5424 message) into a `Batch` of `LogLine`s; frames that do not hold together
  are counted in `Batch.malformed`, never raised.
- `count(lines, token)`: the lines as `Counts`, one `MinuteCounts` per UTC minute: router
  requests, 5xx, and per code (H12, R14, …) the count with its top paths and dynos. Counts
  add up (`merge`) across batches and processes and serialise to JSON (one database row per
  app and minute).
- `detect(app, minutes, now)`: the `detect.Event`s of the last 5 minutes: `log_router_error`
  (per H code), `log_5xx_rate`, `log_memory` (R14/R15 per dyno), `log_boot_timeout` (R10).
  `alerts(...)` gives the same as `LogAlert`s, with the details as fields; the Event carries
  them as a short text in `reason` and the count in `failures`.

Shapes (Heroku Dev Center "Log Drains", the Logplex README "HTTP drains"):
    284 <158>1 2016-05-28T06:50:53.369991+00:00 host heroku router - at=error code=H12 …
    83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\\n
The octet count covers the frame's trailing newline when there is one. The hostname is
`host` on HTTPS drains, or the drain token (`d.…`) on drains that write it there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from heroku_monitor.core.detect import Event
from heroku_monitor.core.snapshot import Dyno
from heroku_monitor.core.validation import whole_number

LOG_ROUTER_ERROR = "log_router_error"
LOG_5XX_RATE = "log_5xx_rate"
LOG_MEMORY = "log_memory"
LOG_BOOT_TIMEOUT = "log_boot_timeout"

# Heroku's own descriptions (Dev Center "Heroku Error Codes").
DESCRIPTIONS: Mapping[str, str] = {
    "H10": "App crashed",
    "H11": "Backlog too deep",
    "H12": "Request timeout",
    "H13": "Connection closed without response",
    "H14": "No web dynos running",
    "H15": "Idle connection",
    "H16": "Redirect to herokuapp.com",
    "H17": "Poorly formatted HTTP response",
    "H18": "Server Request Interrupted",
    "H19": "Backend connection timeout",
    "H20": "App boot timeout",
    "H21": "Backend connection refused",
    "H22": "Connection limit reached",
    "H23": "Endpoint misconfigured",
    "H24": "Forced close",
    "H25": "HTTP Restriction",
    "H26": "Request Error",
    "H27": "Client Request Interrupted",
    "H28": "Client Connection Idle",
    "H31": "Misdirected Request",
    "H33": "Too many headers",
    "H80": "Maintenance mode",
    "H81": "Blank app",
    "H82": "Free dyno quota exhausted",
    "H83": "Planned Service Degradation",
    "H99": "Platform error",
    "R10": "Boot timeout",
    "R12": "Exit timeout",
    "R13": "Attach error",
    "R14": "Memory quota exceeded",
    "R15": "Memory quota vastly exceeded",
    "R16": "Detached",
    "R17": "Checksum error",
    "R99": "Platform error",
    "L10": "Drain buffer overflow",
    "L11": "Tail buffer overflow",
    "L12": "Local buffer overflow",
    "L13": "Local delivery error",
    "L14": "Certificate validation error",
    "L15": "Tail buffer temporarily unavailable",
}

MEMORY_CODES = ("R14", "R15")
BOOT_CODES = ("R10",)
MINUTE = timedelta(minutes=1)
# A log incident ends after this long without its lines (incidents.QUIET_FOR); an alert's key
# stays the same while its lines keep coming with shorter gaps than this.
QUIET = timedelta(minutes=10)
KEPT = 10  # paths and dynos kept per code and minute (the most frequent); alerts show 5
SHOWN = 5
MAX_PATH = 200  # characters of a path kept

_FRAME_START = re.compile(rb"(?<![0-9])[0-9]{1,7} <[0-9]{1,3}>[0-9]{1,2} ")
_NEXT_FRAME = re.compile(rb"[ \t\r\n]*[0-9]{1,7} <")
_BLANK = re.compile(rb"[ \t\r\n]*")
_PAIR = re.compile(r'([a-z_]+)=("[^"]*"|\S*)')
_RUNTIME = re.compile(r"(?:- )?Error ([RL][0-9]{2}) \(([^)]*)\)")


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
    n = len(body)
    pos = _BLANK.match(body, 0).end()  # type: ignore[union-attr]
    while pos < n:
        space = body.find(b" ", pos, pos + 9)
        digits = body[pos:space] if space > 0 else b""
        start = space + 1
        end = start + int(digits) if digits.isdigit() else -1
        if end < 0 or end > n or not _ends_well(body, start, end):
            malformed += 1
            found = _FRAME_START.search(body, pos + 1)
            if found is None:
                break
            pos = found.start()
            continue
        raw = body[start:end]
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text = raw.decode(errors="replace")
            replaced += 1
        line = _header(text)
        if line is None:
            malformed += 1
        else:
            lines.append(line)
        pos = _BLANK.match(body, end).end()  # type: ignore[union-attr]
    return Batch(tuple(lines), malformed, replaced)


def _ends_well(body: bytes, start: int, end: int) -> bool:
    """Whether a frame ends where it should: at the end of the body, on a newline (Logplex
    ends each message with one), or where the next frame's header begins."""
    return (
        end == len(body) or body[end - 1 : end] == b"\n" or _NEXT_FRAME.match(body, end) is not None
    )


def _header(text: str) -> LogLine | None:
    if text.endswith("\n"):
        text = text[:-1]
    parts = text.split(" ", 6)
    if len(parts) < 6:
        return None
    head = parts[0]
    close = head.find(">")
    if not head.startswith("<") or close < 2:
        return None
    pri, ver = head[1:close], head[close + 1 :]
    if not (pri.isdigit() and ver.isdigit()):
        return None
    timestamp = parts[1]
    if len(timestamp) < 20 or timestamp[10] != "T" or timestamp[4] != "-":
        return None
    message = parts[6] if len(parts) == 7 else ""
    return LogLine(int(pri), int(ver), timestamp, parts[2], parts[3], parts[4], parts[5], message)


def parse_router(message: str) -> RouterLine | None:
    """`at=error code=H12 desc="…" method=GET path="/" … dyno=web.1 … status=503 …` (and
    `at=info …`) as its fields; None when it is not a router request line."""
    fields = {k: v.strip('"') for k, v in _PAIR.findall(message)}
    if "at" not in fields or "method" not in fields:
        return None
    status = fields.get("status", "")
    return RouterLine(
        code=_code(fields.get("code")),
        status=int(status) if status.isdigit() else None,
        path=_path(fields.get("path", "")),
        dyno=fields.get("dyno") or None,
        method=fields["method"],
    )


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


# ---------------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class CodeCount:
    """Lines of one code in one minute, with the most frequent paths and dynos (at most KEPT
    each, most frequent first; once more than KEPT differ, the tail is approximate)."""

    count: int = 0
    paths: tuple[tuple[str, int], ...] = ()
    dynos: tuple[tuple[str, int], ...] = ()

    def merge(self, other: CodeCount) -> CodeCount:
        return CodeCount(
            self.count + other.count,
            _top_sum(self.paths, other.paths),
            _top_sum(self.dynos, other.dynos),
        )


@dataclass(frozen=True)
class MinuteCounts:
    """One app's log counters for one UTC minute (`minute`: its start)."""

    minute: datetime
    requests: int = 0  # router lines
    errors_5xx: int = 0  # router lines with status >= 500
    codes: Mapping[str, CodeCount] = field(default_factory=dict)

    def merge(self, other: MinuteCounts) -> MinuteCounts:
        if other.minute != self.minute:
            raise ValueError("only counts of the same minute add up")
        codes = dict(self.codes)
        for code, counted in other.codes.items():
            codes[code] = codes[code].merge(counted) if code in codes else counted
        return MinuteCounts(
            self.minute,
            self.requests + other.requests,
            self.errors_5xx + other.errors_5xx,
            dict(sorted(codes.items())),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "minute": self.minute.isoformat(),
                "requests": self.requests,
                "5xx": self.errors_5xx,
                "codes": {
                    code: {"count": c.count, "paths": c.paths, "dynos": c.dynos}
                    for code, c in sorted(self.codes.items())
                },
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> MinuteCounts:
        data: dict[str, Any] = json.loads(text)
        return cls(
            minute=datetime.fromisoformat(data["minute"]),
            requests=int(data["requests"]),
            errors_5xx=int(data["5xx"]),
            codes={
                code: CodeCount(
                    int(c["count"]),
                    tuple((str(p), int(k)) for p, k in c["paths"]),
                    tuple((str(d), int(k)) for d, k in c["dynos"]),
                )
                for code, c in data["codes"].items()
            },
        )


@dataclass(frozen=True)
class Counts:
    """Per-minute counters of a batch (or several), by minute."""

    minutes: Mapping[datetime, MinuteCounts] = field(default_factory=dict)

    def merge(self, other: Counts) -> Counts:
        merged = dict(self.minutes)
        for minute, counted in other.minutes.items():
            merged[minute] = merged[minute].merge(counted) if minute in merged else counted
        return Counts(dict(sorted(merged.items())))

    def rows(self) -> list[MinuteCounts]:
        return [self.minutes[m] for m in sorted(self.minutes)]


class _Tally:
    __slots__ = ("codes", "errors_5xx", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors_5xx = 0
        # code -> [count, {path: n}, {dyno: n}]
        self.codes: dict[str, tuple[list[int], dict[str, int], dict[str, int]]] = {}

    def add(self, code: str, path: str | None, dyno: str | None) -> None:
        entry = self.codes.get(code)
        if entry is None:
            entry = self.codes[code] = ([0], {}, {})
        entry[0][0] += 1
        if path:
            entry[1][path] = entry[1].get(path, 0) + 1
        if dyno:
            entry[2][dyno] = entry[2].get(dyno, 0) + 1


def count(lines: Iterable[LogLine], token: str | None = None) -> Counts:
    """Count router requests, 5xx and error codes per minute. With `token`, a line whose
    hostname is another drain's token (`d.…`) is ignored. 5xx lines without an H code (the
    app's own 500s) are also tallied under the code `5xx`, for their paths and dynos."""
    tallies: dict[str, _Tally] = {}
    for line in lines:
        host = line.hostname
        if token is not None and host != token and host.startswith("d."):
            continue
        if line.app_name != "heroku":
            continue
        stamp = line.timestamp
        key = stamp[:16] if stamp.endswith(("+00:00", "Z")) else _utc_minute(stamp)
        if key is None:
            continue
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = _Tally()
        message = line.message
        if line.procid == "router":
            tally.requests += 1
            at = message.find("status=")
            end = message.find(" ", at)
            status = message[at + 7 : end if end > 0 else None] if at >= 0 else ""
            is_5xx = len(status) == 3 and status[0] == "5" and status.isdigit()
            if is_5xx:
                tally.errors_5xx += 1
            if is_5xx or "at=error" in message:
                router = parse_router(message)
                if router is not None:
                    tally.add(router.code or "5xx", router.path, router.dyno)
        elif message.startswith(("Error ", "- Error ")):
            runtime = parse_runtime(message, line.procid)
            if runtime is not None:
                tally.add(runtime.code, None, runtime.dyno)
    minutes: dict[datetime, MinuteCounts] = {}
    for key, tally in tallies.items():
        try:
            minute = datetime.fromisoformat(key + ":00+00:00")
        except ValueError:
            continue
        codes = {
            code: CodeCount(n[0], _top(paths), _top(dynos))
            for code, (n, paths, dynos) in sorted(tally.codes.items())
        }
        counted = MinuteCounts(minute, tally.requests, tally.errors_5xx, codes)
        minutes[minute] = minutes[minute].merge(counted) if minute in minutes else counted
    return Counts(dict(sorted(minutes.items())))


HEROKU_CODE = re.compile(r"[HRL][0-9]{2}")


def _code(value: str | None) -> str | None:
    """A Heroku error code (H12, R14, L10); anything else is no code (it is not counted
    apart: a sender cannot make counters without end)."""
    return value if value and HEROKU_CODE.fullmatch(value) else None


def _utc_minute(stamp: str) -> str | None:
    try:
        when = datetime.fromisoformat(stamp)
        if when.tzinfo is None:
            return None
        return when.astimezone(UTC).isoformat()[:16]
    except (ValueError, OverflowError):  # year 1 an hour east of UTC, and the like
        return None


def _top(counted: Mapping[str, int], keep: int = KEPT) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:keep])


def _top_sum(*parts: Iterable[tuple[str, int]], keep: int = KEPT) -> tuple[tuple[str, int], ...]:
    summed: dict[str, int] = {}
    for part in parts:
        for name, n in part:
            summed[name] = summed.get(name, 0) + n
    return _top(summed, keep)


# ---------------------------------------------------------------------------------- detect


@dataclass(frozen=True)
class Thresholds:
    """SPEC section 12 defaults."""

    window: timedelta = timedelta(minutes=5)
    code_lines: int = 5  # lines of one H code in the window
    rate_5xx: float = 0.05  # share of router lines with status >= 500 …
    min_requests: int = 100  # … over at least this many router lines in the window
    first_line_codes: tuple[str, ...] = (*MEMORY_CODES, *BOOT_CODES)  # alert at the first line

    @property
    def text(self) -> str:
        """As a person writes them: `lines/percent/requests`, e.g. "5/5/100"."""
        return f"{self.code_lines}/{round(self.rate_5xx * 100)}/{self.min_requests}"


def parse_thresholds(text: str) -> tuple[Thresholds | None, str | None]:
    """`lines/percent/requests` (e.g. "5/5/100": 5 lines of one H code in 5 minutes; a 5xx
    rate of 5 % over at least 100 requests) as Thresholds, or (None, the error sentence)."""
    parts = text.split("/")
    if len(parts) == 3:
        lines = whole_number(parts[0], 1, 10_000)
        percent = whole_number(parts[1], 1, 100)
        requests = whole_number(parts[2], 1, 1_000_000)
        if lines is not None and percent is not None and requests is not None:
            return Thresholds(code_lines=lines, rate_5xx=percent / 100, min_requests=requests), None
    return None, (
        "Log thresholds are three whole numbers, lines/percent/requests, e.g. 5/5/100: "
        "5 lines of one H code in 5 minutes, or a 5xx rate of 5 % over at least 100 requests."
    )


@dataclass(frozen=True)
class LogAlert:
    """One log alert with its details; `event()` is the `detect.Event` to hand on."""

    kind: str
    app: str
    key: str
    code: str  # H12, R14, R10, or `5xx` for the rate
    description: str  # Heroku's description of the code
    count: int  # lines (or 5xx lines) in the window
    requests: int  # router lines in the window
    since: datetime  # the window: its first minute …
    until: datetime  # … and the end of its last one
    dyno: str | None = None  # log_memory, log_boot_timeout: the dyno
    paths: tuple[tuple[str, int], ...] = ()  # most frequent first, at most SHOWN
    dynos: tuple[tuple[str, int], ...] = ()

    @property
    def reason(self) -> str:
        """`H12 Request timeout: 10 lines in 06:41–06:46 UTC; paths / ×7, /a ×3; dynos …`"""
        window = f"{self.since:%H:%M}–{self.until:%H:%M} UTC"
        if self.kind == LOG_5XX_RATE:
            share = 100 * self.count / self.requests if self.requests else 0.0
            text = f"5xx rate {share:.1f}%: {self.count} of {self.requests} requests in {window}"
        else:
            text = f"{self.code} {self.description}: {self.count} lines in {window}"
        if self.paths:
            text += "; paths " + ", ".join(f"{p} ×{n}" for p, n in self.paths)
        if self.dynos:
            text += "; dynos " + ", ".join(f"{d} ×{n}" for d, n in self.dynos)
        return text

    def event(self) -> Event:
        dyno = None
        if self.dyno:  # the dyno a memory or boot alert is about (messages names it)
            dyno = Dyno(self.dyno, self.dyno.split(".")[0], "up")
        return Event(
            self.kind, self.app, self.key, reason=self.reason, failures=self.count, dyno=dyno
        )


def detect(
    app: str,
    minutes: Sequence[MinuteCounts],
    now: datetime,
    *,
    thresholds: Thresholds = Thresholds(),
) -> list[Event]:
    """The log events of `app` at `now`, as `detect.Event`s (see `alerts`)."""
    return [alert.event() for alert in alerts(app, minutes, now, thresholds=thresholds)]


def alerts(
    app: str,
    minutes: Sequence[MinuteCounts],
    now: datetime,
    *,
    thresholds: Thresholds = Thresholds(),
) -> list[LogAlert]:
    """What the window ending at `now` (the last `thresholds.window` of minutes, the current
    one included) calls for. Pass the minutes of at least the last 15 minutes (window plus
    QUIET): an alert's key names the first minute of its run of lines (no gap of QUIET),
    so the same storm keeps one key and a storm after 10 quiet minutes gets a new one."""
    until = _floor(now) + MINUTE
    since = until - thresholds.window
    history = sorted((m for m in minutes if m.minute < until), key=lambda m: m.minute)
    window = [m for m in history if m.minute >= since]
    found: list[LogAlert] = []
    requests = sum(m.requests for m in window)
    codes = sorted({code for m in window for code in m.codes})
    for code in codes:
        total = _code_total(window, code)
        if code.startswith("H") and total.count >= thresholds.code_lines:
            start = _run_start(history, _has_code(code))
            found.append(
                LogAlert(
                    LOG_ROUTER_ERROR,
                    app,
                    f"{app}:log:{code}:{start:%Y-%m-%dT%H:%M}:{_round(start, until, thresholds)}",
                    code,
                    DESCRIPTIONS.get(code, "Router error"),
                    total.count,
                    requests,
                    since,
                    until,
                    paths=total.paths[:SHOWN],
                    dynos=total.dynos[:SHOWN],
                )
            )
        elif code in thresholds.first_line_codes and total.count > 0:
            kind = LOG_BOOT_TIMEOUT if code in BOOT_CODES else LOG_MEMORY
            for dyno, n in total.dynos:
                start = _run_start(history, _has_dyno(code, dyno))
                found.append(
                    LogAlert(
                        kind,
                        app,
                        f"{app}:log:{code}:{dyno}:{start:%Y-%m-%dT%H:%M}"
                        f":{_round(start, until, thresholds)}",
                        code,
                        DESCRIPTIONS.get(code, "Runtime error"),
                        n,
                        requests,
                        since,
                        until,
                        dyno=dyno,
                        dynos=((dyno, n),),
                    )
                )
    errors = sum(m.errors_5xx for m in window)
    if requests >= thresholds.min_requests and errors >= thresholds.rate_5xx * requests:
        start = _run_start(history, lambda m: m.errors_5xx > 0)
        top = _code_total(window, "5xx")
        found.append(
            LogAlert(
                LOG_5XX_RATE,
                app,
                f"{app}:log:5xx:{start:%Y-%m-%dT%H:%M}:{_round(start, until, thresholds)}",
                "5xx",
                "Server errors",
                errors,
                requests,
                since,
                until,
                paths=top.paths[:SHOWN],
                dynos=top.dynos[:SHOWN],
            )
        )
    return found


def _round(start: datetime, until: datetime, thresholds: Thresholds) -> int:
    """Which window of its run this is (0 for the first): a storm that goes on is alerted
    again, once a window, so its incident hears of it (the count, in its thread) and stays
    open; within a window the key stays the same, so one check or many say it once."""
    return max(0, int((until - start) / thresholds.window) - 1)


def _has_code(code: str) -> Callable[[MinuteCounts], bool]:
    return lambda m: code in m.codes


def _has_dyno(code: str, dyno: str) -> Callable[[MinuteCounts], bool]:
    def hit(m: MinuteCounts) -> bool:
        counted = m.codes.get(code)
        return counted is not None and any(name == dyno for name, _ in counted.dynos)

    return hit


def _code_total(window: Sequence[MinuteCounts], code: str) -> CodeCount:
    total = CodeCount()
    for m in window:
        counted = m.codes.get(code)
        if counted is not None:
            total = total.merge(counted)
    return total


def _run_start(history: Sequence[MinuteCounts], hit: Callable[[MinuteCounts], bool]) -> datetime:
    """The first minute of the latest run of minutes where `hit` holds, runs being broken by
    a gap of QUIET or more. `history` is sorted and its last hit is in the window."""
    hits = [m.minute for m in history if hit(m)]
    start = hits[-1]
    for minute in reversed(hits[:-1]):
        if start - minute > QUIET:
            break
        start = minute
    return start


def _floor(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(second=0, microsecond=0)
