"""Every alert rule's per-monitor threshold (SPEC §12 and §15), from ONE table: `RULES`.

Each rule has a name, a sentence of what it alerts on, its fields (label, unit, default,
range) and can be switched off; the dashboard's form, its validation (one sentence per
field) and the kept text are all derived from the table, so a new rule is one entry here
(plus its place in `logs.rules.Thresholds`). Pure: no I/O. (The limit rules of SPEC §15,
memory near quota and the database, have their own table of fields in `logs.limits` and
their own forms, `web/limits.py`.)

The kept text is the one `logs.rules.parse_thresholds` reads (`lines/percent/requests`,
then the p95 in ms or `off`), so every value kept so far reads back the same; a rule it
cannot switch off is written after it, position by position:
`lines/percent/requests/p95/memory/boot`, where `lines`, `percent` and `p95` may be `off`
and `memory`, `boot` are `on` or `off` (at most 31 characters: the column holds 40).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from heroku_monitor.core.logs.rules import (
    BOOT_CODES,
    MEMORY_CODES,
    SLOW_MS,
    Thresholds,
    parse_thresholds,
)
from heroku_monitor.core.validation import whole_number

OFF = "off"
ON = "on"
NEVER_LINES = 2**62  # router errors switched off: no window holds this many lines
NEVER_RATE = math.inf  # the 5xx rate switched off: no share of requests reaches it


@dataclass(frozen=True)
class Field:
    """One number a person sets: its form name, label, unit, default and range."""

    key: str
    label: str
    unit: str
    default: int
    low: int
    high: int

    def error(self) -> str:
        return (
            f"{self.label} is a whole number from {self.low:,} to {self.high:,} {self.unit}, "
            f"like {self.default:,}."
        )


@dataclass(frozen=True)
class Rule:
    key: str  # its switch in the form is `on_{key}`
    name: str
    what: str  # what it alerts on, in one sentence
    fields: tuple[Field, ...] = ()


LINES = Field("code_lines", "Lines of one H code", "lines", 5, 1, 10_000)
PERCENT = Field("rate_5xx", "Share of 5xx responses", "%", 5, 1, 100)
REQUESTS = Field("min_requests", "Requests at least", "requests", 100, 1, 1_000_000)
P95 = Field("slow_ms", "p95 response time at least", "ms", 3000, *SLOW_MS)

# The window every log rule looks at (`Thresholds.window`: a check reads 15 minutes of
# counts, the window and its run's start), shown but not settable.
WINDOW_MINUTES = 5

RULES: tuple[Rule, ...] = (
    Rule("router", "Router errors (H codes)", "Lines of one H code in 5 minutes.", (LINES,)),
    Rule(
        "rate_5xx",
        "5xx rate",
        "The share of responses with a status of 500 or more in 5 minutes.",
        (PERCENT,),
    ),
    Rule(
        "slow",
        "Slow responses",
        "The p95 of the router's service= times over 5 minutes (SPEC §15).",
        (P95,),
    ),
    Rule("memory", "Memory quota (R14, R15)", "At the first R14 or R15 line of a dyno."),
    Rule("boot", "Boot timeout (R10)", "At the first R10 line of a dyno."),
)
# Fields more than one rule reads: the 5xx rate and slow responses need this many requests.
SHARED: tuple[Field, ...] = (REQUESTS,)


@dataclass(frozen=True)
class Setting:
    """A monitor's thresholds as the form shows them: each rule on or off, each field's
    value (as typed, when refused)."""

    on: Mapping[str, bool]
    values: Mapping[str, str]


def setting_of(thresholds: Thresholds) -> Setting:
    """What `thresholds` look like in the form (a rule off shows its default)."""
    codes = set(thresholds.first_line_codes)
    on = {
        "router": thresholds.code_lines < NEVER_LINES,
        "rate_5xx": thresholds.rate_5xx <= 1,
        "slow": thresholds.slow_ms is not None,
        "memory": any(c in codes for c in MEMORY_CODES),
        "boot": any(c in codes for c in BOOT_CODES),
    }
    values = {
        LINES.key: thresholds.code_lines if on["router"] else LINES.default,
        PERCENT.key: round(thresholds.rate_5xx * 100) if on["rate_5xx"] else PERCENT.default,
        P95.key: thresholds.slow_ms if thresholds.slow_ms is not None else P95.default,
        REQUESTS.key: thresholds.min_requests,
    }
    return Setting(on, {k: str(v) for k, v in values.items()})


def from_form(form: Mapping[str, str]) -> tuple[Thresholds | None, dict[str, str]]:
    """The thresholds a form asks for (a rule is on when `on_{key}` is given), or None and
    a sentence per wrong field (by its key). A field of a rule switched off is not read."""
    errors: dict[str, str] = {}
    on = {rule.key: bool(str(form.get(f"on_{rule.key}", "")).strip()) for rule in RULES}
    numbers: dict[str, int] = {}
    wanted = [f for rule in RULES if on[rule.key] for f in rule.fields]
    if on["rate_5xx"] or on["slow"]:
        wanted.extend(SHARED)
    for f in wanted:
        value = whole_number(str(form.get(f.key, "")).replace(",", "").strip(), f.low, f.high)
        if value is None:
            errors[f.key] = f.error()
        else:
            numbers[f.key] = value
    if errors:
        return None, errors
    base = Thresholds()
    codes = tuple(
        c
        for c in base.first_line_codes
        if (c not in MEMORY_CODES or on["memory"]) and (c not in BOOT_CODES or on["boot"])
    )
    return (
        replace(
            base,
            code_lines=numbers[LINES.key] if on["router"] else NEVER_LINES,
            rate_5xx=numbers[PERCENT.key] / 100 if on["rate_5xx"] else NEVER_RATE,
            min_requests=numbers.get(REQUESTS.key, base.min_requests),
            slow_ms=numbers[P95.key] if on["slow"] else None,
            first_line_codes=codes,
        ),
        {},
    )


def text_of(thresholds: Thresholds) -> str:
    """The kept text: `logs.rules`' own when it says it all, else the longer form."""
    setting = setting_of(thresholds)
    on, values = setting.on, setting.values
    if on["router"] and on["rate_5xx"] and on["memory"] and on["boot"]:
        return thresholds.text
    parts = [
        values[LINES.key] if on["router"] else OFF,
        values[PERCENT.key] if on["rate_5xx"] else OFF,
        values[REQUESTS.key],
        values[P95.key] if on["slow"] else OFF,
        ON if on["memory"] else OFF,
        ON if on["boot"] else OFF,
    ]
    return "/".join(parts)


