"""Monitors (which app, which channel, how often) and what their last checks found.

Rows are locked in the one order `database.py` writes down (the monitor, its state, its
incidents and snoozes, its alerts): `lock_monitor` and `lock_state` take the first two.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.orm import Session

from heroku_monitor.core.detect import CheckState, Decision
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.core.validation import DEFAULT_CHANNEL
from heroku_monitor.store import outbox, snapshots
from heroku_monitor.store.database import Database, rowcount
from heroku_monitor.store.incidents import forget_app
from heroku_monitor.store.models import IncidentRow, KeyValue, Monitor, MonitorState, SnoozeRow
from heroku_monitor.store.monitor_rows import CHUNK as CHUNK
from heroku_monitor.store.monitor_rows import MonitorView as MonitorView
from heroku_monitor.store.monitor_rows import _as_last_seen as _as_last_seen
from heroku_monitor.store.monitor_rows import _chunks as _chunks
from heroku_monitor.store.monitor_rows import _view as _view
from heroku_monitor.store.monitor_rows import lock_monitor as lock_monitor
from heroku_monitor.store.monitor_rows import new_monitor as new_monitor
from heroku_monitor.store.replay import Summary


class Monitors:
    def __init__(self, db: Database, *, summary: Summary | None = None) -> None:
        self.db = db
        # The message that sums up a moved channel's failed alerts too old to send again
        # (SPEC §16; the store does not render: the composition root passes it in).
        self.summary = summary

    def seed(self, app_name: str | None, channel: str | None, interval: int, now: datetime) -> bool:
        """Create the first monitor from the environment, once per database ever."""
        if not app_name:
            return False
        with self.db.transaction() as s:
            if not self.db.insert_new(s, KeyValue, key="seeded", value=now.isoformat()):
                return False
            channel = channel or DEFAULT_CHANNEL
            s.add(new_monitor(app_name, channel, interval, now, source="environment"))
        return True

    def add(self, app_name: str, channel: str, interval: int, now: datetime) -> int:
        with self.db.transaction() as s:
            monitor = new_monitor(app_name, channel, interval, now)
            s.add(monitor)
            s.flush()
            return monitor.id

    def update(
        self, monitor_id: int, *, app_name: str, channel: str, interval: int, now: datetime
    ) -> bool:
        """Change a monitor; a new app starts from a baseline, and failed alerts go to a
        new channel."""
        with self.db.transaction() as s:
            monitor = lock_monitor(s, monitor_id)
            if monitor is None:
                return False
            # The state row before the incidents and alerts below (the lock order).
            s.execute(
                select(MonitorState.monitor_id)
                .where(MonitorState.monitor_id == monitor_id)
                .with_for_update()
            )
            if monitor.app_name != app_name:
                # The old app's incidents end quietly, and its snooze: they are no longer ours.
                forget_app(s, monitor_id, now)
                # Another app: its first check is a baseline, with no failures carried over.
                s.execute(
                    update(MonitorState)
                    .where(MonitorState.monitor_id == monitor_id)
                    .values(
                        app_name=app_name,
                        snapshot=None,
                        taken_at=None,
                        last_ok=None,
                        last_error=None,
                        failures=0,
                    )
                )
            if monitor.slack_channel != channel:
                s.execute(
                    update(MonitorState)
                    .where(MonitorState.monitor_id == monitor_id)
                    .values(delivery_error=None)
                )
                outbox.redirect_failed(s, monitor_id, channel, now, summary=self.summary)
            monitor.app_name, monitor.slack_channel = app_name, channel
            monitor.check_interval, monitor.updated_at = interval, now
            monitor.source = "dashboard"
        return True

    def set_mention(self, monitor_id: int, mention: str | None, now: datetime) -> bool:
        """Who the monitor's escalation calls (None: ALERT_MENTION's choice)."""
        return self._set(monitor_id, now, alert_mention=mention)

    def set_resolve_after(self, monitor_id: int, minutes: int | None, now: datetime) -> bool:
        """How long the monitor's dyno incidents stay up before they are resolved, in
        minutes (None: RESOLVE_AFTER_MINUTES)."""
        return self._set(monitor_id, now, resolve_after_minutes=minutes)

    def set_log_thresholds(self, monitor_id: int, thresholds: str | None, now: datetime) -> bool:
        """The monitor's log-alert thresholds, "lines/percent/requests" (None: defaults)."""
        return self._set(monitor_id, now, log_thresholds=thresholds)

    def set_paused(self, monitor_id: int, paused: bool, now: datetime) -> bool:
        return self._set(monitor_id, now, paused=paused)

    def _set(self, monitor_id: int, now: datetime, **values: object) -> bool:
        """Change some of a monitor's settings; False when there is no such monitor."""
        with self.db.transaction() as s:
            result = s.execute(
                update(Monitor).where(Monitor.id == monitor_id).values(updated_at=now, **values)
            )
            return bool(rowcount(result))

    def delete(self, monitor_id: int) -> bool:
        """Forget a monitor; its alerts stay in the log."""
        with self.db.transaction() as s:
            return remove(s, monitor_id)

    def active_ids(self, app_name: str) -> list[int]:
        """The monitors watching `app_name` that are not paused (one query, no state)."""
        with self.db.reading() as s:
            return list(
                s.execute(
                    select(Monitor.id)
                    .where(Monitor.app_name == app_name, Monitor.paused.is_(False))
                    .order_by(Monitor.id)
                ).scalars()
            )

    def watcher(
        self, app_name: str, channel: str, *, besides: int | None = None
    ) -> MonitorView | None:
        """A monitor (not `besides`) that watches `app_name` in `channel` already, or None:
        a second one would post each alert twice there (SPEC §14)."""
        with self.db.reading() as s:
            query = select(Monitor.id).where(
                Monitor.app_name == app_name, Monitor.slack_channel == channel
            )
            if besides is not None:
                query = query.where(Monitor.id != besides)
            found = s.execute(query.order_by(Monitor.id).limit(1)).scalar()
        return self.get(found) if found is not None else None

    def all(self) -> list[MonitorView]:
        with self.db.reading() as s:
            rows = s.execute(
                select(Monitor, MonitorState)
                .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
                .order_by(Monitor.id)
            ).all()
            return [_view(m, st) for m, st in rows]

    def get(self, monitor_id: int) -> MonitorView | None:
        with self.db.reading() as s:
            row = s.execute(
                select(Monitor, MonitorState)
                .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
                .where(Monitor.id == monitor_id)
            ).first()
            return _view(row[0], row[1]) if row else None

    def own_apps(self, monitor_ids: Collection[int]) -> list[str]:
        """The apps of these monitors that no team watch made (a round lists them), in
        one query without their state."""
        apps: list[str] = []
        with self.db.reading() as s:
            for chunk in _chunks(sorted(monitor_ids)):
                apps.extend(
                    s.execute(
                        select(Monitor.app_name)
                        .where(Monitor.id.in_(chunk), Monitor.team_watch_id.is_(None))
                        .order_by(Monitor.id)
                    ).scalars()
                )
        return apps

    def for_round(self, monitor_ids: Collection[int]) -> tuple[dict[int, MonitorView], set[int]]:
        """What a polling round decides its monitors against, in one read: their views
        (state included), and those with an open incident or a snooze (their checks go
        through their incidents even when nothing changed)."""
        ids = sorted(monitor_ids)
        views: dict[int, MonitorView] = {}
        busy: set[int] = set()
        with self.db.reading() as s:
            for chunk in _chunks(ids):
                rows = s.execute(
                    select(Monitor, MonitorState)
                    .outerjoin(MonitorState, MonitorState.monitor_id == Monitor.id)
                    .where(Monitor.id.in_(chunk))
                ).all()
                views.update((m.id, _view(m, st)) for m, st in rows)
                busy.update(
                    s.execute(
                        select(IncidentRow.monitor_id)
                        .where(IncidentRow.monitor_id.in_(chunk), IncidentRow.resolved_at.is_(None))
                        .union(select(SnoozeRow.monitor_id).where(SnoozeRow.monitor_id.in_(chunk)))
                    ).scalars()
                )
        return views, busy

    def latest_snapshot(self, app_name: str) -> tuple[AppSnapshot, str | None] | None:
        """The newest snapshot a monitor of `app_name` holds, and the reason its latest
        check failed (None when it succeeded), or None when no monitor has seen the app."""
        with self.db.reading() as s:
            row = s.execute(
                select(
                    MonitorState.snapshot,
                    MonitorState.last_ok,
                    MonitorState.last_error,
                    MonitorState.taken_at,
                )
                .join(Monitor, Monitor.id == MonitorState.monitor_id)
                .where(Monitor.app_name == app_name, MonitorState.app_name == app_name)
                .where(MonitorState.snapshot.is_not(None))
                .order_by(MonitorState.taken_at.desc())
                .limit(1)
            ).first()
        if row is None or row[0] is None:
            return None
        problem = (row[2] or "the check failed") if row[1] is False else None
        return _as_last_seen(snapshots.from_json(row[0]), row[3]), problem

    # -- one check's state, inside the checker's transaction ------------------------------

    def lock_state(self, s: Session, monitor_id: int, app_name: str) -> CheckState | None:
        """The monitor's check state, its row locked until `s` ends (two processes checking
        one monitor at once diff one after the other); None when the monitor is gone or
        now watches another app (the check that is ending was started before an edit)."""
        monitor = s.get(Monitor, monitor_id, with_for_update={"read": True, "key_share": True})
        if monitor is None or monitor.app_name != app_name:
            return None
        s.execute(
            self.db.insert(MonitorState)
            .values(monitor_id=monitor_id, app_name=app_name, failures=0)
            .on_conflict_do_nothing()
        )
        row = s.execute(
            select(MonitorState).where(MonitorState.monitor_id == monitor_id).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            return None  # the monitor was removed meanwhile
        previous = None
        if row.snapshot and row.app_name == app_name:
            previous = snapshots.from_json(row.snapshot)
        return CheckState(previous, row.failures)

    def save_state(self, s: Session, monitor_id: int, decision: Decision, now: datetime) -> None:
        """Keep what a check decided (the state row is locked by `lock_state`)."""
        values: dict[str, object] = {
            "last_check_at": now,
            "last_ok": decision.error is None,
            "last_error": decision.error,
            "failures": decision.state.failures,
        }
        kept = decision.state.snapshot
        if decision.error is None and kept is not None:
            snapshot = snapshots.to_json(kept)
            values.update(app_name=kept.app, snapshot=snapshot, taken_at=kept.taken_at)
        s.execute(
            update(MonitorState).where(MonitorState.monitor_id == monitor_id).values(**values)
        )

    def set_delivery_error(self, monitor_id: int | None, error: str | None) -> None:
        """What the dashboard says about the monitor's Slack channel (None: it works)."""
        if monitor_id is None:
            return
        with self.db.transaction() as s:
            s.execute(
                update(MonitorState)
                .where(MonitorState.monitor_id == monitor_id)
                .values(delivery_error=error)
            )

    def count_failure(
        self, s: Session, monitor_id: int, app_name: str, now: datetime, error: str
    ) -> int | None:
        """In `s`, one more failed check in a row, for a check that could not even record
        its failure (a bug): the kept snapshot is not read, so whatever broke reading it
        cannot break this too. Locks as `lock_state` does. Returns the failures in a row
        now (None: the monitor is gone, or watches another app)."""
        monitor = s.get(Monitor, monitor_id, with_for_update={"read": True, "key_share": True})
        if monitor is None or monitor.app_name != app_name:
            return None
        s.execute(
            self.db.insert(MonitorState)
            .values(monitor_id=monitor_id, app_name=app_name, failures=0)
            .on_conflict_do_nothing()
        )
        s.execute(
            update(MonitorState)
            .where(MonitorState.monitor_id == monitor_id)
            .values(
                last_check_at=now,
                last_ok=False,
                last_error=error,
                failures=MonitorState.failures + 1,
            )
        )
        failures = s.execute(
            select(MonitorState.failures).where(MonitorState.monitor_id == monitor_id)
        ).scalar()
        return int(failures or 0)

    def stamp_checked(self, s: Session, checked: Mapping[int, str], now: datetime) -> None:
        """In `s`, the checks of a round that found nothing new: only their time moves, the
        last check's and the kept snapshot's (`taken_at`: the JSON keeps when the app was
        first seen so; readers see the later time, `_as_last_seen`). Monitor id -> the app
        it checked; one whose monitor was turned to another app meanwhile is left alone.
        One statement for the whole round."""
        pairs = sorted(checked.items())
        for start in range(0, len(pairs), CHUNK // 2):
            s.execute(
                update(MonitorState)
                .where(
                    tuple_(MonitorState.monitor_id, MonitorState.app_name).in_(
                        pairs[start : start + CHUNK // 2]
                    )
                )
                .values(last_check_at=now, taken_at=now)
                .execution_options(synchronize_session=False)
            )


def remove(s: Session, monitor_id: int) -> bool:
    """Forget a monitor in `s`; its alerts stay in the log. False when there was none.
    The monitor's row is locked first (a check in progress ends first), then its state."""
    if s.get(Monitor, monitor_id, with_for_update=True) is None:
        return False
    s.execute(delete(MonitorState).where(MonitorState.monitor_id == monitor_id))
    outbox.detach(s, monitor_id)
    return bool(rowcount(s.execute(delete(Monitor).where(Monitor.id == monitor_id))))
