"""The incident state machine (SPEC section 11). Pure: no I/O, no clock.

The shell loads a monitor's open incidents and snoozes, calls `apply` with the fresh events
of a check (and the snapshot it kept), saves the incidents and snoozes that come back and
records each action once under its `key`, then delivers: a `POST` is a top-level message, a
`REPLY` goes in the thread of the incident's opening message, an `UPDATE` edits that opening
message, and a `MUTED` action is recorded and never sent. `tick` closes the quiet incidents
between checks; `acknowledge`, `snooze` and `end_snooze` answer the buttons and the dashboard.
Call them under the monitor's state lock: two calls on the same incidents at once would
number their updates alike.

Nothing here writes Slack text: an action carries the events and the incident, and
`messages` renders them. The opening message is the section 4 alert of `opening`, so
`messages.build(action.events, …)` of an `OPENED` action is the PRD text, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from heroku_monitor.core import builds, certificates, detect
from heroku_monitor.core.detect import Event
from heroku_monitor.core.incidents.model import (
    ACKNOWLEDGED,
    DYNOS,
    MONITORING,
    POST,
    RELEASE,
    SNOOZE_ENDED,
    Action,
    Incident,
    Outcome,
    Snooze,
)
from heroku_monitor.core.incidents.run import Run
from heroku_monitor.core.logs import memory
from heroku_monitor.core.logs.rules import is_log_kind
from heroku_monitor.core.quiet import QUIET_FOR, STABLE_FOR
from heroku_monitor.core.snapshot import AppSnapshot

_OPENS = {
    detect.DYNO_CRASHED: DYNOS,
    detect.DYNOS_DOWN: DYNOS,
    detect.RELEASE_FAILED: RELEASE,
    detect.MONITORING_TROUBLE: MONITORING,
    **certificates.OPENS,  # a certificate expiring, ACM failed (SPEC §15)
    **builds.OPENS,  # a failed build (SPEC §14)
}
_CLOSES = {
    detect.DYNOS_RECOVERED: DYNOS,
    detect.DEPLOY: RELEASE,
    detect.ROLLBACK: RELEASE,
    detect.MONITORING_RECOVERED: MONITORING,
    **certificates.CLOSES,
    **builds.CLOSES,  # the next build that succeeds
}
# Events that only end an incident: with none open they say nothing (a renewal nobody was
# told about is no news).
_ONLY_CLOSE = set(certificates.CLOSES) | set(builds.CLOSES)
# A succeeded deploy ends a failed release and is still posted as itself: it is news of its
# own, and that post already tells the channel, so the release's recovery is not broadcast.
_ALWAYS_POSTED = {detect.DEPLOY, detect.ROLLBACK}


def family_of(kind: str) -> str | None:
    """The family of incident an event of `kind` opens, or None (it opens none)."""
    if is_log_kind(kind):
        return memory.FAMILIES.get(kind, kind)  # near quota and R14: one (SPEC §15)
    return _OPENS.get(kind)


def apply(
    incidents: Sequence[Incident],
    events: Iterable[Event],
    now: datetime,
    *,
    snapshot: AppSnapshot | None = None,
    mention: str = "here",
    snoozes: Sequence[Snooze] = (),
    resolve_after: timedelta = STABLE_FOR,
    platform: str = "",
) -> Outcome:
    """The incidents after a check at `now` found `events` (each new: the shell drops keys
    it has seen). `snapshot`: what that check kept of the app (its releases name a suspect
    deploy; a dyno no longer in it was scaled away, so it is not down). `mention`: the
    monitor's mention setting for an escalation. `resolve_after`: the monitor's resolve
    hold (RESOLVE_AFTER_MINUTES or its own; zero ends a dyno incident in the check that
    finds its dynos all up). `platform`: the title of the Heroku platform incident open now
    (SPEC §15), which an incident opened meanwhile names in its first message. Quiet
    incidents are closed first (`tick`).
    """
    ticked = tick(incidents, now, snoozes=snoozes, resolve_after=resolve_after)
    run = Run(ticked.incidents, ticked.snoozes, now, ticked.actions, platform=platform)
    groups: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        groups.setdefault((event.app, event.kind), []).append(event)
    # As `messages.build` orders them: by app, the most urgent kind first (log kinds last).
    order = {kind: i for i, kind in enumerate(detect.KINDS)}
    for (app, kind), group in sorted(
        groups.items(), key=lambda g: (g[0][0], order.get(g[0][1], len(order)), g[0][1])
    ):
        family = family_of(kind)
        seen = snapshot if snapshot is not None and snapshot.app == app else None
        if family is not None:
            run.problem(app, family, group, seen, mention)
            continue
        closes = _CLOSES.get(kind)
        incident = run.open_of(app, closes) if closes else None
        if incident is None and kind in _ONLY_CLOSE:
            continue
        if incident is None or kind in _ALWAYS_POSTED:
            run.alert(app, kind, group)
        if incident is not None:
            run.settle(incident, kind, group)
    run.watch_dynos(snapshot)
    run.resolve_held(resolve_after)
    return run.finish()


def tick(
    incidents: Sequence[Incident],
    now: datetime,
    *,
    snoozes: Sequence[Snooze] = (),
    resolve_after: timedelta = STABLE_FOR,
) -> Outcome:
    """Close what has been quiet long enough at `now`: a log incident after QUIET_FOR
    without an alert, a dyno incident whose dynos have all been up for `resolve_after`
    (the monitor's resolve hold)."""
    run = Run(incidents, snoozes, now)
    for incident in incidents:
        quiet = now - incident.last_seen >= QUIET_FOR
        if incident.is_open and is_log_kind(incident.family) and quiet:
            run.resolve(incident, incident.last_seen)
    run.resolve_held(resolve_after)
    return run.finish()


def acknowledge(incident: Incident, by: str, now: datetime) -> tuple[Incident, tuple[Action, ...]]:
    """`incident` acknowledged by `by` at `now` (a reply and an edit of the opening message);
    no change and no action when it is closed or already acknowledged (the first one counts)."""
    if not incident.is_open or incident.acknowledged_by:
        return incident, ()
    run = Run((incident,), (), now)
    acked = replace(incident, acknowledged_by=by, acknowledged_at=now)
    run.put(acked)
    run.reply(acked, ACKNOWLEDGED, f"{acked.id}:ack")
    outcome = run.finish()
    return outcome.incidents[0], outcome.actions


def snooze(
    incidents: Sequence[Incident],
    app: str,
    by: str,
    until: datetime,
    now: datetime,
    *,
    current: Snooze | None = None,
) -> Outcome:
    """`app` snoozed by `by` from `now` to `until` (extending `current`, if any): the opening
    message of each of its open incidents shows it. `Outcome.snoozes` is the one snooze."""
    since, muted = (current.since, current.muted) if current else (now, ())
    held = Snooze(app, since, until, by, muted)
    run = Run(incidents, (held,), now)
    for incident in incidents:
        if incident.app == app and incident.is_open:
            run.put(replace(incident, snoozed_until=until, snoozed_by=by))
    return run.finish()


def end_snooze(held: Snooze, incidents: Sequence[Incident], now: datetime) -> Outcome:
    """The end of `held` (its time is up, or the dashboard ended it): one top-level line
    saying what was muted; the opening message of each incident opened meanwhile and still
    open, posted now (the problem goes on, and its recovery needs a thread); the snooze
    removed from the opening messages that showed it. `Outcome.snoozes` is empty."""
    run = Run(incidents, (), now)
    run.emit(
        Action(
            POST,
            SNOOZE_ENDED,
            f"{held.app}:snooze:{held.since.isoformat()}:ended",
            held.app,
            now,
            snooze=held,
        )
    )
    for incident in incidents:
        if incident.app != held.app or not incident.is_open:
            continue
        if incident.muted:
            run.put(replace(incident, muted=False, snoozed_until=None, snoozed_by=""))
            run.post_opening(run.incidents[incident.id])
        elif incident.snoozed_until is not None:
            run.put(replace(incident, snoozed_until=None, snoozed_by=""))
    return run.finish()
