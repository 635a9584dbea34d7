"""Delivering messages to Slack: the only module that posts to the Slack Web API.

slack_sdk's WebClient retries 5xx and connection errors a few times itself; a 429 and
whatever still fails raise DeliveryError. What an error means is decided here, once:
`permanent` (trying the same request again cannot help), `fixable` (a person can fix its
cause: the channel, an invite, the token), and `retry_after` (Slack's Retry-After).
"""

from __future__ import annotations

import logging
import random
from typing import Any, Protocol
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter

from heroku_monitor.core.outbound import Receipt

log = logging.getLogger(__name__)

# What each error of chat.postMessage and chat.update means, from Slack's method docs
# (https://api.slack.com/methods/chat.postMessage#errors, .../chat.update#errors) and the
# errors every method can answer. Decided here, once; the outbox stores the verdict.

# The message itself is refused: no fix of the channel or the token can send it.
MESSAGE_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_blocks_too_long",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_attachments",
        "too_many_contact_cards",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "metadata_must_be_sent_from_app",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
        "duplicate_message_not_found",
        # chat.update: the message to edit cannot be edited
        "its_message_was_refused",  # ours: Slack refused the message this edit is of
        "cant_update_message",
        "edit_window_closed",
        "message_not_found",
        "block_mismatch",
        "is_inactive",
    }
)
# The same request will never get past these; a person can fix the cause (the channel, an
# invite, the token, the app's scopes or the workspace's settings), then it is sent again.
FIXABLE_ERRORS = frozenset(
    {
        "its_message_was_not_delivered",  # ours: the message this edit is of failed too
        "channel_not_found",
        "duplicate_channel_not_found",
        "not_in_channel",
        "is_archived",
        "messages_tab_disabled",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "team_access_not_granted",
        "ekm_access_denied",
        "as_user_not_supported",
        "access_denied",
        "account_inactive",
        "app_access_restricted",
        "deprecated_endpoint",
        "method_deprecated",
        "enterprise_is_restricted",
        "invalid_auth",
        "is_bot",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "not_authed",
        "team_not_found",
        "token_expired",
        "token_revoked",
        "two_factor_setup_required",
    }
)
PERMANENT_ERRORS = MESSAGE_ERRORS | FIXABLE_ERRORS
# Slack's own passing trouble: retried with back-off (a rate limit for as long as it lasts,
# the rest, `SLACKS_TROUBLE`, for six hours at most).
PASSING_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "message_limit_exceeded",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        "org_login_required",
        "accesslimited",
    }
)
# Slack limiting our rate: it passes when we slow down (Retry-After), not Slack's trouble.
RATE_LIMIT_ERRORS = frozenset({"ratelimited", "rate_limited", "message_limit_exceeded"})
# Slack's trouble refusing the message (with any 5xx too): after an hour it goes as plain
# text, after six it is failed (`runtime/delivery.py`, SPEC §16).
SLACKS_TROUBLE = PASSING_ERRORS - RATE_LIMIT_ERRORS
# An error in none of these lists is retried with back-off for at most this long, counted
# from when that error first came (`alerts.unknown_error_since`), then marked failed and
# shown: nothing waits forever.
UNKNOWN_ERROR_PATIENCE = 3600.0

HINTS = {
    "channel_not_found": "the channel does not exist, or the bot cannot see it",
    "not_in_channel": "invite the bot to the channel (/invite @Heroku Monitor)",
    "is_archived": "the channel is archived",
    "restricted_action_read_only_channel": "the channel is read-only for the bot",
    "restricted_action_thread_only_channel": "the channel only takes thread replies",
    "restricted_action": "a workspace setting stops the bot from posting there",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid",
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "token_revoked": "SLACK_BOT_TOKEN was revoked",
    "token_expired": "SLACK_BOT_TOKEN has expired",
    "not_allowed_token_type": "SLACK_BOT_TOKEN must be a bot token (xoxb-…)",
    "missing_scope": "the Slack app lacks the chat:write scope",
    "msg_blocks_too_long": "the message was too long for Slack (a bug: please report it)",
    "invalid_blocks": "Slack refused the message's layout (a bug: please report it)",
}


