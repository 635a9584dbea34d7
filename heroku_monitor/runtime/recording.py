"""Recording what a check saw, in one transaction under the monitor's state lock: decide
what changed (pure), save the state, and queue what the app's incidents say to post, reply
or edit. A check of a snapshot calls `record`; one of the app's logs, `record_events`; a
check whose recording itself hit a bug, `count_failure`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from heroku_monitor.core import detect, incidents, rounds
from heroku_monitor.core.detect import CheckFailed, Event
from heroku_monitor.core.rounds import PartRead
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.render import messages, threads
from heroku_monitor.store import changes
from heroku_monitor.store.incidents import IncidentStore
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import Outbox
from heroku_monitor.store.platform_status import open_title


def record(
    monitors: Monitors,
    outbox: Outbox,
    store: IncidentStore,
    monitor_id: int,
    app: str,
    seen: AppSnapshot | PartRead | CheckFailed,
    now: datetime,
    *,
    mention: str = "here",
    dashboard_url: str | None = None,
) -> list[Event]:
    """In one transaction: load the monitor's state, decide what changed (pure), save the
    state; then the events not seen before go to the app's incidents (pure), which say
    what to post, reply or edit, and that is queued; returns those events. A round's
    partial read is completed from the kept snapshot here, under the lock, so it carries
    the newest releases and config vars any process read.

    The state row stays locked to the end, so two processes checking one monitor at once
    decide one after the other, never both against the same snapshot or incidents.
    """
    with monitors.db.transaction() as s:
        state = monitors.lock_state(s, monitor_id, app)
        if state is None:
            return []  # the monitor is gone, or watches another app since the check began
        if isinstance(seen, PartRead):
            assembled = rounds.assemble(seen, now=now, previous=state.snapshot)
            if assembled is None:
                return []  # the monitor was reset meanwhile: its next check is a baseline
            seen = assembled
        decision = detect.decide(app, state, seen, now)
        if decision is None:
            return []  # a newer check already landed: this one is stale
        monitors.save_state(s, monitor_id, decision, now)
        return _converse(
            s,
            outbox,
            store,
            monitor_id,
            app,
            decision.events,
            decision.state.snapshot,
            now,
            mention,
            dashboard_url,
        )


def record_events(
    monitors: Monitors,
    outbox: Outbox,
    store: IncidentStore,
    monitor_id: int,
    app: str,
    events: list[Event],
    now: datetime,
    *,
    mention: str = "here",
    dashboard_url: str | None = None,
) -> list[Event]:
    """Events that come from somewhere else than a snapshot (the app's logs), in one
    transaction under the monitor's state lock: the new ones go to the app's incidents,
    what they say is queued; returns the new ones."""
    with monitors.db.transaction() as s:
        state = monitors.lock_state(s, monitor_id, app)
        if state is None:
            return []
        return _converse(
            s, outbox, store, monitor_id, app, events, state.snapshot, now, mention, dashboard_url
        )


def count_failure(
    monitors: Monitors,
    outbox: Outbox,
    store: IncidentStore,
    monitor_id: int,
    app: str,
    reason: str,
    now: datetime,
    *,
    mention: str = "here",
    dashboard_url: str | None = None,
) -> list[Event]:
    """A failed check whose recording raised (a bug, SPEC §16), counted in a transaction
    of its own without reading the kept snapshot; the third failure in a row still queues
    Monitoring Trouble: through the app's incidents, or, when they are what breaks, as an
    alert of its own. Returns the events queued. The count is kept whatever the alert
    meets: a bug in queuing it is raised once the count is committed."""
    failed: Exception | None = None
    fresh: list[Event] = []
    with monitors.db.transaction() as s:
        failures = monitors.count_failure(s, monitor_id, app, now, reason)
        if failures is None:
            return []
        try:
            events = detect.check_failed(app, failures, reason, now)
            if events:
                fresh = _queued_alone_if_need_be(
                    s, outbox, store, monitor_id, app, events, now, mention, dashboard_url
                )
        except SQLAlchemyError:
            raise
        except Exception as exc:
            failed = exc
    if failed is not None:
        raise failed
    return fresh


def _queued_alone_if_need_be(
    s: Session,
    outbox: Outbox,
    store: IncidentStore,
    monitor_id: int,
    app: str,
    events: list[Event],
    now: datetime,
    mention: str,
    dashboard_url: str | None,
) -> list[Event]:
    try:
        with s.begin_nested():
            return _converse(
                s, outbox, store, monitor_id, app, events, None, now, mention, dashboard_url
            )
    except SQLAlchemyError:
        raise
    except Exception:  # the incidents are what breaks: the alert goes alone
        with s.begin_nested():
            fresh = outbox.first_seen(s, monitor_id, events, now)
            outbox.enqueue(
                s, monitor_id, messages.build(fresh, now, dashboard_url=dashboard_url), now
            )
            return fresh


def _converse(
    s: Session,
    outbox: Outbox,
    store: IncidentStore,
    monitor_id: int,
    app: str,
    events: list[Event],
    snapshot: AppSnapshot | None,
    now: datetime,
    mention: str,
    dashboard_url: str | None = None,
) -> list[Event]:
    """The events not seen before go to the app's incidents (pure), which say what to post,
    reply or edit; that is queued. Returns those events."""
    fresh = outbox.first_seen(s, monitor_id, events, now)
    outcome = incidents.apply(
        store.open_incidents(s, monitor_id, app),
        fresh,
        now,
        snapshot=snapshot,
        mention=mention,
        snoozes=store.snoozes(s, monitor_id, app),
        resolve_after=store.resolve_hold(s, monitor_id),
        # A Heroku platform incident open now is named in what opens (SPEC §15); read only
        # when something may open.
        platform=open_title(s, now) if any(incidents.family_of(e.kind) for e in fresh) else "",
    )
    store.save(s, monitor_id, outcome.incidents)
    store.save_snoozes(s, monitor_id, outcome.snoozes)
    if outcome.actions:
        repository = changes.repository(s, monitor_id)  # commit and compare links (SPEC §14)
        messages = threads.outbox_messages(outcome.actions, now, repository, dashboard_url)
        outbox.enqueue(s, monitor_id, messages, now)
    return fresh
