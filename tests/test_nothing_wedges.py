"""Nothing wedges (SPEC §16): a message Slack keeps refusing with a passing error goes as
plain text after an hour and is failed after six, the channel's later alerts going on; after
a long outage, what is current goes first and older failures are summed up, not replayed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from heroku_monitor.core.outbound import REPLY, UPDATE, Message
from heroku_monitor.render.messages import undelivered
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.slack.notifier import SlackNotifier
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.outbox import FAILED, PENDING, SENT
from heroku_monitor.web import create_app
from tests.fakes import FakeSlack
from tests.support.builders import T0
from tests.support.storage import Storage
from tests.support.web import csrf_token
from tests.support.world import APP, World

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "rich"}}]
CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
DEPLOY = "🚀 *New Deploy Detected* 🚀"


def message(key: str, text: str, parent: str | None = None) -> Message:
    action = REPLY if parent else "post"
    return Message(
        "my-app", "incident", text, BLOCKS, (), action=action, parent_key=parent, explicit_key=key
    )


class Now:
    """The injected clock, stepped by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(channels=("alerts", "ops")) as fake:
        yield fake


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def storage(request: pytest.FixtureRequest) -> Storage:
    return Storage(request.getfixturevalue(request.param))


def queue(storage: Storage, channel: str, now: datetime, *messages: Message) -> None:
    monitors = {m.slack_channel: m.id for m in storage.monitors.all()}
    mid = monitors.get(channel) or storage.monitors.add("my-app", channel, 5, T0)
    with storage.db.transaction() as s:
        storage.outbox.enqueue(s, mid, list(messages), now)


def delivery(storage: Storage, slack: FakeSlack, clock: Now) -> Delivery:
    notifier = SlackNotifier(slack.token, slack.url, backoff=0.01, retries=0)
    return Delivery(storage.outbox, storage.monitors, notifier, clock)


def retry_until(storage: Storage, run: Delivery, clock: Now, until: datetime) -> int:
    """Run the delivery at each retry's time until `until`; returns how many runs."""
    runs = 0
    while runs < 200:
        due = storage.outbox.next_due(clock())
        if due is None or due > until:
            break
        clock.now = max(clock.now, due)
        run.run()
        runs += 1
    return runs


def test_a_message_slack_keeps_refusing_goes_as_plain_text_after_an_hour(
    storage: Storage, slack: FakeSlack
):
    clock = Now(T0)
    queue(storage, "#alerts", T0, message("crash", "🚨 crash"))
    slack.fail_next(10_000, status=500)
    run = delivery(storage, slack, clock)
    run.run()
    (waiting,) = storage.outbox.recent(status=PENDING)
    assert waiting.passing_error_since == T0 and waiting.last_error == "internal_error"
    assert 1 < retry_until(storage, run, clock, T0 + timedelta(minutes=59)) < 20  # backed off
    slack.reset()  # Slack takes it now, at its next retry
    clock.now = max(T0 + timedelta(hours=1), storage.outbox.next_due(clock.now) or T0)
    assert run.run() == 1
    (posted,) = slack.messages
    assert posted["text"] == "🚨 crash" and not posted["blocks"]  # the same message, text only


def test_a_success_clears_the_passing_error_clock(storage: Storage, slack: FakeSlack):
    clock = Now(T0)
    queue(storage, "#alerts", T0, message("crash", "🚨 crash"))
    slack.fail_next(10_000, status=500)
    run = delivery(storage, slack, clock)
    run.run()
    retry_until(storage, run, clock, T0 + timedelta(minutes=30))
    slack.reset()
    clock.now = storage.outbox.next_due(clock.now) or T0  # its next retry, within the hour
    assert clock.now < T0 + timedelta(hours=1)
    assert run.run() == 1
    (sent,) = storage.outbox.recent(status=SENT)
    assert sent.passing_error_since is None and slack.messages[0]["blocks"] == BLOCKS
    # The channel's next alert starts its own clock: 45 minutes of 500s later, still rich.
    queue(storage, "#alerts", clock.now, message("deploy", "🚀 deploy"))
    slack.fail_next(10_000, status=500)
    run.run()
    (waiting,) = storage.outbox.recent(status=PENDING)
    assert waiting.passing_error_since == clock.now
    retry_until(storage, run, clock, T0 + timedelta(minutes=75))
    slack.reset()
    clock.now = storage.outbox.next_due(clock.now) or T0
    assert clock.now > T0 + timedelta(hours=1)  # an hour after the first alert's first 500
    assert run.run() == 1
    assert slack.messages[0]["blocks"] == BLOCKS


