"""The outbox carries thread replies and edits as it carries posts: each once, after the
message they are about, to the channel ID Slack gave that message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heroku_monitor.core.outbound import REPLY, UPDATE, Message
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.slack.notifier import SlackNotifier
from heroku_monitor.store.outbox import FAILED, PENDING, SENT
from tests.fakes import FakeSlack
from tests.support.builders import T0
from tests.support.storage import Storage

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]


def message(
    key: str, text: str, action: str = "post", parent: str | None = None, **more
) -> Message:
    return Message(
        "my-app", "incident", text, BLOCKS, (), action=action, parent_key=parent,
        explicit_key=key, **more,
    )  # fmt: skip


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def storage(sqlite_url: str) -> Storage:
    return Storage(sqlite_url)


def queue(storage: Storage, *messages: Message) -> int:
    mid = storage.monitors.add("my-app", "#alerts", 5, T0)
    with storage.db.transaction() as s:
        storage.outbox.enqueue(s, mid, list(messages), T0)
    return mid


def delivery(storage: Storage, slack: FakeSlack) -> Delivery:
    notifier = SlackNotifier(slack.token, slack.url, backoff=0.01)
    return Delivery(storage.outbox, storage.monitors, notifier, lambda: T0)


def test_a_reply_goes_in_its_messages_thread_and_an_edit_changes_that_message(
    storage: Storage, slack: FakeSlack
):
    queue(
        storage,
        message("open", "🚨 crash"),
        message("again", "crashed again", REPLY, "open"),
        message("over", "recovered", REPLY, "open", broadcast=True),
        message("resolved", "✅ Resolved after 4 min", UPDATE, "open"),
    )
    assert delivery(storage, slack).run() == 4
    opening, again, over = slack.messages
    assert again["thread_ts"] == over["thread_ts"] == opening["ts"]
    assert (again["reply_broadcast"], over["reply_broadcast"]) == (False, True)
    (edit,) = slack.updates
    assert (edit["channel"], edit["ts"]) == (opening["channel"], opening["ts"])
    assert opening["text"] == "✅ Resolved after 4 min"
    assert delivery(storage, slack).run() == 0  # each once
    assert storage.outbox.count(SENT) == 4


def test_a_reply_waits_until_its_message_is_delivered(storage: Storage, slack: FakeSlack):
    queue(storage, message("open", "🚨 crash"), message("again", "again", REPLY, "open"))
    slack.fail_next(1, status=429, retry_after=30)
    assert delivery(storage, slack).run() == 0
    assert storage.outbox.count(PENDING) == 2 and slack.messages == []


def test_a_reply_to_a_message_slack_refused_goes_to_the_channel_and_its_edit_fails(
    storage: Storage, slack: FakeSlack
):
    queue(
        storage,
        message("open", "🚨 crash"),
        message("again", "crashed again", REPLY, "open"),
        message("resolved", "✅ Resolved", UPDATE, "open"),
    )
    slack.fail_next(1, error="invalid_blocks")
    assert delivery(storage, slack).run() == 1
    (posted,) = slack.messages
    assert posted["text"] == "crashed again" and posted["thread_ts"] is None
    failed = {a.text: a.last_error for a in storage.outbox.recent(status=FAILED)}
    assert failed == {
        "🚨 crash": "invalid_blocks: Slack refused the message's layout (a bug: please report it)",
        "✅ Resolved": "its_message_was_refused",
    }
    assert slack.updates == []
