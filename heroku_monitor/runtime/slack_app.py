"""The Slack app: what Slack asks of us. `/heroku-status [app]`, answered through Bolt.

One Bolt `App` is built by the service; the Flask route (`web/slack_endpoints.py`) and
the Socket Mode handler both wrap it. Bolt checks the v0 signature and its 5-minute
window and answers 401 when it fails. The listener acks at once (from the last snapshot
where there is one) and, for an app that must be read live, answers later through the
command's response_url (Slack gives a slash command 3 seconds).
https://api.slack.com/interactivity/slash-commands#responding_to_commands
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient

from heroku_monitor.core import validation
from heroku_monitor.core.clock import Clock
from heroku_monitor.heroku.client import HerokuClient
from heroku_monitor.heroku.errors import Forbidden, HerokuError, NotFound, Unauthorized
from heroku_monitor.render import messages, threads
from heroku_monitor.runtime.conversations import Conversations
from heroku_monitor.settings import Settings, SettingsError
from heroku_monitor.store.monitors import Monitors

if TYPE_CHECKING:  # Bolt is imported by `build_bolt`, when a Slack app is wanted (~5 MB)
    from slack_bolt import Ack, App, Respond
    from slack_bolt.authorization import AuthorizeResult

log = logging.getLogger(__name__)

COMMAND = "/heroku-status"

USAGE = (
    "Usage: `/heroku-status` for every monitored app, or `/heroku-status app-name` for one "
    "app (a Heroku app name: lower-case letters, digits and dashes)."
)


@dataclass(frozen=True)
class Answer:
    """What to say now; `fetch` names an app to read live and answer later."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    fetch: str | None = None