def parse(text: str) -> tuple[Thresholds | None, str | None]:
    """A kept (or typed) text as Thresholds: what `logs.rules.parse_thresholds` reads, and
    the longer form of `text_of`; or (None, one sentence). Empty: the defaults."""
    if not text.strip():
        return Thresholds(), None
    found, error = parse_thresholds(text)
    if found is not None:
        return found, None
    parts = [p.strip().lower() for p in text.split("/")]
    if len(parts) != 6:
        return None, error
    lines, percent, requests, p95, memory, boot = parts
    form = {
        LINES.key: lines,
        PERCENT.key: percent,
        REQUESTS.key: requests,
        P95.key: p95,
        "on_router": "" if lines == OFF else ON,
        "on_rate_5xx": "" if percent == OFF else ON,
        "on_slow": "" if p95 == OFF else ON,
    }
    if memory not in (ON, OFF) or boot not in (ON, OFF):
        return None, error
    form["on_memory"] = "" if memory == OFF else ON
    form["on_boot"] = "" if boot == OFF else ON
    parsed, _ = from_form(form)
    return (parsed, None) if parsed is not None else (None, error)


def summary(thresholds: Thresholds) -> str:
    """ "router errors at 5 lines · 5xx at 5 % · p95 at 3,000 ms (of ≥ 100 requests) ·
    memory · boot": what alerts, in a line; "every log rule is off" when none."""
    setting = setting_of(thresholds)
    on, v = setting.on, setting.values
    said = []
    if on["router"]:
        said.append(f"router errors at {int(v[LINES.key]):,} lines")
    if on["rate_5xx"]:
        said.append(f"5xx at {v[PERCENT.key]} %")
    if on["slow"]:
        said.append(f"p95 at {int(v[P95.key]):,} ms")
    if on["rate_5xx"] or on["slow"]:
        said[-1] += f" (of ≥ {int(v[REQUESTS.key]):,} requests)"
    if on["memory"]:
        said.append("R14/R15")
    if on["boot"]:
        said.append("R10")
    return " · ".join(said) + f", over {WINDOW_MINUTES} min" if said else "every log rule is off"