def test_a_message_refused_for_six_hours_is_failed_shown_and_the_channels_later_alerts_go(
    world: World,
):
    service, mid = world.baseline()
    clock = Now(service.clock())
    service.delivery.clock = clock
    world.slack.fail_next(100_000, status=500)
    world.sim.crash_dyno(APP, "web.1")
    service.checker.check(mid)
    world.sim.deploy(APP, "ann@example.com")
    service.checker.check(mid)
    start = clock.now
    assert service.outbox.count(PENDING) >= 2
    tries = 0
    while not service.outbox.count(FAILED) and tries < 200:
        due = service.outbox.next_due(clock())
        assert due is not None
        clock.now = max(clock.now, due)
        service.delivery.run()
        tries += 1
    (failed,) = service.outbox.recent(status=FAILED)
    assert failed.text.startswith(CRASH) and failed.last_error == "internal_error"
    assert timedelta(hours=6) <= clock.now - start < timedelta(hours=6, minutes=16)
    client = create_app(service).test_client()
    page = client.get("/").get_data(as_text=True)
    assert "not delivered" in page and "internal_error" in page
    assert "Send the 1 undelivered alert again" in page
    world.slack.reset()  # Slack is well again: the channel's later alerts go, in order
    clock.now += timedelta(minutes=16)
    service.delivery.run()
    assert [t.split("\n")[0] for t in world.texts()][:1] == [DEPLOY]
    assert service.outbox.count(PENDING) == 0
    response = client.post("/alerts/retry", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 303  # "send again" sends it too
    service.delivery.run()
    assert CRASH in [t.split("\n")[0] for t in world.texts()]
    # Only an edit of it stays failed: it was queued while its message was refused.
    assert {a.action for a in service.outbox.recent(status=FAILED)} <= {"update"}


def outage(storage: Storage, slack: FakeSlack, clock: Now, channel: str) -> None:
    """A week in which `channel`'s alerts failed: one a day, then two in the last day (a
    post and its reply), and a reply late in the last day to the week's first."""
    run = delivery(storage, slack, clock)
    for day in range(6):
        clock.now = T0 + timedelta(days=day)
        queue(storage, channel, clock.now, message(f"{channel}old{day}", f"old {day}"))
        run.run()
    clock.now = T0 + timedelta(days=6, hours=12)
    young = message(f"{channel}young", "young")
    reply = message(f"{channel}young-reply", "young reply", f"{channel}young")
    queue(storage, channel, clock.now, young, reply)
    run.run()
    clock.now = T0 + timedelta(days=6, hours=13)
    queue(storage, channel, clock.now, message(f"{channel}late", "late", f"{channel}old0"))
    run.run()
    assert storage.outbox.count(FAILED) % 9 == 0 and storage.outbox.count(PENDING) == 0


def test_a_requeue_after_a_week_sends_current_alerts_first_and_sums_up_the_older_ones(
    storage: Storage, slack: FakeSlack
):
    slack.set_channel("alerts", member=False)  # not_in_channel, for a week
    clock = Now(T0)
    outage(storage, slack, clock, "#alerts")
    slack.set_channel("alerts", member=True)  # the bot is invited
    clock.now = T0 + timedelta(days=7)
    now = message("now", "current")
    queue(storage, "#alerts", clock.now, now, message("now-reply", "current reply", "now"))
    run = delivery(storage, slack, clock)
    run.run()
    posted = slack.messages
    texts = [m["text"] for m in posted]
    assert texts[:2] == ["current", "current reply"]  # what is current goes first
    assert texts[2].startswith("📭 6 alerts from") and "could not be delivered" in texts[2]
    assert texts[3:] == ["young", "young reply", "late"]  # the last day, in order
    assert posted[1]["thread_ts"] == posted[0]["ts"]
    assert posted[4]["thread_ts"] == posted[3]["ts"]  # a requeued thread keeps its parent
    assert posted[5]["thread_ts"] is None  # its message was summed up: to the channel
    assert storage.outbox.count(PENDING) == 0 and storage.outbox.count(FAILED) == 0
    assert {a.text for a in storage.outbox.recent(status="summed")} == {
        f"old {day}" for day in range(6)
    }
    run.requeue_failed()  # nothing is summed up twice, nor replayed
    assert run.run() == 0 and len(slack.messages) == 6


def test_sending_again_after_a_week_sums_up_each_channels_older_alerts_in_one_message(
    storage: Storage, slack: FakeSlack
):
    slack.revoke_token("invalid_auth")
    clock = Now(T0)
    outage(storage, slack, clock, "#alerts")
    outage(storage, slack, clock, "#ops")
    slack.restore_token()
    clock.now = T0 + timedelta(days=7)
    run = delivery(storage, slack, clock)
    assert run.requeue_failed(by_person=True) == 2 + 2 * 3  # two summaries, the last day
    run.run()
    by_channel: dict[str, list[str]] = {}
    for posted in slack.messages:
        by_channel.setdefault(posted["channel_name"], []).append(posted["text"])
    for texts in by_channel.values():
        assert texts[0].startswith("📭 6 alerts from")
        assert texts[1:] == ["young", "young reply", "late"]
    assert sorted(by_channel) == ["alerts", "ops"]


def test_a_reply_queued_before_a_requeue_waits_for_its_requeued_message_without_wedging(
    storage: Storage, slack: FakeSlack
):
    slack.set_channel("alerts", member=False)
    clock = Now(T0)
    queue(storage, "#alerts", T0, message("open", "opened"))
    run = delivery(storage, slack, clock)
    run.run()
    assert storage.outbox.count(FAILED) == 1
    slack.set_channel("alerts", member=True)
    clock.now = T0 + timedelta(minutes=5)
    queue(storage, "#alerts", clock.now, message("again", "again", "open"))
    queue(storage, "#alerts", clock.now, message("other", "other"))
    run.requeue_failed(by_person=True)  # before the reply was tried
    assert run.run() == 3
    posted = slack.messages
    assert [m["text"] for m in posted] == ["other", "opened", "again"]
    assert posted[2]["thread_ts"] == posted[1]["ts"]


def test_an_edit_of_a_message_that_no_longer_exists_is_refused_not_sent_again_and_again(
    storage: Storage, slack: FakeSlack
):
    """An incident open past the alert log's 90 days: its opening message was pruned, so
    an edit of it has nothing to edit. It fails for good, and a later success in the
    channel does not queue it again (before: "not delivered", requeued at every send)."""
    clock = Now(T0)
    edit = Message("my-app", "incident", "state", BLOCKS, (), action=UPDATE, parent_key="gone:open")
    queue(storage, "#alerts", T0, edit)
    run = delivery(storage, slack, clock)
    run.run()
    (failed,) = storage.outbox.recent(status=FAILED)
    assert failed.last_error == "its_message_was_refused"
    queue(storage, "#alerts", T0, message("later", "a later alert"))
    run.run()  # a success in the channel: what failed there fixably would go again
    assert [m["text"] for m in slack.messages] == ["a later alert"]
    assert slack.updates == [] and storage.outbox.count(PENDING) == 0
    assert [a.id for a in storage.outbox.recent(status=FAILED)] == [failed.id]


def test_a_new_channel_after_a_week_of_failures_gets_the_last_day_and_one_summary(
    storage: Storage, slack: FakeSlack
):
    """A channel the bot was never in, for a week; the team then sets another channel on
    the dashboard. That one gets one summary of what is over a day old, then the last
    day's alerts, not the whole week replayed (SPEC §16)."""
    slack.set_channel("alerts", member=False)
    clock = Now(T0)
    outage(storage, slack, clock, "#alerts")
    clock.now = T0 + timedelta(days=7)
    (monitor,) = storage.monitors.all()
    monitors = Monitors(storage.db, summary=undelivered)
    assert monitors.update(
        monitor.id, app_name=monitor.app_name, channel="#ops", interval=5, now=clock.now
    )
    delivery(storage, slack, clock).run()
    texts = [m["text"] for m in slack.messages]
    assert texts[0].startswith("📭 6 alerts from") and texts[1:] == ["young", "young reply", "late"]
    assert {m["channel_name"] for m in slack.messages} == {"ops"}
