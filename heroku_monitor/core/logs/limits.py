"""The thresholds of the limit rules (SPEC §15, "Memory before R14" and "The database"),
table-driven so the dashboard can show, set and switch off each one. Pure.

Each rule's thresholds are a dataclass with its defaults (`MemoryThresholds`,
`DatabaseThresholds`) and a table of its fields (`Field`: name, label, unit, range,
optional). A rule's thresholds are stored as one short text, `key=value` pairs in the
table's order ("percent=90 window=5"), "off" for a rule switched off, "" for the defaults:
`format_thresholds` writes it, `parse_thresholds` reads it back, or gives one sentence per
field a person got wrong (the dashboard shows it next to that field). What a rule's check
finds is a `Finding`: its alerts, and what it could not judge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic, Protocol, TypeVar

from heroku_monitor.core.detect import Event
from heroku_monitor.core.validation import whole_number

OFF = "off"


@dataclass(frozen=True)
class Field:
    """One threshold a person may set: its key in the stored text, what the dashboard calls
    it, its unit, the whole numbers allowed, and whether it may be left empty (no value:
    the plan's own limit, say)."""

    name: str
    label: str
    unit: str
    low: int
    high: int
    optional: bool = False

    def error(self) -> str:
        empty = " or left empty" if self.optional else ""
        unit, low, high = self.unit, self.low, self.high
        return f"{self.label} is a whole number of {unit} from {low} to {high}{empty}."


@dataclass(frozen=True)
class MemoryThresholds:
    """Memory before R14: a dyno at `percent` % or more of its memory quota for `window`
    minutes opens an incident."""

    on: bool = True
    percent: int = 90
    window: int = 5  # minutes

    FIELDS = (
        Field("percent", "The memory threshold", "percent of the dyno's quota", 50, 100),
        Field("window", "The memory window", "minutes", 1, 60),
    )


@dataclass(frozen=True)
class DatabaseThresholds:
    """The database: connections at `connections` % or more of the limit, or the database at
    `storage` % or more of its storage, opens an incident. The limits are the plan's (the
    table in `core.logs.postgres`) unless set here (`max_connections`, `max_storage_gb`):
    a limit set on the dashboard wins."""

    on: bool = True
    connections: int = 80  # percent of the connection limit
    storage: int = 80  # percent of the storage limit
    max_connections: int | None = None
    max_storage_gb: int | None = None

    FIELDS = (
        Field("connections", "The connections threshold", "percent of the limit", 10, 100),
        Field("storage", "The storage threshold", "percent of the limit", 10, 100),
        Field("max_connections", "The connection limit", "connections", 1, 100_000, True),
        Field("max_storage_gb", "The storage limit", "GB", 1, 1_000_000, True),
    )


T = TypeVar("T", MemoryThresholds, DatabaseThresholds)


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """What a stored or typed text said: the thresholds (None when a field was wrong), and
    the sentence for each field that was wrong, by field name."""

    thresholds: T | None
    errors: dict[str, str]


def format_thresholds(thresholds: MemoryThresholds | DatabaseThresholds) -> str:
    """The stored text: "" for the defaults, "off", or every field that is not its default
    as `key=value`, in the table's order."""
    if not thresholds.on:
        return OFF
    default = type(thresholds)()
    parts = []
    for f in thresholds.FIELDS:
        value = getattr(thresholds, f.name)
        if value != getattr(default, f.name):
            parts.append(f"{f.name}={'' if value is None else value}")
    return " ".join(parts)


def parse_thresholds(kind: type[T], text: str | None) -> Parsed[T]:
    """`kind`'s thresholds from their stored text (see `format_thresholds`); a field not
    named keeps its default. Never raises."""
    text = (text or "").strip()
    if text.lower() == OFF:
        return Parsed(kind(on=False), {})
    known = {f.name: f for f in kind.FIELDS}
    values: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for part in text.split():
        name, sep, value = part.partition("=")
        f = known.get(name)
        if f is None or not sep:
            names = ", ".join(known)
            errors[name or part] = f"“{part}” is not one of these thresholds: {names}."
            continue
        if value == "" and f.optional:
            values[name] = None
            continue
        number = whole_number(value, f.low, f.high)
        if number is None:
            errors[name] = f.error()
        else:
            values[name] = number
    if errors:
        return Parsed(None, errors)
    found: T = replace(kind(), **values)  # type: ignore[arg-type]
    return Parsed(found, {})


def from_form(kind: type[T], form: dict[str, str], *, on: bool = True) -> Parsed[T]:
    """`kind`'s thresholds from a form with one input per field (an empty optional field:
    no value; an empty required one: its sentence; a field the form lacks: its default);
    `on` False switches the rule off."""
    if not on:
        return Parsed(kind(on=False), {})
    text = " ".join(
        f"{f.name}={form[f.name].strip().replace(',', '')}" for f in kind.FIELDS if f.name in form
    )
    return parse_thresholds(kind, text)


def field_values(thresholds: MemoryThresholds | DatabaseThresholds) -> list[tuple[Field, str]]:
    """Each field with its value as the dashboard shows it ("" for no value)."""
    shown = []
    for f in thresholds.FIELDS:
        value = getattr(thresholds, f.name)
        shown.append((f, "" if value is None else str(value)))
    return shown


class Alert(Protocol):
    def event(self) -> Event: ...


A = TypeVar("A", bound=Alert)


@dataclass(frozen=True)
class Finding(Generic[A]):
    """What a limit rule's samples call for: the alerts, and what could not be judged (a
    dyno whose size Heroku's tables do not name, a database whose plan has no limits in
    the table), each named once, for the caller to say once."""

    alerts: tuple[A, ...] = ()
    unknown: tuple[str, ...] = ()

    def events(self) -> list[Event]:
        return [alert.event() for alert in self.alerts]
