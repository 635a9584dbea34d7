"""How a partial recovery of a dyno incident reads in Slack (SPEC section 11): the opening
message's state line names each dyno's state, and a thread reply says which came back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from heroku_monitor.core import detect, incidents
from heroku_monitor.core.detect import Event
from heroku_monitor.core.incidents import Action, Incident
from heroku_monitor.render import threads
from tests.support.builders import T0, dyno

APP = "my-app"
CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨\nApp: my-app\nCrashed dynos:\n• web.1 (web)"


def incident(down: tuple[str, ...], dynos: tuple[str, ...] = ("web.1", "worker.1")) -> Incident:
    crash = Event(detect.DYNO_CRASHED, APP, f"{APP}:crash:web.1", dyno=dyno("web.1", "crashed"))
    return Incident(
        id=f"{APP}:dynos:x",
        app=APP,
        family=incidents.DYNOS,
        opened_at=T0,
        last_seen=T0,
        opening=(crash,),
        crashes=1,
        dynos=dynos,
        down=down,
    )


def state_edit(shown: Incident) -> str:
    action = Action(
        incidents.UPDATE, incidents.STATE, "k:update:1", APP, T0, shown.id, shown.opening, shown
    )
    (message,) = threads.outbox_messages([action], T0)
    return message.text


def test_the_opening_message_shows_each_named_dynos_state_while_some_are_down():
    text = state_edit(incident(down=("worker.1",)))
    assert text.startswith(CRASH)  # the PRD's alert text, unchanged, above the state
    assert text.splitlines()[-1] == "web.1 up · worker.1 down"


def test_the_state_line_names_no_dyno_once_every_dyno_is_up_again():
    shown = replace(incident(down=()), recovering_since=T0 + timedelta(minutes=2))
    assert state_edit(shown).splitlines()[-1] == "🩹 every dyno is up again"


def test_a_partial_recovery_reply_says_which_dyno_came_back_and_which_is_still_down():
    shown = incident(down=("worker.1",))
    action = Action(
        incidents.REPLY,
        incidents.BACK_UP,
        "k:up:1",
        APP,
        T0,
        shown.id,
        incident=shown,
        dynos=("web.1",),
    )
    (message,) = threads.outbox_messages([action], T0)
    assert message.text == "✅ web.1 is up again; worker.1 is still down"
    assert message.action == incidents.REPLY and not message.broadcast
    assert message.parent_key == incidents.opening_key(shown.id)
    assert message.explicit_key == "k:up:1"


def test_a_partial_recovery_of_several_dynos_names_them_all():
    shown = incident(
        down=("worker.1", "worker.2"), dynos=("web.1", "web.2", "worker.1", "worker.2")
    )
    action = Action(
        incidents.REPLY,
        incidents.BACK_UP,
        "k:up:2",
        APP,
        T0,
        shown.id,
        incident=shown,
        dynos=("web.1", "web.2"),
    )
    (message,) = threads.outbox_messages([action], T0)
    assert message.text == "✅ web.1 and web.2 are up again; worker.1 and worker.2 are still down"
