"""Slack delivery against the fake Slack Web API: retries, and permanent vs passing errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heroku_monitor.slack.notifier import DeliveryError, SlackNotifier, retry_after_seconds
from tests.fakes import FakeSlack

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def notifier(slack: FakeSlack, **kwargs: float) -> SlackNotifier:
    """A notifier of the fake Slack, retrying without real back-off."""
    return SlackNotifier(slack.token, slack.url, **{"backoff": 0.01, **kwargs})  # type: ignore[arg-type]


def test_message_is_posted_with_text_and_blocks(slack: FakeSlack):
    receipt = notifier(slack).post("#alerts", "hello", BLOCKS)
    (message,) = slack.messages
    assert (
        receipt.ts == message["ts"] and message["text"] == "hello" and message["blocks"] == BLOCKS
    )


def test_rate_limit_goes_back_to_the_outbox_with_its_retry_after(slack: FakeSlack):
    slack.fail_next(1, status=429, retry_after=12)
    with pytest.raises(DeliveryError) as raised:
        notifier(slack).post("#alerts", "hello", BLOCKS)
    assert not raised.value.permanent and raised.value.retry_after == 12
    assert slack.calls["chat.postMessage"] == 1  # no sleeping out Retry-After in a post


def test_server_error_is_retried(slack: FakeSlack):
    slack.fail_next(2, status=503)
    notifier(slack).post("#alerts", "hello", BLOCKS)
    assert len(slack.messages) == 1


def test_lasting_server_error_is_a_passing_failure(slack: FakeSlack):
    slack.fail_next(5, status=500)
    with pytest.raises(DeliveryError) as raised:
        notifier(slack, retries=1).post("#alerts", "hello", BLOCKS)
    assert not raised.value.permanent


def test_timeout_is_a_passing_failure(slack: FakeSlack):
    slack.set_latency(2)
    with pytest.raises(DeliveryError) as raised:
        notifier(slack, timeout=1, retries=0).post("#alerts", "hello", BLOCKS)
    assert not raised.value.permanent


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "invalid_auth"])
def test_permanent_errors_are_flagged_permanent_with_a_hint(slack: FakeSlack, error: str):
    slack.fail_next(1, error=error)
    with pytest.raises(DeliveryError) as raised:
        notifier(slack).post("#alerts", "hello", BLOCKS)
    assert raised.value.permanent and str(raised.value).startswith(f"{error}: ")


def test_unknown_channel_is_channel_not_found(slack: FakeSlack):
    with pytest.raises(DeliveryError) as raised:
        notifier(slack).post("#nowhere", "hello", BLOCKS)
    assert raised.value.reason == "channel_not_found" and raised.value.permanent


def test_revoked_token_is_permanent(slack: FakeSlack):
    slack.revoke_token()
    with pytest.raises(DeliveryError) as raised:
        notifier(slack).post("#alerts", "hello", BLOCKS)
    assert raised.value.permanent


def test_unreachable_slack_is_a_passing_failure():
    with pytest.raises(DeliveryError) as raised:
        SlackNotifier("xoxb-x", "http://127.0.0.1:9/api/", retries=0).post("#a", "t", BLOCKS)
    assert not raised.value.permanent


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after": ["2"]}, 2.0), ({"Retry-After": "soon"}, 30.0),
     ({}, 30.0), ({"Retry-After": "-1"}, 30.0), ({"Retry-After": "1e9"}, 30.0)],
)  # fmt: skip
def test_a_retry_after_that_is_not_a_number_waits_30_seconds(headers: dict, seconds: float):
    assert retry_after_seconds(headers) == seconds


def test_a_reply_goes_in_the_thread_and_a_broadcast_one_to_the_channel_too(slack: FakeSlack):
    opening = notifier(slack).post("#alerts", "opened", BLOCKS)
    notifier(slack).post(opening.channel_id, "again", BLOCKS, thread_ts=opening.ts)
    notifier(slack).post(opening.channel_id, "over", BLOCKS, thread_ts=opening.ts, broadcast=True)
    first, reply, last = slack.messages
    assert first["thread_ts"] is None and reply["thread_ts"] == last["thread_ts"] == opening.ts
    assert (reply["reply_broadcast"], last["reply_broadcast"]) == (False, True)


def test_an_edit_takes_the_channel_id_and_changes_the_message(slack: FakeSlack):
    opening = notifier(slack).post("#alerts", "opened", BLOCKS)
    edited = notifier(slack).update(opening.channel_id, opening.ts, "✅ Resolved", BLOCKS)
    assert (edited.ts, edited.channel_id) == (opening.ts, opening.channel_id)
    (message,) = slack.messages
    assert message["text"] == "✅ Resolved" and message["edits"] == 1
    with pytest.raises(DeliveryError) as by_name:  # chat.update takes no channel name
        notifier(slack).update("#alerts", opening.ts, "again", BLOCKS)
    assert by_name.value.reason == "channel_not_found" and by_name.value.permanent
    with pytest.raises(DeliveryError) as gone:
        notifier(slack).update(opening.channel_id, "1.000001", "again", BLOCKS)
    assert gone.value.reason == "message_not_found" and not gone.value.fixable
