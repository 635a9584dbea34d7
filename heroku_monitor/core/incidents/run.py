"""The work of one call of the incident state machine: the incidents, snoozes and actions
as they change, and the rules that apply to one problem (open, follow up, escalate, end).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from heroku_monitor.core import certificates, detect
from heroku_monitor.core.detect import Event
from heroku_monitor.core.incidents.model import (
    ALERT,
    BACK_UP,
    DYNOS,
    ESCALATION,
    FOLLOW_UP,
    MUTED,
    OPENED,
    POST,
    RELEASE,
    REPLY,
    RESOLVED,
    STATE,
    UPDATE,
    Action,
    Incident,
    Outcome,
    Snooze,
    opening_key,
)
from heroku_monitor.core.logs.rules import is_log_kind
from heroku_monitor.core.releases import suspect_deploy
from heroku_monitor.core.snapshot import AppSnapshot

# Crash loop: this many crashes of an app's dynos within the window escalate, once.
CRASH_LOOP = 3
CRASH_WINDOW = timedelta(minutes=15)


def _broadcasts_recovery(family: str) -> bool:
    return family != RELEASE


def _shown(incident: Incident) -> tuple[object, ...]:
    """What the opening message shows: a change here is an edit."""
    return (
        incident.count,
        incident.crashes,
        incident.down,
        incident.recovering_since is None,
        incident.acknowledged_by,
        incident.snoozed_until,
        incident.resolved_at,
    )


def _digest(keys: Iterable[str]) -> str:
    joined = "\n".join(sorted(keys))
    return hashlib.sha256(joined.encode()).hexdigest()[:24]


class Run:
    """The incidents, snoozes and actions of one call, as they change."""

    def __init__(
        self,
        incidents: Sequence[Incident],
        snoozes: Sequence[Snooze],
        now: datetime,
        actions: Sequence[Action] = (),
        *,
        platform: str = "",
    ) -> None:
        self.now = now
        # The Heroku platform incident open now, named by the incidents opened meanwhile.
        self.platform = platform
        self.incidents = {i.id: i for i in incidents}
        self.shown = {i.id: _shown(i) for i in incidents}
        self.snoozes = {s.app: s for s in snoozes}
        self.actions = list(actions)
        self.down_before = {i.id: i.down for i in incidents}
        self.scaled_away: dict[str, set[str]] = {}  # incident id -> its dynos gone meanwhile

    def open_of(self, app: str, family: str) -> Incident | None:
        found = (i for i in self.incidents.values() if (i.app, i.family) == (app, family))
        return next((i for i in found if i.is_open), None)

    def snoozed(self, app: str) -> bool:
        held = self.snoozes.get(app)
        return held is not None and held.active(self.now)

    def put(self, incident: Incident) -> Incident:
        self.incidents[incident.id] = incident
        return incident

    def emit(self, action: Action) -> None:
        """Send `action`, or record it as MUTED: anything about a muted incident, and every
        top-level post while its app is snoozed (a broadcast becomes a plain reply then)."""
        quiet = action.incident is not None and action.incident.muted
        if action.kind == POST and self.snoozed(action.app):
            quiet = True
            held = self.snoozes[action.app]
            kind = action.events[0].kind if action.events else action.what
            self.snoozes[action.app] = replace(held, muted=(*held.muted, kind))
        if quiet:
            if action.kind != UPDATE:  # there is no message to edit
                self.actions.append(replace(action, kind=MUTED, key=f"{action.key}:muted"))
            return
        if action.broadcast and self.snoozed(action.app):
            action = replace(action, broadcast=False)
        self.actions.append(action)

    def alert(self, app: str, kind: str, events: Sequence[Event]) -> None:
        # The key `messages.Message.key` gives the same events: the post is the same message.
        key = f"{app}:{kind}:{_digest(e.key for e in events)}"
        self.emit(Action(POST, ALERT, key, app, self.now, events=tuple(events)))

    def reply(
        self,
        incident: Incident,
        what: str,
        key: str,
        events: Sequence[Event] = (),
        *,
        broadcast: bool = False,
        mention: str = "",
    ) -> None:
        self.emit(
            Action(
                REPLY,
                what,
                key,
                incident.app,
                self.now,
                incident.id,
                tuple(events),
                incident,
                broadcast,
                mention,
            )
        )

    def post_opening(self, incident: Incident) -> None:
        self.shown[incident.id] = _shown(incident)
        self.emit(
            Action(
                POST,
                OPENED,
                opening_key(incident.id),
                incident.app,
                self.now,
                incident.id,
                incident.opening,
                incident,
            )
        )

    def problem(
        self,
        app: str,
        family: str,
        events: Sequence[Event],
        seen: AppSnapshot | None,
        mention: str,
    ) -> None:
        """Events that open an incident: open one, or follow the open one up in its thread."""
        incident = self.open_of(app, family)
        crashes = sum(1 for e in events if e.kind == detect.DYNO_CRASHED)
        names = tuple(e.dyno.name for e in events if e.dyno is not None)
        earlier = incident.recent_crashes if incident else ()
        recent = (*(t for t in earlier if self.now - t <= CRASH_WINDOW), *(self.now,) * crashes)
        if incident is None:
            keys = sorted(e.key for e in events)
            suspect = None
            if seen is not None and (family == DYNOS or is_log_kind(family)):
                suspect = suspect_deploy(app, seen.releases, self.now)
            incident = self.put(
                Incident(
                    id=f"{app}:{family}:{keys[0]}",
                    app=app,
                    family=family,
                    opened_at=self.now,
                    last_seen=self.now,
                    opening=tuple(events),
                    count=len(events),
                    crashes=crashes,
                    recent_crashes=recent,
                    dynos=tuple(dict.fromkeys(names)),
                    down=tuple(dict.fromkeys(names)),
                    suspect=suspect,
                    muted=self.snoozed(app),
                    # A certificate's trouble is not the platform's: only the others say it.
                    platform="" if family in certificates.FAMILIES else self.platform,
                )
            )
            self.post_opening(incident)
        else:
            incident = self.put(
                replace(
                    incident,
                    last_seen=self.now,
                    count=incident.count + len(events),
                    crashes=incident.crashes + crashes,
                    recent_crashes=recent,
                    dynos=tuple(dict.fromkeys((*incident.dynos, *names))),
                    down=tuple(dict.fromkeys((*incident.down, *names))),
                    recovering_since=None if names else incident.recovering_since,
                )
            )
            key = f"{incident.id}:reply:{_digest(e.key for e in events)}"
            self.reply(incident, FOLLOW_UP, key, events)
        if (
            len(incident.recent_crashes) >= CRASH_LOOP
            and not incident.escalated
            and not incident.acknowledged_by
            and not incident.muted
            and not self.snoozed(app)  # a snooze says "we know": no one is called meanwhile
        ):
            incident = self.put(replace(incident, escalated=True))
            self.reply(
                incident,
                ESCALATION,
                f"{incident.id}:escalation",
                broadcast=True,  # to the channel, yet in the incident's thread (section 11)
                mention=mention,
            )

    def settle(self, incident: Incident, kind: str, events: Sequence[Event]) -> None:
        """An event that may end `incident`."""
        if kind == detect.DYNOS_RECOVERED:
            up = {e.dyno.name for e in events if e.dyno is not None}
            self.put(replace(incident, down=tuple(n for n in incident.down if n not in up)))
        else:
            self.resolve(incident, self.now, events)

    def watch_dynos(self, snapshot: AppSnapshot | None) -> None:
        """Dyno incidents whose dynos are all up (or scaled away) start their resolve hold."""
        for incident in list(self.incidents.values()):
            if incident.family != DYNOS or not incident.is_open:
                continue
            down = incident.down
            if snapshot is not None and snapshot.app == incident.app:
                states = {d.name: d.state for d in snapshot.dynos}
                away = self.scaled_away.setdefault(incident.id, set())
                away.update(n for n in down if n not in states)
                down = tuple(n for n in down if n in states and states[n] != "up")
            since = incident.recovering_since
            if not down and since is None:
                since = self.now
            self.put(replace(incident, down=down, recovering_since=since if not down else None))

    def resolve_held(self, hold: timedelta) -> None:
        """End the dyno incidents whose dynos have all been up for `hold` (the monitor's
        resolve hold); "Resolved after N min" counts to the moment they came up."""
        for incident in list(self.incidents.values()):
            since = incident.recovering_since
            if incident.family != DYNOS or not incident.is_open or since is None:
                continue
            if self.now - since >= hold:
                self.resolve(incident, since)

    def back_up(self, incident: Incident) -> None:
        """A reply naming the dynos of `incident` up again while others are still down (a
        partial recovery is otherwise silent: the edit alone is easy to miss)."""
        before = self.down_before.get(incident.id, ())
        if incident.family != DYNOS or not incident.is_open or not incident.down:
            return
        away = self.scaled_away.get(incident.id, set())
        back = tuple(n for n in before if n not in incident.down and n not in away)
        if not back:
            return
        key = f"{incident.id}:up:{_digest((*back, self.now.isoformat()))}"
        self.emit(
            Action(
                REPLY,
                BACK_UP,
                key,
                incident.app,
                self.now,
                incident.id,
                incident=incident,
                dynos=back,
            )
        )

    def resolve(self, incident: Incident, at: datetime, events: Sequence[Event] = ()) -> None:
        ended = self.put(replace(incident, resolved_at=at, down=()))
        self.reply(
            ended,
            RESOLVED,
            f"{ended.id}:resolved",
            events,
            broadcast=_broadcasts_recovery(ended.family),
        )

    def finish(self) -> Outcome:
        """A reply per incident some of whose dynos came back; one edit of the opening
        message per incident whose shown state changed."""
        for incident in list(self.incidents.values()):
            self.back_up(incident)
        for incident in list(self.incidents.values()):
            before = self.shown.get(incident.id)
            if before is None or before == _shown(incident) or incident.muted:
                continue
            edited = self.put(replace(incident, revision=incident.revision + 1))
            self.emit(
                Action(
                    UPDATE,
                    STATE,
                    f"{edited.id}:update:{edited.revision}",
                    edited.app,
                    self.now,
                    edited.id,
                    edited.opening,
                    edited,
                )
            )
        return Outcome(
            tuple(self.incidents.values()), tuple(self.actions), tuple(self.snoozes.values())
        )
