"""Every rule of SPEC section 11 (incidents) as a test of the pure core."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from heroku_monitor.core import detect, incidents
from heroku_monitor.core.detect import Event
from heroku_monitor.core.incidents import Action, Incident, Outcome, Snooze
from heroku_monitor.core.quiet import STABLE_FOR
from heroku_monitor.core.releases import SuspectDeploy, suspect_deploy
from heroku_monitor.core.snapshot import AppSnapshot, Dyno, Release
from heroku_monitor.render import messages
from heroku_monitor.render.mentions import mention_markup
from heroku_monitor.store.incidents import incident_from_json, incident_to_json
from tests.support.builders import T0, addon, dyno, release, snap

APP = "my-app"
BASE = (release(3), release(2), release(1, "Initial release"))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def web(state: str, minutes: float) -> Dyno:
    """web.1 as Heroku shows it: `updated_at` moves with each change of state."""
    return dyno("web.1", state, stamp(minutes))


def dynos(*dynos_: Dyno) -> AppSnapshot:
    """The app at the minute of its last dyno change, worker.1 up."""
    changed = max(d.updated_at for d in dynos_ if d.updated_at is not None)
    minute = int((changed - T0).total_seconds() // 60)
    return snap(dynos=(*dynos_, dyno("worker.1")), releases=BASE, minutes=minute)


def log_error(minutes: float, app: str = APP) -> Event:
    return Event("log_router_error", app, f"{app}:log_router_error:H12:{stamp(minutes)}")


class Shell:
    """What the check will do: keep incidents and snoozes between calls, collect actions."""

    def __init__(self, mention: str = "here") -> None:
        self.mention = mention
        self.incidents: tuple[Incident, ...] = ()
        self.snoozes: tuple[Snooze, ...] = ()
        self.actions: list[Action] = []
        self.kept: AppSnapshot | None = None

    def take(self, outcome: Outcome) -> list[Action]:
        self.incidents, self.snoozes = outcome.incidents, outcome.snoozes
        self.actions += outcome.actions
        return list(outcome.actions)

    def check(self, current: AppSnapshot) -> list[Action]:
        found, self.kept = detect.observe(self.kept, current)
        return self.events(found, current.taken_at)

    def events(self, found: Sequence[Event], now: datetime) -> list[Action]:
        outcome = incidents.apply(
            self.incidents,
            found,
            now,
            snapshot=self.kept,
            mention=self.mention,
            snoozes=self.snoozes,
        )
        return self.take(outcome)

    def tick(self, now: datetime) -> list[Action]:
        return self.take(incidents.tick(self.incidents, now, snoozes=self.snoozes))

    def acknowledge(self, by: str, now: datetime) -> list[Action]:
        (incident,) = [i for i in self.incidents if i.is_open]
        acked, actions = incidents.acknowledge(incident, by, now)
        self.incidents = tuple(acked if i.id == acked.id else i for i in self.incidents)
        self.actions += actions
        return list(actions)

    def snooze(self, by: str, until: datetime, now: datetime) -> list[Action]:
        return self.take(incidents.snooze(self.incidents, APP, by, until, now))

    def end_snooze(self, now: datetime) -> list[Action]:
        (held,) = self.snoozes
        return self.take(incidents.end_snooze(held, self.incidents, now))


def of(actions: Sequence[Action], kind: str, what: str | None = None) -> list[Action]:
    return [a for a in actions if a.kind == kind and (what is None or a.what == what)]


def crash_loop(shell: Shell, crashes: int = 5, *, acknowledge_after: int | None = None) -> None:
    """web.1 crashes, comes back up a minute later, crashes again …, checked every minute."""
    shell.check(dynos(web("up", 0)))
    for n in range(crashes):
        shell.check(dynos(web("crashed", 2 * n + 1)))
        if acknowledge_after == n + 1:
            shell.acknowledge("U_ANN", at(2 * n + 1.5))
        shell.check(dynos(web("up", 2 * n + 2)))


# ---------------------------------------------------------------------- opening


def test_a_single_crash_opens_one_incident_and_posts_one_top_level_message():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    actions = shell.check(dynos(web("crashed", 1)))
    assert [(a.kind, a.what) for a in actions] == [(incidents.POST, incidents.OPENED)]
    (incident,) = shell.incidents
    assert (incident.app, incident.family, incident.crashes) == (APP, incidents.DYNOS, 1)
    assert incident.id == f"{APP}:dynos:{APP}:dyno_crashed:web.1:{stamp(1)}"
    assert actions[0].key == f"{incident.id}:open"


def test_the_opening_message_is_the_prd_alert_of_its_event():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    (opened,) = shell.check(dynos(web("crashed", 1)))
    (message,) = messages.build(opened.events, opened.at)
    assert message.text.startswith(
        "🚨 *ALERT: Dyno Crash Detected* 🚨\nApp: my-app\nCrashed dynos:\n• web.1 (web)"
    )


def test_a_crash_then_a_down_of_the_same_app_is_one_incident_with_a_reply():
    shell = Shell()
    shell.check(dynos(web("up", 0), dyno("web.2")))
    shell.check(dynos(web("crashed", 1), dyno("web.2")))
    actions = shell.check(dynos(web("crashed", 1), dyno("web.2", "down", stamp(2))))
    assert [(a.kind, a.what) for a in actions] == [
        (incidents.REPLY, incidents.FOLLOW_UP),
        (incidents.UPDATE, incidents.STATE),
    ]
    assert of(shell.actions, incidents.POST) == of(shell.actions, incidents.POST, incidents.OPENED)
    assert len(of(shell.actions, incidents.POST)) == 1
    (incident,) = shell.incidents
    assert incident.down == ("web.1", "web.2")


def test_crashes_of_two_apps_are_two_incidents():
    crash = [
        Event(detect.DYNO_CRASHED, app, f"{app}:crash", dyno=web("crashed", 1))
        for app in ("app-a", "app-b")
    ]
    outcome = incidents.apply((), crash, at(1))
    assert [i.app for i in outcome.incidents] == ["app-a", "app-b"]
    assert len(of(outcome.actions, incidents.POST, incidents.OPENED)) == 2


@pytest.mark.parametrize(
    ("kind", "family"),
    [
        (detect.DYNO_CRASHED, incidents.DYNOS),
        (detect.DYNOS_DOWN, incidents.DYNOS),
        (detect.RELEASE_FAILED, incidents.RELEASE),
        (detect.MONITORING_TROUBLE, incidents.MONITORING),
        ("log_router_error", "log_router_error"),
        (detect.DEPLOY, None),
        (detect.CONFIG_CHANGED, None),
        (detect.DYNOS_RECOVERED, None),
    ],
)
def test_which_events_open_an_incident(kind: str, family: str | None):
    assert incidents.family_of(kind) == family


# ---------------------------------------------------------------------- the crash loop


def test_a_five_crash_loop_is_one_post_one_escalation_replies_and_one_broadcast_recovery():
    shell = Shell()
    crash_loop(shell)
    assert not of(shell.tick(at(10) + STABLE_FOR - timedelta(seconds=1)), "reply")
    shell.tick(at(10) + STABLE_FOR)
    actions = shell.actions

    posts = of(actions, incidents.POST)
    assert [a.what for a in posts] == [incidents.OPENED]
    (escalation,) = of(actions, incidents.REPLY, incidents.ESCALATION)
    assert escalation.broadcast and escalation.mention == "here"
    assert escalation.at == at(5)  # the third crash
    assert len(of(actions, incidents.REPLY, incidents.FOLLOW_UP)) == 4
    (recovery,) = of(actions, incidents.REPLY, incidents.RESOLVED)
    assert recovery.broadcast
    assert [a.what for a in actions if a.broadcast] == [incidents.ESCALATION, incidents.RESOLVED]
    assert {a.incident_id for a in actions} == {posts[0].incident_id}

    last_update = of(actions, incidents.UPDATE)[-1]
    assert last_update.incident is not None
    assert last_update.incident.resolved_at == at(10)  # when web.1 came up for good
    assert last_update.incident.minutes == 9
    assert last_update.incident.crashes == 5


def test_each_crash_updates_the_opening_message_with_the_count():
    shell = Shell()
    crash_loop(shell, 3)
    counts = [a.incident.crashes for a in of(shell.actions, incidents.UPDATE) if a.incident]
    assert 2 in counts and 3 in counts
    revisions = [a.key.rsplit(":", 1)[1] for a in of(shell.actions, incidents.UPDATE)]
    assert revisions == [str(n) for n in range(1, len(revisions) + 1)]


def test_a_dyno_up_again_ends_the_incident_only_after_staying_up():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.check(dynos(web("crashed", 1)))
    actions = shell.check(dynos(web("up", 3)))
    assert of(actions, incidents.UPDATE) and not of(actions, incidents.REPLY)
    (incident,) = shell.incidents
    assert incident.is_open and incident.recovering_since == at(3)
    assert not shell.tick(at(12))
    (recovery,) = of(shell.tick(at(13)), incidents.REPLY)
    assert recovery.what == incidents.RESOLVED and recovery.broadcast
    assert recovery.incident is not None and recovery.incident.minutes == 2


def test_a_dyno_that_comes_back_through_starting_ends_the_incident():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.check(dynos(web("crashed", 1)))
    shell.check(dynos(web("starting", 2)))
    assert shell.incidents[0].recovering_since is None
    shell.check(dynos(web("up", 3)))
    shell.tick(at(13))
    assert len(of(shell.actions, incidents.REPLY, incidents.RESOLVED)) == 1


def test_a_crashed_dyno_scaled_away_ends_the_incident():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.check(dynos(web("crashed", 1)))
    shell.check(snap(dynos=(dyno("worker.1"),), releases=BASE, minutes=2))
    shell.tick(at(12))
    assert len(of(shell.actions, incidents.REPLY, incidents.RESOLVED)) == 1


def test_a_crash_after_the_incident_ended_opens_a_new_one():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.check(dynos(web("crashed", 1)))
    shell.check(dynos(web("up", 2)))
    actions = shell.check(dynos(web("crashed", 13)))
    assert [a.what for a in actions if a.kind != incidents.UPDATE] == [
        incidents.RESOLVED,
        incidents.OPENED,
    ]
    assert [i.is_open for i in shell.incidents] == [False, True]


@pytest.mark.parametrize("crashes", [1, 2])
def test_fewer_than_three_crashes_never_escalate(crashes: int):
    shell = Shell()
    crash_loop(shell, crashes)
    assert not of(shell.actions, incidents.REPLY, incidents.ESCALATION)


def test_crashes_spread_over_more_than_fifteen_minutes_do_not_escalate():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    for minute in (1, 9, 17):  # each crash 8 minutes apart: never 3 in 15 minutes
        shell.check(dynos(web("crashed", minute)))
        shell.check(dynos(web("up", minute + 1)))
    assert len(of(shell.actions, incidents.POST)) == 1
    assert not of(shell.actions, incidents.REPLY, incidents.ESCALATION)


def test_three_dynos_crashing_at_once_escalate():
    shell = Shell()
    names = ("web.1", "web.2", "web.3")
    shell.check(snap(dynos=tuple(dyno(n) for n in names), releases=BASE))
    crashed = tuple(dyno(n, "crashed", stamp(1)) for n in names)
    actions = shell.check(snap(dynos=crashed, releases=BASE, minutes=1))
    assert [a.what for a in actions] == [incidents.OPENED, incidents.ESCALATION]


@pytest.mark.parametrize("acknowledge_after", [1, 2])
def test_an_acknowledged_incident_never_escalates(acknowledge_after: int):
    shell = Shell()
    crash_loop(shell, acknowledge_after=acknowledge_after)
    assert not of(shell.actions, incidents.REPLY, incidents.ESCALATION)
    (ack,) = of(shell.actions, incidents.REPLY, incidents.ACKNOWLEDGED)
    assert not ack.broadcast
    assert shell.incidents[0].acknowledged_by == "U_ANN"


def test_acknowledging_edits_the_opening_message_with_who_and_when():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.check(dynos(web("crashed", 1)))
    actions = shell.acknowledge("U_ANN", at(2))
    (update,) = of(actions, incidents.UPDATE)
    assert update.incident is not None
    assert (update.incident.acknowledged_by, update.incident.acknowledged_at) == ("U_ANN", at(2))
    assert update.events == update.incident.opening


def test_acknowledging_twice_or_after_the_end_changes_nothing():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.check(dynos(web("crashed", 1)))
    shell.acknowledge("U_ANN", at(2))
    (incident,) = shell.incidents
    assert incidents.acknowledge(incident, "U_BOB", at(3)) == (incident, ())
    ended = replace(incident, resolved_at=at(4))
    assert incidents.acknowledge(ended, "U_BOB", at(5)) == (ended, ())


@pytest.mark.parametrize(
    ("setting", "markup"),
    [
        ("none", ""),
        ("", ""),
        ("here", "<!here>"),
        ("channel", "<!channel>"),
        ("S0123ABC", "<!subteam^S0123ABC>"),
    ],
)
def test_the_escalation_mentions_the_monitors_setting(setting: str, markup: str):
    shell = Shell(mention=setting)
    crash_loop(shell, 3)
    (escalation,) = of(shell.actions, incidents.REPLY, incidents.ESCALATION)
    assert escalation.mention == setting
    assert mention_markup(escalation.mention) == markup


@pytest.mark.parametrize("setting", ["everyone", "@here", "U123", "s123"])
def test_an_unknown_mention_setting_is_refused_with_a_sentence(setting: str):
    with pytest.raises(ValueError, match="user-group ID"):
        mention_markup(setting)


# ---------------------------------------------------------------------- suspect deploy


def deployed_then(problem: str, minutes_later: int) -> tuple[Shell, list[Action]]:
    """v4 deployed by ann at minute 1 (seen by a check then), a problem `minutes_later`."""
    shell = Shell()
    v4 = replace(release(4, user="ann@example.com"), created_at=at(1))
    shell.check(snap(releases=BASE))
    shell.check(snap(releases=(v4, *BASE), minutes=1))
    later = 1 + minutes_later
    if problem == "log":
        return shell, shell.events([log_error(later)], at(later))
    state = "crashed" if problem == "crash" else "down"
    current = snap(dynos=(web(state, later), dyno("worker.1")), releases=(v4, *BASE))
    return shell, shell.check(replace(current, taken_at=at(later)))


@pytest.mark.parametrize("problem", ["crash", "down", "log"])
def test_a_problem_five_minutes_after_a_deploy_names_it_and_the_rollback(problem: str):
    _, actions = deployed_then(problem, 5)
    (opened,) = of(actions, incidents.POST, incidents.OPENED)
    assert opened.incident is not None
    suspect = opened.incident.suspect
    assert suspect is not None
    assert (suspect.version, suspect.user, suspect.minutes_before) == (4, "ann@example.com", 5)
    assert suspect.rollback_command == "heroku rollback v3 -a my-app"


@pytest.mark.parametrize("problem", ["crash", "down", "log"])
def test_a_problem_twenty_minutes_after_a_deploy_names_no_deploy(problem: str):
    _, actions = deployed_then(problem, 20)
    (opened,) = of(actions, incidents.POST, incidents.OPENED)
    assert opened.incident is not None and opened.incident.suspect is None


def suspect_in(*releases: Release) -> SuspectDeploy | None:
    timed = tuple(replace(r, created_at=at(0)) for r in releases)
    return suspect_deploy(APP, timed, at(5))


def test_the_rollback_goes_to_the_newest_succeeded_release_below_the_deploy():
    suspect = suspect_in(release(5), release(4, status="failed"), *BASE)
    assert suspect is not None and suspect.rollback_command == "heroku rollback v3 -a my-app"


def test_a_config_change_on_top_of_a_deploy_does_not_hide_it():
    config = release(6, "Set FOO config vars", slug="slug-5")
    suspect = suspect_in(config, release(5), *BASE)
    assert suspect is not None and suspect.version == 5


def test_no_deploy_is_suspected_once_it_was_rolled_back():
    assert suspect_in(release(6, "Rollback to v4", slug="slug-4"), release(5), *BASE) is None


def test_a_failed_release_or_monitoring_trouble_names_no_deploy():
    failed = replace(release(5, status="failed"), created_at=at(4))
    current = snap(releases=(failed, replace(release(4), created_at=at(0)), *BASE))
    event = Event(detect.RELEASE_FAILED, APP, f"{APP}:release_failed:v5", release=failed)
    outcome = incidents.apply((), [event], at(5), snapshot=current)
    assert outcome.incidents[0].suspect is None


# ---------------------------------------------------------------------- other incidents


def test_a_failed_release_ends_with_the_next_deploy_which_is_still_posted():
    shell = Shell()
    shell.check(snap(releases=BASE))
    shell.check(snap(releases=(release(4, status="failed"), *BASE), minutes=1))
    fixed = (release(5), release(4, status="failed"), *BASE)
    actions = shell.check(snap(releases=fixed, minutes=6))
    assert [(a.kind, a.what) for a in actions] == [
        (incidents.POST, incidents.ALERT),
        (incidents.REPLY, incidents.RESOLVED),
        (incidents.UPDATE, incidents.STATE),
    ]
    assert actions[0].events[0].kind == detect.DEPLOY
    assert not actions[1].broadcast  # the deploy's own post already tells the channel


def test_monitoring_trouble_ends_with_its_recovery_broadcast_in_the_thread():
    trouble = detect.check_failed(APP, detect.TROUBLE_AFTER, "401 invalid token", at(0))
    back = detect.check_succeeded(APP, detect.TROUBLE_AFTER, at(7))
    opened = incidents.apply((), trouble, at(0))
    ended = incidents.apply(opened.incidents, back, at(7))
    assert [(a.kind, a.what) for a in ended.actions] == [
        (incidents.REPLY, incidents.RESOLVED),
        (incidents.UPDATE, incidents.STATE),
    ]
    assert ended.actions[0].broadcast and ended.actions[0].events == tuple(back)
    assert ended.incidents[0].minutes == 7


def test_log_error_incidents_close_after_ten_quiet_minutes():
    shell = Shell()
    shell.events([log_error(0)], at(0))
    (follow,) = of(shell.events([log_error(5)], at(5)), incidents.REPLY)
    assert follow.what == incidents.FOLLOW_UP
    assert not shell.tick(at(14))
    actions = shell.tick(at(15))
    (recovery,) = of(actions, incidents.REPLY, incidents.RESOLVED)
    assert recovery.broadcast
    (incident,) = shell.incidents
    assert (incident.resolved_at, incident.count, incident.minutes) == (at(5), 2, 5)
    assert len(of(shell.actions, incidents.POST)) == 1


def test_a_log_error_after_the_quiet_minutes_opens_a_new_incident():
    shell = Shell()
    shell.events([log_error(0)], at(0))
    actions = shell.events([log_error(11)], at(11))
    assert [a.what for a in actions if a.kind != incidents.UPDATE] == [
        incidents.RESOLVED,
        incidents.OPENED,
    ]


# ---------------------------------------------------------------------- pass-through


PASS_THROUGH = {
    "deploy": (snap(), snap(releases=(release(4), *BASE), minutes=1)),
    "rollback": (snap(), snap(releases=(release(4, "Rollback to v2", slug="slug-2"), *BASE))),
    "config change": (snap(), snap(config={"TZ": "Europe/Paris"}, minutes=1)),
    "add-on added": (snap(addons=()), snap(minutes=1)),
    "add-on removed": (snap(), snap(addons=(), minutes=1)),
    "add-on changed": (snap(), snap(addons=(addon(state="deprovisioned"),), minutes=1)),
    "maintenance": (snap(), snap(maintenance=True, app_updated_at="later", minutes=1)),
    "recovery without an incident": (
        snap(dynos=(dyno("web.1", "crashed"),)),
        snap(dynos=(dyno("web.1"),), minutes=1),
    ),
}


@pytest.mark.parametrize("change", list(PASS_THROUGH))
def test_events_no_incident_owns_pass_through_as_their_usual_post(change: str):
    before, after = PASS_THROUGH[change]
    found = detect.diff(before, after)
    assert found
    outcome = incidents.apply((), found, after.taken_at, snapshot=after)
    assert outcome.incidents == ()
    (message,) = messages.build(found, after.taken_at)
    assert [(a.kind, a.what, a.events, a.key) for a in outcome.actions] == [
        (incidents.POST, incidents.ALERT, tuple(found), message.key)
    ]


def test_a_deploy_during_a_dyno_incident_is_still_posted():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.check(dynos(web("crashed", 1)))
    current = snap(dynos=(web("crashed", 1), dyno("worker.1")), releases=(release(4), *BASE))
    actions = shell.check(replace(current, taken_at=at(2)))
    assert [(a.kind, a.what) for a in actions] == [(incidents.POST, incidents.ALERT)]


# ---------------------------------------------------------------------- snooze


def snoozed_hour(shell: Shell, *, recover: bool) -> list[Action]:
    """Snoozed at minute 0 for an hour: a crash, a deploy and a config change meanwhile."""
    shell.check(dynos(web("up", 0)))
    shell.snooze("U_ANN", at(60), at(0))
    during = shell.check(dynos(web("crashed", 5)))
    during += shell.check(
        snap(dynos=(web("crashed", 5), dyno("worker.1")), releases=(release(4), *BASE), minutes=10)
    )
    during += shell.check(
        snap(
            dynos=(web("crashed", 5), dyno("worker.1")),
            releases=(release(4), *BASE),
            config={"TZ": "Europe/Paris"},
            minutes=12,
        )
    )
    if recover:
        during += shell.check(
            snap(
                dynos=(web("up", 20), dyno("worker.1")),
                releases=(release(4), *BASE),
                config={"TZ": "Europe/Paris"},
                minutes=20,
            )
        )
        during += shell.tick(at(30))
    during += shell.tick(at(59))
    return during


def test_a_snoozed_app_posts_nothing_for_the_hour_and_the_end_names_what_was_muted():
    shell = Shell()
    during = snoozed_hour(shell, recover=True)
    assert not of(during, incidents.POST) and not of(during, incidents.REPLY)
    assert {a.what for a in of(during, incidents.MUTED)} == {
        incidents.OPENED,
        incidents.ALERT,
        incidents.RESOLVED,
    }
    ended = shell.end_snooze(at(60))
    (line,) = ended
    assert (line.kind, line.what) == (incidents.POST, incidents.SNOOZE_ENDED)
    assert line.snooze is not None
    assert line.snooze.tally() == (
        (detect.DYNO_CRASHED, 1),
        (detect.DEPLOY, 1),
        (detect.CONFIG_CHANGED, 1),
    )
    assert shell.snoozes == ()


def test_an_incident_opened_while_snoozed_and_still_open_is_posted_when_the_snooze_ends():
    shell = Shell()
    snoozed_hour(shell, recover=False)
    ended = shell.end_snooze(at(60))
    assert [(a.kind, a.what) for a in ended] == [
        (incidents.POST, incidents.SNOOZE_ENDED),
        (incidents.POST, incidents.OPENED),
    ]
    assert ended[1].key == f"{ended[1].incident_id}:open"
    actions = shell.check(dynos(web("up", 61)))
    actions += shell.tick(at(71))
    assert [a.what for a in of(actions, incidents.REPLY)] == [incidents.RESOLVED]


def test_snoozing_an_open_incident_edits_its_message_and_holds_back_escalation_and_broadcast():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.check(dynos(web("crashed", 1)))
    (update,) = shell.snooze("U_ANN", at(61), at(1))
    assert update.kind == incidents.UPDATE and update.incident is not None
    assert (update.incident.snoozed_until, update.incident.snoozed_by) == (at(61), "U_ANN")
    for minute in (2, 4):
        shell.check(dynos(web("up", minute)))
        shell.check(dynos(web("crashed", minute + 1)))
    shell.check(dynos(web("up", 6)))
    shell.tick(at(16))
    assert not of(shell.actions, incidents.REPLY, incidents.ESCALATION)
    (recovery,) = of(shell.actions, incidents.REPLY, incidents.RESOLVED)
    assert not recovery.broadcast
    assert not of(shell.actions, incidents.MUTED)


def test_a_snooze_that_has_run_out_mutes_nothing():
    shell = Shell()
    shell.check(dynos(web("up", 0)))
    shell.snooze("U_ANN", at(60), at(0))
    actions = shell.check(dynos(web("crashed", 61)))
    assert [(a.kind, a.what) for a in actions] == [(incidents.POST, incidents.OPENED)]


# ---------------------------------------------------------------------- keys and storage


def test_the_same_inputs_give_the_same_keys():
    first, second = Shell(), Shell()
    for shell in (first, second):
        crash_loop(shell)
        shell.tick(at(20))
    keys = [a.key for a in first.actions]
    assert keys == [a.key for a in second.actions]
    assert len(set(keys)) == len(keys)
    assert all(k.startswith(first.incidents[0].id) for k in keys)


def test_an_incident_survives_its_json():
    shell, _ = deployed_then("crash", 5)
    shell.acknowledge("U_ANN", at(7))
    (incident,) = shell.incidents
    assert incident_from_json(incident_to_json(incident)) == incident


def test_applying_after_a_reload_gives_what_applying_in_one_go_gives():
    direct, reloaded = Shell(), Shell()
    crash_loop(direct, 2)
    crash_loop(reloaded, 2)
    reloaded.incidents = tuple(incident_from_json(incident_to_json(i)) for i in reloaded.incidents)
    for shell in (direct, reloaded):
        shell.check(dynos(web("crashed", 5)))
    assert direct.actions == reloaded.actions
