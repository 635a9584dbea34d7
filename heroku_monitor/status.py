"""Answers to `/heroku-status [app]`, independent of Slack's framework.

Monitored apps are answered at once from their last snapshot; any other app needs a
live read of the Heroku API, which the caller does after acknowledging Slack (Slack
gives a slash command 3 seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from heroku_monitor import messages, validation
from heroku_monitor.engine import Clock
from heroku_monitor.heroku import Forbidden, HerokuClient, HerokuError, NotFound, Unauthorized
from heroku_monitor.store import Store

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


class StatusService:
    def __init__(self, store: Store, heroku: HerokuClient, digest_key: bytes, clock: Clock) -> None:
        self.store = store
        self.heroku = heroku
        self.digest_key = digest_key
        self.clock = clock

    def answer(self, text: str) -> Answer:
        """The immediate answer to the command's text."""
        words = text.strip().split()
        if not words:
            now = self.clock()
            rows = []
            for monitor in self.store.monitors():
                rows.append((monitor.app_name, monitor.snapshot, monitor.last_ok is False))
            return Answer(*messages.summary(rows, now))
        if len(words) > 1 or words[0].lower() in ("help", "-h", "--help"):
            return _plain(USAGE)
        app = words[0].lower()
        if validation.app_name_error(app):
            return _plain(f"🤔 `{messages.escape(words[0])}` is not a Heroku app name. {USAGE}")
        found = self.store.snapshot_for_app(app)
        if found is not None:
            snapshot, problem = found
            return Answer(*messages.status(snapshot, self.clock(), problem=problem))
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
        return Answer(*messages.status(snapshot, self.clock()))
