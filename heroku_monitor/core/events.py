"""The event a check alerts on (`core/detect` decides them, `core/build_events` the builds'
ones). Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from heroku_monitor.core.snapshot import Addon, Build, Dyno, Release


@dataclass(frozen=True)
class Event:
    """One change worth a line in Slack. Only the fields of its kind are set."""

    kind: str
    app: str
    key: str
    dyno: Dyno | None = None
    release: Release | None = None
    rollback_to: int | None = None
    addon: Addon | None = None
    previous_addon: Addon | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    maintenance: bool | None = None
    # Monitoring trouble: why the checks failed, and how many failed in a row (recovered:
    # how many had failed before the check that succeeded).
    reason: str = ""
    failures: int = 0
    # A log alert: what the window's lines said (code, counts, window, paths, dynos), and
    # how many lines (5xx lines for the rate) it counted.
    summary: str = ""
    lines: int = 0
    # A build alert (SPEC §14): the build; a deploy or rollback: the commit of the release
    # that ran before it (its compare link's base), "" when unknown.
    build: Build | None = None
    previous_commit: str = ""
    # A certificate alert (SPEC §15, `core/certificates`): the domains it names, the
    # certificate's expiry and the whole days left then (`reason`: why ACM failed).
    hostnames: tuple[str, ...] = ()
    expires_at: datetime | None = None
    days_left: int = 0
