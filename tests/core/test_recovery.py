"""How a crash or down incident recovers (SPEC sections 3 and 11): the resolve hold
(`RESOLVE_AFTER_MINUTES`, each monitor's own) and a partial recovery said in the thread."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from heroku_monitor.core import detect, incidents
from heroku_monitor.core.incidents import Action, Incident, Snooze
from heroku_monitor.core.snapshot import AppSnapshot, Dyno
from tests.support.builders import T0, dyno, snap


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def app(minute: int, web: str, worker: str, changed: float | None = None) -> AppSnapshot:
    """The app at `minute`, web.1 and worker.1 in these states (changed at `changed`)."""
    when = stamp(minute if changed is None else changed)
    dynos: tuple[Dyno, ...] = (dyno("web.1", web, when), dyno("worker.1", worker, when))
    return snap(dynos=dynos, minutes=minute)


class Shell:
    """What a check does with the pure core: keep the incidents, collect the actions."""

    def __init__(self, hold: timedelta) -> None:
        self.hold = hold
        self.incidents: tuple[Incident, ...] = ()
        self.snoozes: tuple[Snooze, ...] = ()
        self.kept: AppSnapshot | None = None
        self.actions: list[Action] = []

    def check(self, current: AppSnapshot) -> list[Action]:
        found, self.kept = detect.observe(self.kept, current)
        outcome = incidents.apply(
            self.incidents,
            found,
            current.taken_at,
            snapshot=self.kept,
            snoozes=self.snoozes,
            resolve_after=self.hold,
        )
        return self._take(outcome)

    def tick(self, now: datetime) -> list[Action]:
        return self._take(
            incidents.tick(self.incidents, now, snoozes=self.snoozes, resolve_after=self.hold)
        )

    def _take(self, outcome: incidents.Outcome) -> list[Action]:
        self.incidents, self.snoozes = outcome.incidents, outcome.snoozes
        self.actions += outcome.actions
        return list(outcome.actions)


def resolved(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.what == incidents.RESOLVED]


def crashed_then_up(hold: timedelta) -> Shell:
    """web.1 crashes at minute 1 and is up again at minute 3."""
    shell = Shell(hold)
    shell.check(app(0, "up", "up"))
    shell.check(app(1, "crashed", "up"))
    shell.check(app(3, "up", "up"))
    return shell


# ---------------------------------------------------------------------- the resolve hold


@pytest.mark.parametrize("minutes", [10, 60])
def test_a_dyno_incident_resolves_once_every_dyno_stayed_up_for_the_hold(minutes: int):
    shell = crashed_then_up(timedelta(minutes=minutes))
    assert not resolved(shell.tick(at(3 + minutes) - timedelta(seconds=1)))
    (recovery,) = resolved(shell.tick(at(3 + minutes)))
    assert recovery.broadcast and recovery.incident is not None
    assert recovery.incident.resolved_at == at(3)  # counted to the moment they came up
    assert recovery.incident.minutes == 2


def test_a_hold_of_zero_resolves_the_incident_as_soon_as_every_dyno_is_up():
    shell = Shell(timedelta(0))
    shell.check(app(0, "up", "up"))
    shell.check(app(1, "crashed", "up"))
    actions = shell.check(app(3, "up", "up"))
    (recovery,) = resolved(actions)
    assert recovery.broadcast and recovery.at == at(3)
    (incident,) = shell.incidents
    assert not incident.is_open and incident.resolved_at == at(3)


def test_a_hold_of_zero_does_not_resolve_while_a_dyno_is_still_down():
    shell = Shell(timedelta(0))
    shell.check(app(0, "up", "up"))
    shell.check(app(1, "crashed", "down"))
    shell.check(app(3, "up", "down", changed=3))
    assert not resolved(shell.actions) and shell.incidents[0].is_open


@pytest.mark.parametrize("minutes", [0, 10, 60])
def test_the_hold_given_is_the_one_used_by_a_check_and_a_tick(minutes: int):
    """The same incident, given different holds: each resolves exactly at its own."""
    shell = crashed_then_up(timedelta(minutes=minutes))
    shell.tick(at(3 + minutes))
    assert len(resolved(shell.actions)) == 1
    later = crashed_then_up(timedelta(minutes=minutes + 1))
    later.tick(at(3 + minutes))
    assert not resolved(later.actions)


def test_the_default_hold_is_ten_minutes():
    shell = Shell(timedelta(minutes=10))
    shell.check(app(0, "up", "up"))
    shell.check(app(1, "crashed", "up"))
    shell.check(app(3, "up", "up"))
    outcome = incidents.tick(shell.incidents, at(13) - timedelta(seconds=1))
    assert not resolved(list(outcome.actions))
    outcome = incidents.tick(shell.incidents, at(13))
    assert len(resolved(list(outcome.actions))) == 1


# ---------------------------------------------------------------------- a partial recovery


def crash_and_down() -> Shell:
    """web.1 crashes and worker.1 goes down at minute 1: one incident naming both."""
    shell = Shell(timedelta(minutes=10))
    shell.check(app(0, "up", "up"))
    shell.check(app(1, "crashed", "down"))
    (incident,) = shell.incidents
    assert incident.dynos == ("web.1", "worker.1") and incident.down == incident.dynos
    return shell


def test_a_partial_recovery_replies_in_the_thread_which_dyno_came_back():
    shell = crash_and_down()
    actions = shell.check(app(3, "up", "down", changed=3))
    (back,) = [a for a in actions if a.what == incidents.BACK_UP]
    assert back.kind == incidents.REPLY and not back.broadcast
    assert back.dynos == ("web.1",)
    assert back.incident is not None and back.incident.down == ("worker.1",)
    (edit,) = [a for a in actions if a.kind == incidents.UPDATE]
    assert edit.incident is not None and edit.incident.down == ("worker.1",)
    assert not [a for a in actions if a.kind == incidents.POST]


def test_a_partial_recovery_is_said_once_and_the_full_recovery_ends_the_incident():
    shell = crash_and_down()
    shell.check(app(3, "up", "down", changed=3))
    assert not [a for a in shell.check(app(4, "up", "down", changed=3)) if a.kind != "muted"]
    last = shell.check(app(5, "up", "up", changed=5))
    assert not [a for a in last if a.what == incidents.BACK_UP]  # the edit says "every dyno"
    shell.tick(at(15))
    backs = [a for a in shell.actions if a.what == incidents.BACK_UP]
    assert len(backs) == 1 and len(resolved(shell.actions)) == 1


def test_the_partial_recovery_reply_has_a_stable_key():
    keys = []
    for _ in range(2):
        shell = crash_and_down()
        actions = shell.check(app(3, "up", "down", changed=3))
        keys.append([a.key for a in actions if a.what == incidents.BACK_UP])
    assert keys[0] == keys[1] and len(keys[0]) == 1
