"""Incidents: one conversation per problem (SPEC section 11). Pure: no I/O, no clock.

The shell loads a monitor's open incidents and snoozes, calls `apply` with the fresh events
of a check (and the snapshot it kept), saves the incidents and snoozes that come back and
records each action once under its `key`, then delivers: a `POST` is a top-level message, a
`REPLY` goes in the thread of the incident's opening message, an `UPDATE` edits that opening
message, and a `MUTED` action is recorded and never sent. `tick` closes the quiet incidents
between checks; `acknowledge`, `snooze` and `end_snooze` answer the buttons and the dashboard.
Call them under the monitor's state lock: two calls on the same incidents at once would
number their updates alike.

Families. An incident is one (app, family): `dynos` (a crash or dynos down: a dyno that
crashes, then goes down, is one problem, and one opening message; SPEC's "nothing else about
an open incident is posted at the top level"), `release` (a failed release), `monitoring`
(the Heroku API failing), and each log-alert kind (`log_…`) on its own.

Nothing here writes Slack text: an action carries the events and the incident, and
`messages` renders them. The opening message is the section 4 alert of `opening`, so
`messages.build(action.events, …)` of an `OPENED` action is the PRD text, unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from heroku_monitor.core import detect
from heroku_monitor.core.detect import Event
from heroku_monitor.core.snapshot import Addon, AppSnapshot, Dyno, Release

DYNOS = "dynos"
RELEASE = "release"
MONITORING = "monitoring"
LOG_PREFIX = "log_"  # a log-based alert kind (section 12) starts so: `log_router_error`

# Crash loop: this many crashes of an app's dynos within the window escalate, once.
CRASH_LOOP = 3
CRASH_WINDOW = timedelta(minutes=15)
# A crash, dynos down or log error this soon after a deploy names the deploy.
SUSPECT_WINDOW = timedelta(minutes=15)
# A log incident ends after this long without a new alert (section 12).
QUIET_FOR = timedelta(minutes=10)
# A dyno incident ends when its dynos are all up, but only says so once they have stayed up
# this long: a crash-looping dyno comes up between crashes, and each short `up` must not end
# the incident (a new top-level post and a broadcast per loop is the flood section 11 stops).
# Longer than the default check interval (5 min), so a polled loop stays one incident.
# The opening message is edited at once ("dynos up, watching"), and "Resolved after N min"
# counts to the moment they came up, not to the end of the wait.
STABLE_FOR = timedelta(minutes=10)

# Action kinds.
POST = "post"  # a top-level message
REPLY = "reply"  # a reply in the incident's thread (`broadcast`: also shown in the channel)
UPDATE = "update"  # an edit of the incident's opening message
MUTED = "muted"  # what would have been posted while the app was snoozed: recorded, not sent

# What an action says.
ALERT = "alert"  # an event that is no incident's business (deploy, config, add-ons, …)
OPENED = "opened"
FOLLOW_UP = "follow_up"
ESCALATION = "escalation"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
STATE = "state"  # the opening message with the incident's current state
SNOOZE_ENDED = "snooze_ended"

_OPENS = {
    detect.DYNO_CRASHED: DYNOS,
    detect.DYNOS_DOWN: DYNOS,
    detect.RELEASE_FAILED: RELEASE,
    detect.MONITORING_TROUBLE: MONITORING,
}
_CLOSES = {
    detect.DYNOS_RECOVERED: DYNOS,
    detect.DEPLOY: RELEASE,
    detect.ROLLBACK: RELEASE,
    detect.MONITORING_RECOVERED: MONITORING,
}
# A succeeded deploy ends a failed release and is still posted as itself: it is news of its
# own, and that post already tells the channel, so the release's recovery is not broadcast.
_ALWAYS_POSTED = {detect.DEPLOY, detect.ROLLBACK}
_USER_GROUP = re.compile(r"S[A-Z0-9]{2,20}")


def is_log_kind(kind: str) -> bool:
    return kind.startswith(LOG_PREFIX)


def family_of(kind: str) -> str | None:
    """The family of incident an event of `kind` opens, or None (it opens none)."""
    if is_log_kind(kind):
        return kind
    return _OPENS.get(kind)


def _broadcasts_recovery(family: str) -> bool:
    return family != RELEASE


def mention_markup(setting: str) -> str:
    """Slack markup for a mention setting: `none` or "" -> "", `here` -> `<!here>`,
    `channel` -> `<!channel>`, a user-group ID `S…` -> `<!subteam^S…>`; ValueError (a
    sentence for the user) for anything else."""
    value = setting.strip()
    if value.lower() in ("", "none"):
        return ""
    if value.lower() in ("here", "channel"):
        return f"<!{value.lower()}>"
    if _USER_GROUP.fullmatch(value):
        return f"<!subteam^{value}>"
    raise ValueError(
        f"{setting!r} is not a mention: use none, here, channel or a Slack user-group ID (S…)."
    )


@dataclass(frozen=True)
class SuspectDeploy:
    """The deploy an incident began soon after, and the release before it."""

    app: str
    version: int
    user: str
    created_at: str
    minutes_before: int
    previous: int | None  # the newest succeeded release below it (None: not among those seen)

    @property
    def rollback_command(self) -> str | None:
        if self.previous is None:
            return None
        return f"heroku rollback v{self.previous} -a {self.app}"


@dataclass(frozen=True)
class Incident:
    """One problem of one app, from its opening alert to its end (`resolved_at`)."""

    id: str
    app: str
    family: str
    opened_at: datetime
    last_seen: datetime  # the latest event that opened or fed it
    opening: tuple[Event, ...]  # the events of the opening message (section 4's alert)
    count: int = 1  # events that opened or fed it (crashes, downs, failures, log alerts)
    crashes: int = 0  # of which dyno crashes
    recent_crashes: tuple[datetime, ...] = ()  # crash times within CRASH_WINDOW
    dynos: tuple[str, ...] = ()  # every dyno it named
    down: tuple[str, ...] = ()  # those not up again
    recovering_since: datetime | None = None  # when every dyno it named was up again
    escalated: bool = False
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    snoozed_until: datetime | None = None
    snoozed_by: str = ""
    suspect: SuspectDeploy | None = None
    muted: bool = False  # opened while its app was snoozed: nothing posted about it yet
    resolved_at: datetime | None = None
    revision: int = 0  # how many times the opening message was edited (the update key)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def minutes(self) -> int | None:
        """Whole minutes from opening to end, at least 1 ("Resolved after N min"); None
        while open."""
        if self.resolved_at is None:
            return None
        seconds = (self.resolved_at - self.opened_at).total_seconds()
        return max(1, math.ceil(seconds / 60))

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_iso, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Incident:
        data: dict[str, Any] = json.loads(text)
        suspect = data.get("suspect")
        return cls(
            **{
                **data,
                "opened_at": _time(data["opened_at"]),
                "last_seen": _time(data["last_seen"]),
                "recovering_since": _time(data.get("recovering_since")),
                "acknowledged_at": _time(data.get("acknowledged_at")),
                "snoozed_until": _time(data.get("snoozed_until")),
                "resolved_at": _time(data.get("resolved_at")),
                "recent_crashes": tuple(
                    datetime.fromisoformat(t) for t in data.get("recent_crashes", ())
                ),
                "opening": tuple(_event(e) for e in data["opening"]),
                "dynos": tuple(data.get("dynos", ())),
                "down": tuple(data.get("down", ())),
                "suspect": SuspectDeploy(**suspect) if suspect else None,
            }
        )


@dataclass(frozen=True)
class Snooze:
    """An app's snooze: no top-level post from `since` to `until`; `muted` holds the kind of
    each top-level message held back meanwhile (for the line when it ends)."""

    app: str
    since: datetime
    until: datetime
    by: str = ""
    muted: tuple[str, ...] = ()

    def active(self, now: datetime) -> bool:
        return self.since <= now < self.until

    def tally(self) -> tuple[tuple[str, int], ...]:
        """(kind, how many) of what was muted, in order of first muting."""
        counts: dict[str, int] = {}
        for kind in self.muted:
            counts[kind] = counts.get(kind, 0) + 1
        return tuple(counts.items())


@dataclass(frozen=True)
class Action:
    """One thing to send (or, `MUTED`, to record): `key` is stable for the same inputs and
    unique per monitor, so the outbox records it once across restarts and processes."""

    kind: str  # POST, REPLY, UPDATE or MUTED
    what: str  # ALERT, OPENED, FOLLOW_UP, ESCALATION, ACKNOWLEDGED, RESOLVED, STATE, …
    key: str
    app: str
    at: datetime
    incident_id: str = ""
    events: tuple[Event, ...] = ()  # what it reports (the opening events for OPENED/STATE)
    incident: Incident | None = None  # the incident as this action leaves it
    broadcast: bool = False  # REPLY: also show it in the channel (`reply_broadcast`)
    mention: str = ""  # ESCALATION: the monitor's setting, see `mention_markup`
    snooze: Snooze | None = None  # SNOOZE_ENDED: the snooze and what it muted


@dataclass(frozen=True)
class Outcome:
    """What a call decided. `incidents`: every incident given, updated, then the new ones
    (closed ones included: save them all). `snoozes`: the snoozes to keep (one given and not
    returned has ended). `actions`: in the order to send them."""

    incidents: tuple[Incident, ...]
    actions: tuple[Action, ...]
    snoozes: tuple[Snooze, ...] = ()


def apply(
    incidents: Sequence[Incident],
    events: Iterable[Event],
    now: datetime,
    *,
    snapshot: AppSnapshot | None = None,
    mention: str = "here",
    snoozes: Sequence[Snooze] = (),
) -> Outcome:
    """The incidents after a check at `now` found `events` (each new: the shell drops keys
    it has seen). `snapshot`: what that check kept of the app (its releases name a suspect
    deploy; a dyno no longer in it was scaled away, so it is not down). `mention`: the
    monitor's mention setting for an escalation. Quiet incidents are closed first (`tick`).
    """
    ticked = tick(incidents, now, snoozes=snoozes)
    run = _Run(ticked.incidents, ticked.snoozes, now, ticked.actions)
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
        if incident is None or kind in _ALWAYS_POSTED:
            run.alert(app, kind, group)
        if incident is not None:
            run.settle(incident, kind, group)
    run.watch_dynos(snapshot)
    return run.finish()


def tick(
    incidents: Sequence[Incident], now: datetime, *, snoozes: Sequence[Snooze] = ()
) -> Outcome:
    """Close what has been quiet long enough at `now`: a log incident after QUIET_FOR
    without an alert, a dyno incident whose dynos have all been up for STABLE_FOR."""
    run = _Run(incidents, snoozes, now)
    for incident in incidents:
        if not incident.is_open:
            continue
        if incident.family == DYNOS and incident.recovering_since is not None:
            if now - incident.recovering_since >= STABLE_FOR:
                run.resolve(incident, incident.recovering_since)
        elif is_log_kind(incident.family) and now - incident.last_seen >= QUIET_FOR:
            run.resolve(incident, incident.last_seen)
    return run.finish()


def acknowledge(incident: Incident, by: str, now: datetime) -> tuple[Incident, tuple[Action, ...]]:
    """`incident` acknowledged by `by` at `now` (a reply and an edit of the opening message);
    no change and no action when it is closed or already acknowledged (the first one counts)."""
    if not incident.is_open or incident.acknowledged_by:
        return incident, ()
    run = _Run((incident,), (), now)
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
    run = _Run(incidents, (held,), now)
    for incident in incidents:
        if incident.app == app and incident.is_open:
            run.put(replace(incident, snoozed_until=until, snoozed_by=by))
    return run.finish()


def end_snooze(held: Snooze, incidents: Sequence[Incident], now: datetime) -> Outcome:
    """The end of `held` (its time is up, or the dashboard ended it): one top-level line
    saying what was muted; the opening message of each incident opened meanwhile and still
    open, posted now (the problem goes on, and its recovery needs a thread); the snooze
    removed from the opening messages that showed it. `Outcome.snoozes` is empty."""
    run = _Run(incidents, (), now)
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


def suspect_deploy(app: str, releases: Sequence[Release], at: datetime) -> SuspectDeploy | None:
    """The deploy an incident opening `at` is suspected of: the app's current code release
    if it is a deploy made within SUSPECT_WINDOW before `at`; None otherwise (a rollback
    since, or a deploy longer ago). Config and add-on releases on top of it do not hide it."""
    done = sorted((r for r in releases if r.status == "succeeded"), key=lambda r: -r.version)
    for index, release in enumerate(done):
        below = done[index + 1] if index + 1 < len(done) else None
        kind = detect.classify_release(release, below)
        if kind == "other":
            continue
        if kind != detect.DEPLOY:
            return None
        made = _time(release.created_at.replace("Z", "+00:00")) if release.created_at else None
        if made is None or made.tzinfo is None:
            return None
        before = at - made
        # A minute of clock skew between Heroku and us still counts as "just now".
        if not (-timedelta(minutes=1) <= before <= SUSPECT_WINDOW):
            return None
        return SuspectDeploy(
            app=app,
            version=release.version,
            user=release.user,
            created_at=release.created_at,
            minutes_before=max(0, int(before.total_seconds() // 60)),
            previous=below.version if below else None,
        )
    return None


# ---------------------------------------------------------------------- the work of one call


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


class _Run:
    """The incidents, snoozes and actions of one call, as they change."""

    def __init__(
        self,
        incidents: Sequence[Incident],
        snoozes: Sequence[Snooze],
        now: datetime,
        actions: Sequence[Action] = (),
    ) -> None:
        self.now = now
        self.incidents = {i.id: i for i in incidents}
        self.shown = {i.id: _shown(i) for i in incidents}
        self.snoozes = {s.app: s for s in snoozes}
        self.actions = list(actions)

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
                f"{incident.id}:open",
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
        """Dyno incidents whose dynos are all up (or scaled away) start their STABLE_FOR."""
        for incident in list(self.incidents.values()):
            if incident.family != DYNOS or not incident.is_open:
                continue
            down = incident.down
            if snapshot is not None and snapshot.app == incident.app:
                states = {d.name: d.state for d in snapshot.dynos}
                down = tuple(n for n in down if n in states and states[n] != "up")
            since = incident.recovering_since
            if not down and since is None:
                since = self.now
            self.put(replace(incident, down=down, recovering_since=since if not down else None))

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
        """One edit of the opening message per incident whose shown state changed."""
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


# ---------------------------------------------------------------------- JSON


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _event(data: dict[str, Any]) -> Event:
    def maybe(cls: type[Any], value: dict[str, Any] | None) -> Any:
        return cls(**value) if value else None

    return Event(
        **{
            **data,
            "dyno": maybe(Dyno, data.get("dyno")),
            "release": maybe(Release, data.get("release")),
            "addon": maybe(Addon, data.get("addon")),
            "previous_addon": maybe(Addon, data.get("previous_addon")),
            "added": tuple(data.get("added", ())),
            "removed": tuple(data.get("removed", ())),
            "changed": tuple(data.get("changed", ())),
        }
    )