def _plain(text: str) -> Answer:
    return Answer(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


class StatusAnswers:
    """What `/heroku-status` says: from the last snapshot, or read live."""

    def __init__(
        self,
        monitors: Monitors,
        heroku: HerokuClient,
        digest_key: bytes,
        clock: Clock,
        *,
        dashboard_url: str | None = None,
    ) -> None:
        self.dashboard_url = dashboard_url  # this service's address: the answer links the page
        self.monitors = monitors
        self.heroku = heroku
        self.digest_key = digest_key
        self.clock = clock

    def answer(self, text: str) -> Answer:
        """The immediate answer to the command's text."""
        words = text.strip().split()
        if not words:
            now = self.clock()
            rows = []
            for monitor in self.monitors.all():
                rows.append((monitor.app_name, monitor.snapshot, monitor.last_ok is False))
            return Answer(*messages.summary_reply(rows, now))
        if len(words) > 1 or words[0].lower() in ("help", "-h", "--help"):
            return _plain(USAGE)
        app = words[0].lower()
        if validation.app_name_error(app):
            return _plain(f"🤔 `{messages.escape(words[0])}` is not a Heroku app name. {USAGE}")
        found = self.monitors.latest_snapshot(app)
        if found is not None:
            snapshot, problem = found
            return Answer(
                *messages.status_reply(
                    snapshot, self.clock(), problem=problem, dashboard_url=self.dashboard_url
                )
            )
        waiting = _plain(f"🤠 Riding out to check *{app}*…")
        return Answer(waiting.text, waiting.blocks, fetch=app)

    def live(self, app: str) -> Answer:
        """Read `app` from Heroku now; an error becomes a short, helpful answer."""
        now = self.clock()
        try:
            snapshot = self.heroku.snapshot(
                app, now=now, digest_key=self.digest_key, include_config=False
            )
        except (NotFound, Forbidden):
            return _plain(
                f"🌵 I can't find an app called *{app}*, or my Heroku token has no access to "
                "it. Check the name with `heroku apps`."
            )
        except Unauthorized:
            return _plain(
                "🔑 Heroku refused my API token (401). Ask whoever runs Heroku Monitor to "
                "renew HEROKU_API_KEY."
            )
        except HerokuError as exc:
            return _plain(
                f"⚠️ Heroku did not answer for *{app}* ({messages.escape(str(exc))}). "
                "Try again in a minute."
            )
        return Answer(
            *messages.status_reply(snapshot, self.clock(), dashboard_url=self.dashboard_url)
        )


# Bolt's own log: warnings and errors only. At INFO it logs the whole body of every
# request it refuses, which anyone can send.
bolt_log = logging.getLogger("heroku_monitor.bolt")
bolt_log.setLevel(logging.WARNING)


class _TokenFromSettings(logging.Filter):
    """Bolt warns, at construction, that SLACK_BOT_TOKEN in the environment "will be
    ignored" when `authorize` is given: true, and meant (the token comes from Settings,
    through `authorize`). Only those two sentences are dropped."""

    def __init__(self) -> None:
        super().__init__()
        from slack_bolt.logger.messages import (
            warning_client_prioritized_and_token_skipped,
            warning_token_skipped,
        )

        self.expected = frozenset(
            {warning_token_skipped(), warning_client_prioritized_and_token_skipped()}
        )

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.expected


def build_bolt(
    settings: Settings, answers: StatusAnswers, conversations: Conversations | None = None
) -> App:
    """The Bolt app; building it calls nothing over the network.

    `authorize` stands in for Bolt's default single-team authorization, which would call
    `auth.test` on the first request; the token it gives comes from Settings.
    """
    from slack_bolt import App
    from slack_bolt.authorization import AuthorizeResult

    token = settings.slack_bot_token or None

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    quiet = _TokenFromSettings()
    bolt_log.addFilter(quiet)
    try:
        bolt = App(
            signing_secret=settings.slack_signing_secret or "socket-mode-needs-no-signature",
            authorize=authorize,
            # No token here: each request's client gets the one `authorize` returns.
            client=WebClient(base_url=settings.slack_api_url, timeout=10),
            token_verification_enabled=False,
            request_verification_enabled=bool(settings.slack_signing_secret),
            ssl_check_enabled=True,
            url_verification_enabled=True,
            logger=bolt_log,
        )
    finally:
        bolt_log.removeFilter(quiet)

    @bolt.command(COMMAND)
    def heroku_status(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        answer = answers.answer(str(command.get("text") or ""))
        ack(response_type="ephemeral", text=answer.text, blocks=answer.blocks)
        if answer.fetch:
            later = answers.live(answer.fetch)
            try:
                sent = respond(
                    response_type="ephemeral",
                    text=later.text,
                    blocks=later.blocks,
                    replace_original=True,
                )
            except Exception as exc:  # slack_sdk raises several kinds; each means "not shown"
                log.error(
                    "the /heroku-status answer about %s did not reach Slack: %s",
                    answer.fetch,
                    str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__,
                )
                return
            if sent.status_code >= 400:
                log.error(
                    "Slack refused the /heroku-status answer about %s: %s %s",
                    answer.fetch,
                    sent.status_code,
                    str(sent.body)[:200],
                )

    if conversations is not None:
        _incident_buttons(bolt, conversations)
    return bolt


def _incident_buttons(bolt: App, conversations: Conversations) -> None:
    """Acknowledge and Snooze 1 h on an incident's message (signed by Slack like the
    command: Bolt and `web/slack_endpoints.py` refuse anything else)."""

    def person(body: dict[str, Any]) -> str:
        user = body.get("user") or {}
        user_id = str(user.get("id") or "")
        if threads.USER_MENTION.fullmatch(f"<@{user_id}>"):
            return f"<@{user_id}>"
        return str(user.get("username") or user.get("name") or "someone")

    def owners(action: dict[str, Any]) -> list[tuple[int, str]]:
        return conversations.store.owners(str(action.get("value") or "")[:400])

    @bolt.action(threads.ACKNOWLEDGE)
    def acknowledge(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        for monitor_id, _app in owners(action):
            conversations.acknowledge(monitor_id, str(action.get("value")), person(body))

    @bolt.action(threads.SNOOZE)
    def snooze(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        for monitor_id, app in owners(action):
            conversations.snooze(monitor_id, app, person(body))


def start_socket_mode(bolt: App, app_token: str) -> Any:
    """Serve the command over Socket Mode (no public URL needed); returns the handler."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(bolt, app_token)
    try:
        handler.connect()
    except Exception as exc:  # slack_sdk raises several kinds; each means "no connection"
        raise SettingsError(
            f"Could not connect to Slack over Socket Mode with SLACK_APP_TOKEN "
            f"({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'})."
        ) from exc
    log.info("slash commands: connected to Slack over Socket Mode")
    return handler
