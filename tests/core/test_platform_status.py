"""Every rule of SPEC section 15 about Heroku's own incidents as a test of the pure core: what a
read of the status API posts, replies and edits, and how an app incident names it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from heroku_monitor.core import detect, incidents, platform_status
from heroku_monitor.core.detect import Event
from heroku_monitor.core.outbound import POST, REPLY, UPDATE
from heroku_monitor.core.platform_status import (
    PlatformIncident,
    StatusRead,
    StatusUpdate,
    SystemStatus,
    decide,
    open_title,
)
from heroku_monitor.core.snapshot import Dyno
from heroku_monitor.heroku.status import ShapeError, parse
from heroku_monitor.render import platform_status as render
from heroku_monitor.render import threads
from heroku_monitor.store.platform_status import from_json, to_json
from tests.support.builders import T0

CHANNELS = ("#alerts", "#ops")
TITLE = "Increased error rates for Heroku apps"
URL = "https://status.heroku.com/incidents/2890"
RED = (SystemStatus("Apps", "red"), SystemStatus("Data", "green"), SystemStatus("Tools", "yellow"))
GREEN = tuple(SystemStatus(s, "green") for s in ("Apps", "Data", "Tools"))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def update(n: int, kind: str = "update", minutes: float = 0) -> StatusUpdate:
    return StatusUpdate(f"u{n}", kind, f"Update {n} text.", at(minutes))


def incident(*updates: StatusUpdate, resolved: bool = False) -> PlatformIncident:
    return PlatformIncident("2890", TITLE, URL, at(-10), resolved, updates)


def status(*found: PlatformIncident, systems=RED) -> StatusRead:
    return StatusRead(systems, found)


def step(tracked, read, minutes):
    return decide(tracked, read, at(minutes), CHANNELS)


def test_a_new_incident_is_posted_once_with_spec_text():
    first = step([], status(incident(update(1, "issue"))), 0)
    (action,) = first.actions
    assert (action.kind, action.what) == (POST, platform_status.OPENED)
    assert action.incident.channels == CHANNELS
    text = render.render(action).text
    assert text == (
        f"🌩️ *Heroku Platform Incident* 🌩️\n{TITLE}\nSystems: Apps (red), Tools (yellow)\n"
        f"<{URL}|{URL}>"
    )
    again = step(first.tracked, status(incident(update(1, "issue"))), 5)
    assert again.actions == ()


def test_each_new_update_is_one_reply_in_the_thread_oldest_first():
    first = step([], status(incident(update(1, "issue"))), 0)
    read = status(incident(update(3, minutes=9), update(1, "issue"), update(2, minutes=4)))
    later = step(first.tracked, read, 10)
    assert [(a.kind, a.update.id) for a in later.actions] == [(REPLY, "u2"), (REPLY, "u3")]
    message = render.render(later.actions[0])
    assert message.parent_key == platform_status.opening_key("2890")
    assert "Update 2 text." in message.text
    assert step(later.tracked, read, 15).actions == ()


@pytest.mark.parametrize(
    "ended",
    [
        incident(update(1, "issue"), update(2, "resolved", minutes=30)),
        incident(update(1, "issue"), resolved=True),
        None,  # gone from the current status
    ],
)
def test_the_end_edits_the_message_and_is_broadcast(ended: PlatformIncident | None):
    first = step([], status(incident(update(1, "issue"))), 0)
    read = status(ended) if ended else status(systems=GREEN)
    end = step(first.tracked, read, 35)
    assert [(a.kind, a.what) for a in end.actions] == [
        (UPDATE, platform_status.STATE),
        (REPLY, platform_status.RESOLVED),
    ]
    edit, reply = (render.render(a) for a in end.actions)
    minutes = 40 if ended is not None and ended.updates[-1].update_type == "resolved" else 45
    assert edit.text.endswith(f"✅ Resolved after {minutes} min")  # from its created_at
    assert reply.broadcast and reply.text.startswith(f"✅ *Heroku resolved:* {TITLE}")
    assert not end.tracked[0].is_open
    assert step(end.tracked, read, 40).actions == ()


def test_an_incident_first_seen_resolved_is_old_news():
    done = incident(update(1, "issue"), update(2, "resolved"))
    assert step([], status(done), 0).actions == ()


def test_scheduled_maintenance_and_green_systems_post_nothing():
    assert step([], status(systems=GREEN), 0).actions == ()


def test_later_messages_go_to_the_channels_of_the_first_one():
    first = decide([], status(incident(update(1, "issue"))), at(0), ("#alerts",))
    later = decide(first.tracked, status(incident(update(1), update(2))), at(5), CHANNELS)
    assert later.actions[0].incident.channels == ("#alerts",)


def test_a_tracked_incident_reads_back_the_same():
    (tracked,) = step([], status(incident(update(1, "issue"))), 0).tracked
    assert from_json(to_json(tracked)) == tracked


@pytest.mark.parametrize(
    ("last_seen", "resolved", "title"),
    [(0, False, TITLE), (-29, False, TITLE), (-31, False, ""), (0, True, "")],
)
def test_the_open_incident_an_app_incident_names(last_seen: float, resolved: bool, title: str):
    (tracked,) = step([], status(incident(update(1, "issue"))), 0).tracked
    tracked = replace(tracked, last_seen=at(last_seen), resolved_at=at(0) if resolved else None)
    assert open_title([tracked], at(0)) == title


def test_an_app_incident_opened_meanwhile_names_it_in_its_first_message():
    crash = Event(
        detect.DYNO_CRASHED,
        "my-app",
        "my-app:dyno_crashed:web.1:t",
        dyno=Dyno("web.1", "web", "crashed", at(0)),
    )
    outcome = incidents.apply([], [crash], at(0), platform=TITLE)
    (opened,) = [a for a in outcome.actions if a.what == incidents.OPENED]
    (message,) = threads.outbox_messages([opened], at(0))
    assert f"Heroku reports an incident: {TITLE}" in message.text
    assert message.text.startswith("🚨 *ALERT: Dyno Crash Detected* 🚨")  # PRD text first
    quiet = incidents.apply([], [crash], at(0))
    assert "Heroku reports" not in threads.outbox_messages(quiet.actions, at(0))[0].text


def test_the_status_api_answer_is_read_as_heroku_cli_reads_it():
    body = {
        "status": [{"system": "Apps", "status": "red"}, {"system": "Data", "status": "green"}],
        "incidents": [
            {
                "id": 2890,
                "title": TITLE,
                "created_at": "2026-11-27T11:50:00Z",
                "updated_at": "2026-11-27T11:55:00Z",
                "full_url": URL,
                "updates": [
                    {
                        "id": 1,
                        "update_type": "issue",
                        "contents": "We are investigating.",
                        "created_at": "2026-11-27T11:50:00Z",
                        "updated_at": "2026-11-27T11:50:00Z",
                    }
                ],
            }
        ],
        "scheduled": [],
    }
    read = parse(body)
    assert read.systems[0] == SystemStatus("Apps", "red")
    (found,) = read.incidents
    assert (found.id, found.title, found.url) == ("2890", TITLE, URL)
    assert found.updates[0].update_type == "issue"


@pytest.mark.parametrize(
    "body",
    [None, [], {"status": []}, {"status": [], "incidents": [{"title": "no id"}]}, "ok"],
)
def test_an_answer_of_another_shape_is_a_failed_read(body: object):
    with pytest.raises(ShapeError):
        parse(body)


def test_a_long_update_is_cut_to_slack_limits():
    huge = StatusUpdate("u9", "update", "word " * 5000, at(1))
    first = step([], status(incident(update(1, "issue"))), 0)
    later = step(first.tracked, status(incident(update(1, "issue"), huge)), 5)
    message = render.render(later.actions[0])
    assert len(message.text) < 3000 and message.text.endswith("…")
