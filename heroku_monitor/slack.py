"""Delivering messages to Slack: the only module that posts to the Slack Web API.

slack_sdk's WebClient retries 5xx and connection errors a few times itself; a 429 and
whatever still fails raise DeliveryError. What an error means is decided here, once:
`permanent` (trying the same request again cannot help), `fixable` (a person can fix its
cause: the channel, an invite, the token), and `retry_after` (Slack's Retry-After).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
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

log = logging.getLogger(__name__)

# Refusals of the message itself: no fix of the channel or the token can send it.
MESSAGE_ERRORS = frozenset({"invalid_blocks", "invalid_arguments", "msg_too_long", "no_text"})
# Errors that the same request will never get past: a person must fix the token, the
# channel or the app's scopes. https://api.slack.com/methods/chat.postMessage#errors
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
        "team_access_not_granted",
        "ekm_access_denied",
    }
    | MESSAGE_ERRORS
)

HINTS = {
    "channel_not_found": "the channel does not exist, or the bot cannot see it",
    "not_in_channel": "invite the bot to the channel (/invite @Heroku Monitor)",
    "is_archived": "the channel is archived",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid",
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "token_revoked": "SLACK_BOT_TOKEN was revoked",
    "missing_scope": "the Slack app lacks the chat:write scope",
}


class DeliveryError(Exception):
    """A message was not delivered. `str()` is one sentence for the dashboard."""

    def __init__(self, reason: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.fixable = reason not in MESSAGE_ERRORS
        self.retry_after = retry_after

    def __str__(self) -> str:
        hint = HINTS.get(self.reason)
        return f"{self.reason}: {hint}" if hint else self.reason


@dataclass(frozen=True)
class Receipt:
    """A delivered message: its `ts` and its channel's ID as Slack answered (both empty when
    only logged), and whether it only went to the log (no Slack token in demo mode)."""

    ts: str
    channel_id: str = ""
    logged: bool = False


class Notifier(Protocol):
    """Where alerts go: `post` returns a Receipt or raises DeliveryError."""

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> Receipt: ...


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

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> Receipt:
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error") or f"HTTP {status}")
            if status == 429:
                retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                    "retry-after"
                )
                wait = float(retry_after[0] if isinstance(retry_after, list) else retry_after or 30)
                raise DeliveryError("ratelimited", permanent=False, retry_after=wait) from exc
            raise DeliveryError(error, permanent=error in PERMANENT_ERRORS) from exc
        except (URLError, OSError) as exc:  # TimeoutError and connection errors are OSErrors
            raise DeliveryError(
                f"could not reach Slack ({exc.__class__.__name__})", permanent=False
            ) from exc
        return Receipt(str(response.get("ts") or ""), str(response.get("channel") or ""))


class LogNotifier:
    """Demo mode without SLACK_BOT_TOKEN: alerts go to the log (and the dashboard's feed)."""

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> Receipt:
        log.warning("ALERT for %s (Slack not configured):\n%s", channel, text)
        return Receipt("", logged=True)
