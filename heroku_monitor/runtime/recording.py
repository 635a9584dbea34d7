"""Recording what a check saw, in one transaction under the monitor's state lock: decide
what changed (pure), save the state, and queue what the app's incidents say to post, reply
or edit. A check of a snapshot calls `record`; one of the app's logs, `record_events`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from heroku_monitor.core import detect, incidents, rounds
from heroku_monitor.core.detect import CheckFailed, Event
from heroku_monitor.core.rounds import PartRead
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.render import threads
from heroku_monitor.store.incidents import IncidentStore
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import Outbox


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
) -> list[Event]:
    """Events that come from somewhere else than a snapshot (the app's logs), in one
    transaction under the monitor's state lock: the new ones go to the app's incidents,
    what they say is queued; returns the new ones."""
    with monitors.db.transaction() as s:
        state = monitors.lock_state(s, monitor_id, app)
        if state is None:
            return []
        return _converse(s, outbox, store, monitor_id, app, events, state.snapshot, now, mention)


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
    )
    store.save(s, monitor_id, outcome.incidents)
    store.save_snoozes(s, monitor_id, outcome.snoozes)
    outbox.enqueue(s, monitor_id, threads.outbox_messages(outcome.actions, now), now)
    return fresh
