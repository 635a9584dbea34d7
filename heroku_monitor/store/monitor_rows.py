"""A monitor's rows as the rest of the service sees them: `MonitorView` (a monitor with
its state), the new row and the locked one, and the chunks statements name monitors in."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.store import snapshots
from heroku_monitor.store.models import Monitor, MonitorState


@dataclass(frozen=True)
class MonitorView:
    """A monitor with its state, as the dashboard and the checker read it."""

    id: int
    app_name: str
    slack_channel: str
    check_interval: int
    paused: bool
    source: str = "dashboard"
    last_check_at: datetime | None = None
    last_ok: bool | None = None
    last_error: str | None = None
    failures: int = 0
    delivery_error: str | None = None
    snapshot: AppSnapshot | None = None
    alert_mention: str | None = None  # None: ALERT_MENTION's choice
    log_thresholds: str | None = None  # "lines/percent/requests"; None: the defaults
    resolve_after_minutes: int | None = None  # None: RESOLVE_AFTER_MINUTES
    team_watch_id: int | None = None  # the team watch that made it (None: a person did)
    changes_channel: str | None = None  # SPEC §14: where changes go (None: slack_channel)
    repository: str | None = None  # SPEC §14: GitHub `owner/name`, for commit links


# Monitors one statement names at most (the databases bound a statement's parameters).
CHUNK = 900


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def lock_monitor(s: Session, monitor_id: int) -> Monitor | None:
    """The monitor's row, locked for a change of its settings until `s` ends (first in the
    lock order; a check's share of it does not wait on this one); None when it is gone."""
    return s.get(Monitor, monitor_id, with_for_update={"key_share": True})


def new_monitor(
    app_name: str,
    channel: str,
    interval: int,
    now: datetime,
    *,
    source: str = "dashboard",
    paused: bool = False,
    team_watch_id: int | None = None,
) -> Monitor:
    """A new monitor's row (added to a session by the caller)."""
    return Monitor(
        app_name=app_name,
        slack_channel=channel,
        check_interval=interval,
        paused=paused,
        source=source,
        created_at=now,
        updated_at=now,
        team_watch_id=team_watch_id,
    )


def _as_last_seen(snapshot: AppSnapshot, seen_at: datetime | None) -> AppSnapshot:
    """The kept snapshot, as of the last check that saw it: a round's check that found
    nothing new moves only the state row's `taken_at` (`stamp_checked`), not the JSON's."""
    if seen_at is not None and seen_at > snapshot.taken_at:
        return replace(snapshot, taken_at=seen_at)
    return snapshot


def _view(m: Monitor, st: MonitorState | None) -> MonitorView:
    snapshot = None
    if st and st.snapshot and st.app_name == m.app_name:
        snapshot = _as_last_seen(snapshots.from_json(st.snapshot), st.taken_at)
    return MonitorView(
        id=m.id,
        app_name=m.app_name,
        slack_channel=m.slack_channel,
        check_interval=m.check_interval,
        paused=m.paused,
        source=m.source,
        last_check_at=st.last_check_at if st else None,
        last_ok=st.last_ok if st else None,
        last_error=st.last_error if st else None,
        failures=st.failures if st else 0,
        delivery_error=st.delivery_error if st else None,
        snapshot=snapshot,
        alert_mention=m.alert_mention,
        log_thresholds=m.log_thresholds,
        resolve_after_minutes=m.resolve_after_minutes,
        team_watch_id=m.team_watch_id,
        changes_channel=m.changes_channel,
        repository=m.repository,
    )