class DeliveryError(Exception):
    """A message was not delivered. `str()` is one sentence for the dashboard."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        known: bool = True,
        slacks_trouble: bool | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.fixable = reason not in MESSAGE_ERRORS
        self.retry_after = retry_after
        # How long a passing failure may go on before the alert is given up (None: as long
        # as it lasts); only errors nobody listed are given up on.
        self.give_up_after = None if permanent or known else UNKNOWN_ERROR_PATIENCE
        # Slack's own passing trouble (5xx, `internal_error`): not a rate limit, not a
        # connection we could not make (None: judged by `reason`).
        if slacks_trouble is None:
            slacks_trouble = reason in SLACKS_TROUBLE
        self.slacks_trouble = slacks_trouble and not permanent

    def __str__(self) -> str:
        hint = HINTS.get(self.reason)
        return f"{self.reason}: {hint}" if hint else self.reason


class Notifier(Protocol):
    """Where alerts go. Each call returns a Receipt or raises DeliveryError."""

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> Receipt:
        """A message to `channel`; with `thread_ts`, a reply in that message's thread
        (`broadcast`: shown in the channel too)."""
        ...

    def update(self, channel_id: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> Receipt:
        """Edit the message `ts` this app posted in the channel with ID `channel_id`."""
        ...


class _Jitter(Jitter):
    """Up to `spread` seconds more, at random (slack_sdk's RandomJitter adds up to 1 s)."""

    def __init__(self, spread: float) -> None:
        self.spread = spread

    def recalculate(self, duration: float) -> float:
        return duration + random.uniform(0, self.spread)


class SlackNotifier:
    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        timeout: int = 10,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        # slack_sdk's default: 0.5 s x 2^n, plus up to a second of jitter; all scaled.
        pause = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=_Jitter(2 * backoff))
        self.client = WebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            # No rate-limit handler: it would sleep out Retry-After while holding the
            # alert's claim. A 429 goes back to the outbox with its Retry-After instead.
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=pause),
                ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=pause),
            ],
        )

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> Receipt:
        thread = {"thread_ts": thread_ts, "reply_broadcast": broadcast} if thread_ts else {}
        return self._call(
            self.client.chat_postMessage,
            channel=channel,
            text=text,
            blocks=blocks or None,  # none: the text alone (chat.postMessage takes it)
            unfurl_links=False,
            unfurl_media=False,
            **thread,
        )

    def update(self, channel_id: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> Receipt:
        # Blocks `[]` remove the message's blocks (none given would keep the old ones).
        return self._call(
            self.client.chat_update, channel=channel_id, ts=ts, text=text, blocks=blocks
        )

    @staticmethod
    def _call(method: Any, **arguments: Any) -> Receipt:
        """Call a Web API method; its errors become DeliveryError, judged as `known` says."""
        try:
            response = method(**arguments)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error") or f"HTTP {status}")
            if status == 429:
                raise DeliveryError(
                    "ratelimited",
                    permanent=False,
                    retry_after=retry_after_seconds(exc.response.headers),
                ) from exc
            if status >= 500 or error in PASSING_ERRORS:  # Slack's trouble, however worded
                trouble = status >= 500 or error in SLACKS_TROUBLE
                raise DeliveryError(error, permanent=False, slacks_trouble=trouble) from exc
            permanent = error in PERMANENT_ERRORS
            raise DeliveryError(error, permanent=permanent, known=permanent) from exc
        except (URLError, OSError) as exc:  # TimeoutError and connection errors are OSErrors
            raise DeliveryError(
                f"could not reach Slack ({exc.__class__.__name__})", permanent=False
            ) from exc
        return Receipt(str(response.get("ts") or ""), str(response.get("channel") or ""))


def retry_after_seconds(headers: Any) -> float:
    """Slack's Retry-After in seconds; 30 when it is missing or not a number."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    value = value[0] if isinstance(value, list) and value else value
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 30.0
    return seconds if 0 <= seconds < 86400 else 30.0


class LogNotifier:
    """Demo mode without SLACK_BOT_TOKEN: alerts go to the log (and the dashboard's feed)."""

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> Receipt:
        log.warning("ALERT for %s (Slack not configured):\n%s", channel, text)
        return Receipt("", logged=True)

    def update(self, channel_id: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> Receipt:
        log.warning("ALERT edited (Slack not configured):\n%s", text)
        return Receipt(ts, channel_id, logged=True)
