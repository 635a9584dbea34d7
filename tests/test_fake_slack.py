"""The fake Slack Web API, driven by the real slack_sdk clients and plain HTTP posts.

These tests pin the fake to Slack's published behaviour, so that tests built on it fail where
production would.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from tests.fakes import FakeSlack
from tests.fakes.slack_api import blocks_json_chars

TS = re.compile(r"^\d{10}\.\d{6}$")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    """A WebClient with no retry handlers, so every answer reaches the test as sent."""
    return WebClient(token=slack.token, base_url=slack.url, timeout=5, retry_handlers=[])


def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


# -------------------------------------------------------------------- posting


def test_post_by_hash_name_answers_channel_id_ts_and_message(
    slack: FakeSlack, client: WebClient
) -> None:
    response = client.chat_postMessage(channel="#alerts", text="web.1 crashed")

    assert response.status_code == 200
    assert response["ok"] is True
    assert response["channel"] == slack.channel_id("alerts")
    assert TS.match(response["ts"])
    assert response["message"]["text"] == "web.1 crashed"
    assert response["message"]["ts"] == response["ts"]
    assert response["message"]["bot_id"] == slack.bot_id
    [message] = slack.wait_for_messages(1)
    assert message["channel"] == slack.channel_id("alerts")
    assert message["channel_name"] == "alerts"
    assert message["channel_arg"] == "#alerts"
    assert message["ts"] == response["ts"]


def test_post_accepts_channel_id_and_bare_name(slack: FakeSlack, client: WebClient) -> None:
    general = slack.channel_id("general")
    client.chat_postMessage(channel=general, text="by id")
    client.chat_postMessage(channel="general", text="by name")

    messages = slack.wait_for_messages(2)
    assert [m["channel"] for m in messages] == [general, general]
    assert messages[0]["ts"] < messages[1]["ts"]


def test_webclient_sends_json_body_with_bearer_token(slack: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="#alerts", text="hi", blocks=[{"type": "divider"}])

    [sent] = slack.api_requests
    assert sent["method"] == "chat.postMessage"
    assert sent["http_method"] == "POST"
    assert sent["content_type"] == "application/json;charset=utf-8"
    assert sent["authorization"] == f"Bearer {slack.token}"
    assert slack.messages[0]["blocks"] == [{"type": "divider"}]
    assert slack.messages[0]["request"]["channel"] == "#alerts"


def test_form_encoded_post_with_token_field_is_accepted(slack: FakeSlack) -> None:
    answer = requests.post(
        slack.url + "chat.postMessage",
        data={
            "token": slack.token,
            "channel": "alerts",
            "text": "fallback",
            "blocks": '[{"type": "section", "text": {"type": "mrkdwn", "text": "*down*"}}]',
        },
        timeout=5,
    )

    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    [message] = slack.messages
    assert message["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": "*down*"}}]
    assert "token" not in message["request"]


@pytest.mark.parametrize("channel_id", ["C0123ABCD", "G0123ABCD"])
def test_post_by_channel_or_private_group_id_answers_that_id(
    slack: FakeSlack, client: WebClient, channel_id: str
) -> None:
    slack.add_channel("ops-private", channel_id=channel_id)

    response = client.chat_postMessage(channel=channel_id, text="by id")

    assert response["channel"] == channel_id and TS.match(response["ts"])
    [message] = slack.messages
    assert message["channel"] == channel_id and message["channel_name"] == "ops-private"
    is_private = client.conversations_info(channel=channel_id)["channel"]["is_private"]
    assert is_private is channel_id.startswith("G")


def test_post_to_a_channel_named_with_non_ascii_letters(
    slack: FakeSlack, client: WebClient
) -> None:
    channel_id = slack.add_channel("alertes-équipe")

    response = client.chat_postMessage(channel="#alertes-équipe", text="bonjour")
    form = requests.post(
        slack.url + "chat.postMessage",
        data={"token": slack.token, "channel": "alertes-équipe", "text": "encore"},
        timeout=5,
    ).json()

    assert response["channel"] == channel_id and TS.match(response["ts"])
    assert form["ok"] is True and form["channel"] == channel_id
    assert [m["channel_name"] for m in slack.messages] == ["alertes-équipe"] * 2


def test_a_decomposed_accent_finds_the_same_channel(slack: FakeSlack, client: WebClient) -> None:
    channel_id = slack.add_channel("équipe")

    response = client.chat_postMessage(channel="#e\u0301quipe", text="hi")

    assert response["channel"] == channel_id


@pytest.mark.parametrize("name", ["Alerts", "two words", "v1.2", "a" * 81, "", "alerts!"])
def test_add_channel_refuses_names_slack_refuses(slack: FakeSlack, name: str) -> None:
    with pytest.raises(ValueError):
        slack.add_channel(name)


def test_add_channel_accepts_names_slack_accepts(slack: FakeSlack) -> None:
    for name in ("a" * 80, "déploiements_2026", "デプロイ", "#ops-team"):
        slack.add_channel(name)


def test_add_channel_refuses_a_malformed_id(slack: FakeSlack) -> None:
    with pytest.raises(ValueError):
        slack.add_channel("ops", channel_id="D0123ABCD")


def test_json_body_token_without_authorization_header_is_not_authed(slack: FakeSlack) -> None:
    answer = requests.post(
        slack.url + "chat.postMessage",
        json={"token": slack.token, "channel": "alerts", "text": "hi"},
        timeout=5,
    )

    assert answer.status_code == 200
    assert answer.json()["error"] == "not_authed"
    assert slack.messages == []


def test_json_body_without_charset_posts_with_missing_charset_warning(slack: FakeSlack) -> None:
    answer = requests.post(
        slack.url + "chat.postMessage",
        json={"channel": "alerts", "text": "hi"},
        headers={"Authorization": f"Bearer {slack.token}"},
        timeout=5,
    )

    body = answer.json()
    assert body["ok"] is True
    assert body["response_metadata"]["warnings"] == ["missing_charset"]


def test_text_over_40000_chars_is_truncated_with_a_warning(
    slack: FakeSlack, client: WebClient
) -> None:
    response = client.chat_postMessage(channel="#alerts", text="x" * 40_005)

    assert response["ok"] is True
    assert response["response_metadata"]["warnings"] == ["message_truncated"]
    assert len(slack.messages[0]["text"]) == 40_000
    assert slack.messages[0]["truncated"] is True


# -------------------------------------------------------------------- method errors


def test_post_to_unknown_channel_is_channel_not_found(slack: FakeSlack, client: WebClient) -> None:
    error = api_error(lambda: client.chat_postMessage(channel="#nope", text="hi"))

    assert error.response.status_code == 200
    assert error.response["ok"] is False
    assert error.response["error"] == "channel_not_found"
    assert slack.messages == []


def test_post_where_bot_is_not_a_member_is_not_in_channel(
    slack: FakeSlack, client: WebClient
) -> None:
    slack.add_channel("ops", member=False)

    error = api_error(lambda: client.chat_postMessage(channel="#ops", text="hi"))

    assert error.response["error"] == "not_in_channel"


def test_post_to_archived_channel_is_is_archived(slack: FakeSlack, client: WebClient) -> None:
    slack.set_channel("alerts", archived=True)

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="hi"))

    assert error.response["error"] == "is_archived"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_post_without_text_or_blocks_is_no_text(slack: FakeSlack, client: WebClient) -> None:
    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text=""))

    assert error.response["error"] == "no_text"
    assert slack.messages == []


def test_section_text_over_3000_chars_is_invalid_blocks(client: WebClient) -> None:
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="t", blocks=[block]))

    assert error.response["error"] == "invalid_blocks"
    assert (
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
        in (error.response["errors"])
    )


def test_more_than_50_blocks_is_invalid_blocks(client: WebClient) -> None:
    blocks = [{"type": "divider"}] * 51

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="t", blocks=blocks))

    assert error.response["error"] == "invalid_blocks"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def fields(*texts: str) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in texts]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def test_blocks_at_each_documented_limit_are_accepted(slack: FakeSlack, client: WebClient) -> None:
    blocks = [header("h" * 150), section("s" * 3000), fields("f" * 2000, *["x"] * 9)]

    response = client.chat_postMessage(channel="#alerts", text="t", blocks=blocks)

    assert response["ok"] is True
    assert slack.messages[0]["blocks"] == blocks


def test_header_text_over_150_chars_is_invalid_blocks(client: WebClient) -> None:
    error = api_error(
        lambda: client.chat_postMessage(channel="#alerts", text="t", blocks=[header("h" * 151)])
    )

    assert error.response["error"] == "invalid_blocks"
    assert (
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]"
        in error.response["errors"]
    )


def test_section_field_over_2000_chars_is_invalid_blocks(client: WebClient) -> None:
    blocks = [fields("ok", "f" * 2001)]

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="t", blocks=blocks))

    assert error.response["error"] == "invalid_blocks"
    assert (
        "must be less than 2001 characters [json-pointer:/blocks/0/fields/1/text]"
        in error.response["errors"]
    )


def test_more_than_10_fields_is_invalid_blocks(client: WebClient) -> None:
    blocks = [fields(*["x"] * 11)]

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="t", blocks=blocks))

    assert error.response["error"] == "invalid_blocks"
    assert (
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]"
        in (error.response["errors"])
    )


def test_unknown_block_type_is_invalid_blocks(client: WebClient) -> None:
    blocks = [section("fine"), {"type": "banner", "text": "nope"}]

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="t", blocks=blocks))

    assert error.response["error"] == "invalid_blocks"
    assert any("/blocks/1" in e for e in error.response["errors"])


def test_blocks_json_over_12000_chars_is_msg_blocks_too_long(
    slack: FakeSlack, client: WebClient
) -> None:
    # Each block is valid alone (3,000 characters); five of them are too long together.
    blocks = [section("y" * 3000) for _ in range(5)]

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="t", blocks=blocks))

    assert error.response["error"] == "msg_blocks_too_long"
    assert slack.messages == []


def twelve_thousand(fill: str) -> list[dict[str, Any]]:
    """Three full sections and a fourth of one-character `fill`: 12,000 characters in all."""
    full = [section("y" * 3000)] * 3
    room = 12_000 - blocks_json_chars([*full, section("")])
    return [*full, section(fill * room)]


def test_blocks_json_of_12000_chars_is_accepted(client: WebClient) -> None:
    blocks = twelve_thousand("z")
    assert blocks_json_chars(blocks) == 12_000

    assert client.chat_postMessage(channel="#alerts", text="t", blocks=blocks)["ok"] is True


def test_blocks_length_counts_an_emoji_as_two_characters(client: WebClient) -> None:
    # 12,000 ASCII characters pass; the same with one "z" made "🚨" (two UTF-16 units) does not.
    blocks = twelve_thousand("z")
    blocks[3] = section("🚨" + blocks[3]["text"]["text"][1:])
    assert len(json.dumps(blocks, ensure_ascii=False, separators=(",", ":"))) == 12_000

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="t", blocks=blocks))

    assert error.response["error"] == "msg_blocks_too_long"


def test_more_than_100_attachments_is_too_many_attachments(client: WebClient) -> None:
    attachments = [{"text": "a"}] * 101

    error = api_error(
        lambda: client.chat_postMessage(channel="#alerts", text="t", attachments=attachments)
    )

    assert error.response["error"] == "too_many_attachments"


def test_unknown_method_is_unknown_method(client: WebClient) -> None:
    error = api_error(lambda: client.api_call("chat.postMesage"))

    assert error.response["error"] == "unknown_method"


def test_conversations_info_reports_membership(slack: FakeSlack, client: WebClient) -> None:
    info = client.conversations_info(channel=slack.channel_id("alerts"))

    assert info["channel"]["name"] == "alerts"
    assert info["channel"]["is_member"] is True


# -------------------------------------------------------------------- auth


def test_auth_test_reports_the_bot_identity(slack: FakeSlack, client: WebClient) -> None:
    response = client.auth_test()

    assert response["ok"] is True
    assert response["team_id"] == slack.team_id
    assert response["user_id"] == slack.bot_user_id
    assert response["bot_id"] == slack.bot_id
    assert response["url"].startswith("https://")


def test_wrong_token_is_invalid_auth(slack: FakeSlack) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=slack.url, retry_handlers=[])

    error = api_error(lambda: wrong.chat_postMessage(channel="#alerts", text="hi"))

    assert error.response.status_code == 200
    assert error.response["error"] == "invalid_auth"


def test_missing_token_is_not_authed(slack: FakeSlack) -> None:
    anonymous = WebClient(token=None, base_url=slack.url, retry_handlers=[])

    error = api_error(lambda: anonymous.chat_postMessage(channel="#alerts", text="hi"))

    assert error.response["error"] == "not_authed"


def test_revoked_token_is_invalid_auth(slack: FakeSlack, client: WebClient) -> None:
    assert client.auth_test()["ok"] is True

    slack.revoke_token()

    assert api_error(client.auth_test).response["error"] == "invalid_auth"
    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="hi"))
    assert error.response["error"] == "invalid_auth"
    assert slack.messages == []


# -------------------------------------------------------------------- scripted faults


def test_rate_limited_post_gets_429_with_retry_after(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next(1, status=429, retry_after=1)

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="hi"))

    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "1"
    assert error.response["ok"] is False
    assert error.response["error"] == "ratelimited"
    assert slack.messages == []
    assert client.chat_postMessage(channel="#alerts", text="hi")["ok"] is True


def test_webclient_with_rate_limit_handler_retries_and_succeeds(slack: FakeSlack) -> None:
    patient = WebClient(
        token=slack.token,
        base_url=slack.url,
        timeout=5,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.fail_next(1, retry_after=1)

    response = patient.chat_postMessage(channel="#alerts", text="after the wait")

    assert response["ok"] is True
    assert slack.calls["chat.postMessage"] == 2
    assert [m["text"] for m in slack.wait_for_messages(1)] == ["after the wait"]


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_answered_with_that_status(
    slack: FakeSlack, client: WebClient, status: int
) -> None:
    slack.fail_next(1, status=status)

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="hi"))

    assert error.response.status_code == status
    assert error.response["ok"] is False
    assert slack.messages == []


def test_webclient_with_server_error_handler_retries_and_succeeds(slack: FakeSlack) -> None:
    patient = WebClient(
        token=slack.token,
        base_url=slack.url,
        timeout=5,
        retry_handlers=[
            ServerErrorRetryHandler(
                max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
            )
        ],
    )
    slack.fail_next(1, status=503)

    assert patient.chat_postMessage(channel="#alerts", text="hi")["ok"] is True
    assert slack.calls["chat.postMessage"] == 2


def test_non_json_server_error_body_is_sent_verbatim(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next(1, status=502, body="<html>Bad Gateway</html>")

    error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="hi"))

    assert error.response.status_code == 502


def test_scripted_error_is_http_200_with_ok_false(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next(2, error="channel_not_found")

    for _ in range(2):
        error = api_error(lambda: client.chat_postMessage(channel="#alerts", text="hi"))
        assert error.response.status_code == 200
        assert error.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="#alerts", text="hi")["ok"] is True
    assert slack.calls["chat.postMessage"] == 3


def test_timed_out_post_may_still_be_posted(slack: FakeSlack) -> None:
    impatient = WebClient(token=slack.token, base_url=slack.url, timeout=1, retry_handlers=[])
    slack.set_latency(1.5)

    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="#alerts", text="slow")

    # Slack may post a message whose answer never reached the client.
    assert [m["text"] for m in slack.wait_for_messages(1, timeout=5)] == ["slow"]


# -------------------------------------------------------------------- response_url


def test_response_url_post_is_collected_and_answered_ok(slack: FakeSlack) -> None:
    url = slack.response_url("status")

    answer = WebhookClient(url).send(
        text="all apps up", response_type="in_channel", replace_original=False
    )

    assert answer.status_code == 200
    assert answer.body == "ok"
    [post] = slack.wait_for_response_posts(1)
    assert post["name"] == "status"
    assert post["url"] == url
    assert post["response_type"] == "in_channel"
    assert post["text"] == "all apps up"
    assert post["replace_original"] is False


def test_response_url_without_text_or_blocks_is_refused(slack: FakeSlack) -> None:
    url = slack.response_url("empty")

    answer = requests.post(url, json={"response_type": "ephemeral"}, timeout=5)

    assert answer.status_code == 400
    assert answer.text == "no_text"
    assert slack.response_posts == []


def test_response_url_blocks_are_held_to_the_block_limits(slack: FakeSlack) -> None:
    url = slack.response_url("status")

    invalid = requests.post(url, json={"text": "t", "blocks": [section("y" * 3001)]}, timeout=5)
    too_long = requests.post(
        url, json={"text": "t", "blocks": [section("y" * 3000)] * 5}, timeout=5
    )
    fine = WebhookClient(url).send(text="t", blocks=[header("h" * 150), section("y" * 3000)])

    assert (invalid.status_code, invalid.text) == (400, "invalid_blocks")
    assert (too_long.status_code, too_long.text) == (400, "msg_blocks_too_long")
    assert fine.status_code == 200
    assert len(slack.response_posts) == 1


def test_response_url_works_five_times_only(slack: FakeSlack) -> None:
    url = slack.response_url("busy")

    statuses = [
        requests.post(url, json={"text": f"update {i}"}, timeout=5).status_code for i in range(6)
    ]

    assert statuses == [200] * 5 + [404]
    assert len(slack.response_posts) == 5


def test_unknown_response_url_is_not_found(slack: FakeSlack) -> None:
    answer = requests.post(slack.base_url + "/commands/T0/none/x", json={"text": "hi"}, timeout=5)

    assert answer.status_code == 404


# -------------------------------------------------------------------- recording


def test_wait_for_messages_names_what_arrived_when_it_gives_up(
    slack: FakeSlack, client: WebClient
) -> None:
    client.chat_postMessage(channel="#alerts", text="only one")

    with pytest.raises(AssertionError, match="only one"):
        slack.wait_for_messages(2, timeout=0.2)


def test_calls_count_every_attempt_by_method(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next(1, error="is_archived")
    api_error(lambda: client.chat_postMessage(channel="#alerts", text="hi"))
    client.chat_postMessage(channel="#alerts", text="hi")
    client.auth_test()

    assert slack.calls["chat.postMessage"] == 2
    assert slack.calls["auth.test"] == 1


def test_concurrent_posts_are_all_recorded_with_unique_ts(slack: FakeSlack) -> None:
    def post(i: int) -> None:
        WebClient(token=slack.token, base_url=slack.url, timeout=5).chat_postMessage(
            channel="#general", text=f"message {i}"
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    messages = slack.wait_for_messages(20)
    assert len({m["ts"] for m in messages}) == 20
    assert sorted(m["text"] for m in messages) == sorted(f"message {i}" for i in range(20))


def test_stopped_fake_refuses_connections() -> None:
    fake = FakeSlack().start()
    url = fake.url
    fake.stop()

    with pytest.raises(requests.ConnectionError):
        requests.post(url + "auth.test", timeout=2)
