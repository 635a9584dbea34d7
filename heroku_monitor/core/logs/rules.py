"""Log rules (SPEC section 12): what a few minutes of counts call for. Pure: `now` is
passed in.

`detect(app, minutes, now)`: the `detect.Event`s of the last 5 minutes: `log_router_error`
(per H code), `log_5xx_rate`, `log_memory` (R14/R15 per dyno), `log_boot_timeout` (R10),
`log_slow_responses` (the p95 of the router's `service=` times, SPEC §15).
`alerts(...)` gives the same as `LogAlert`s, with the details as fields; the Event carries
them as a short text in `summary` and the count in `lines`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from heroku_monitor.core.detect import Event
from heroku_monitor.core.logs import latency
from heroku_monitor.core.logs.count import CodeCount, MinuteCounts
from heroku_monitor.core.quiet import QUIET_FOR
from heroku_monitor.core.snapshot import Dyno
from heroku_monitor.core.validation import whole_number

LOG_PREFIX = "log_"  # every log alert kind starts so, and each opens an incident of its own
LOG_ROUTER_ERROR = "log_router_error"
LOG_5XX_RATE = "log_5xx_rate"
LOG_MEMORY = "log_memory"
LOG_BOOT_TIMEOUT = "log_boot_timeout"
LOG_SLOW_RESPONSES = "log_slow_responses"


def is_log_kind(kind: str) -> bool:
    return kind.startswith(LOG_PREFIX)


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
SHOWN = 5  # paths and dynos an alert shows
SLOW_QUANTILE = 0.95
SLOW_MS = (100, 30_000)  # the p95 thresholds one may set, in ms


@dataclass(frozen=True)
class Thresholds:
    """SPEC section 12 defaults."""

    window: timedelta = timedelta(minutes=5)
    code_lines: int = 5  # lines of one H code in the window
    rate_5xx: float = 0.05  # share of router lines with status >= 500 …
    min_requests: int = 100  # … over at least this many router lines in the window
    first_line_codes: tuple[str, ...] = (*MEMORY_CODES, *BOOT_CODES)  # alert at the first line
    # SPEC §15: the p95 of the router's response times over the window, with at least
    # `min_requests` timed; None: slow responses are not alerted.
    slow_ms: int | None = 3000

    @property
    def text(self) -> str:
        """As a person writes them: `lines/percent/requests`, e.g. "5/5/100", then the p95
        in ms when it is not the default 3000 ("5/5/100/5000"), or "off"."""
        text = f"{self.code_lines}/{round(self.rate_5xx * 100)}/{self.min_requests}"
        if self.slow_ms != Thresholds.slow_ms:
            text += f"/{self.slow_ms}" if self.slow_ms is not None else "/off"
        return text


def parse_thresholds(text: str) -> tuple[Thresholds | None, str | None]:
    """`lines/percent/requests[/p95 ms]` (e.g. "5/5/100": 5 lines of one H code in 5
    minutes; a 5xx rate of 5 % over at least 100 requests; and the default p95 of 3,000 ms
    over as many; "5/5/100/5000": a p95 of 5,000 ms; "5/5/100/off": no slow-responses
    alert) as Thresholds, or (None, the error sentence)."""
    parts = text.split("/")
    if len(parts) in (3, 4):
        lines = whole_number(parts[0], 1, 10_000)
        percent = whole_number(parts[1], 1, 100)
        requests = whole_number(parts[2], 1, 1_000_000)
        slow: int | None = Thresholds.slow_ms
        slow_ok = True
        if len(parts) == 4:
            off = parts[3].strip().lower() == "off"
            slow = None if off else whole_number(parts[3], *SLOW_MS)
            slow_ok = off or slow is not None
        if lines is not None and percent is not None and requests is not None and slow_ok:
            found = Thresholds(
                code_lines=lines, rate_5xx=percent / 100, min_requests=requests, slow_ms=slow
            )
            return found, None
    return None, (
        "Log thresholds are whole numbers, lines/percent/requests and optionally a p95 in "
        "ms, e.g. 5/5/100 or 5/5/100/3000: 5 lines of one H code in 5 minutes, a 5xx rate "
        "of 5 % or a p95 response time of 3,000 ms (100 to 30,000, or off) over at least "
        "100 requests."
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
    p95_ms: int | None = None  # log_slow_responses: the p95 (and `count`: requests timed)
    threshold_ms: int | None = None  # … and the monitor's threshold

    @property
    def summary(self) -> str:
        """`H12 Request timeout: 10 lines in 06:41–06:46 UTC; paths / ×7, /a ×3; dynos …`"""
        window = f"{self.since:%H:%M}–{self.until:%H:%M} UTC"
        if self.kind == LOG_5XX_RATE:
            share = 100 * self.count / self.requests if self.requests else 0.0
            text = f"5xx rate {share:.1f}%: {self.count} of {self.requests} requests in {window}"
        elif self.kind == LOG_SLOW_RESPONSES:
            text = (
                f"p95 {self.p95_ms} ms: {self.count} requests in {window} "
                f"(threshold {self.threshold_ms} ms)"
            )
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
            self.kind, self.app, self.key, summary=self.summary, lines=self.count, dyno=dyno
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
    QUIET_FOR): an alert's key names the first minute of its run of lines (no gap of
    QUIET_FOR), so the same storm keeps one key and a storm after 10 quiet minutes gets a
    new one."""
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
    slow = _slow_responses(app, history, window, requests, since, until, thresholds)
    if slow is not None:
        found.append(slow)
    return found


def _slow_responses(
    app: str,
    history: Sequence[MinuteCounts],
    window: Sequence[MinuteCounts],
    requests: int,
    since: datetime,
    until: datetime,
    thresholds: Thresholds,
) -> LogAlert | None:
    """SPEC §15: the p95 of the window's router response times at or over the monitor's
    threshold, with at least `min_requests` of them timed. Its run starts at the first
    minute whose own p95 is over it too (no gap of QUIET_FOR)."""
    limit = thresholds.slow_ms
    if limit is None:
        return None
    times = latency.add(*(m.latency for m in window))
    timed = latency.total(times)
    p95 = latency.quantile(times, SLOW_QUANTILE)
    if timed < thresholds.min_requests or p95 is None or p95 < limit:
        return None

    def slow(m: MinuteCounts) -> bool:
        minute_p95 = latency.quantile(m.latency, SLOW_QUANTILE)
        return minute_p95 is not None and minute_p95 >= limit

    runs = [m for m in history if slow(m)]
    start = _run_start(runs, slow) if runs and runs[-1].minute >= since else window[0].minute
    return LogAlert(
        LOG_SLOW_RESPONSES,
        app,
        f"{app}:log:slow:{start:%Y-%m-%dT%H:%M}:{_round(start, until, thresholds)}",
        "slow",
        "Slow responses",
        timed,
        requests,
        since,
        until,
        p95_ms=p95,
        threshold_ms=limit,
    )


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
    a gap of QUIET_FOR or more. `history` is sorted and its last hit is in the window."""
    hits = [m.minute for m in history if hit(m)]
    start = hits[-1]
    for minute in reversed(hits[:-1]):
        if start - minute > QUIET_FOR:
            break
        start = minute
    return start


def _floor(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(second=0, microsecond=0)
