"""Rules for user-given names and numbers, shared by the environment and the dashboard.

Each function returns an error sentence, or None when the value is fine.
"""

from __future__ import annotations

import re
import unicodedata

# Heroku app names: a lower-case letter first, then lower-case letters, digits and dashes,
# 3-30 characters (the Platform API's app name pattern allows no trailing dash either).
APP_NAME = re.compile(r"[a-z][a-z0-9-]{1,28}[a-z0-9]")
# A Slack channel ID: C (public) or G (private, older) and upper-case letters and digits.
# On Enterprise Grid org-wide installs only an ID works.
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{8,20}")
CHANNEL_NAME_MAX = 80
# Where alerts go when SLACK_CHANNEL names no channel (SPEC section 3's example); the
# dashboard's forms start with it.
DEFAULT_CHANNEL = "#alerts"


# ASCII digits only, always fullmatch()ed: not int(), which takes "1_0", "٣" or "+5".
class SettingsError(Exception):
    """The environment is unusable; the message is one sentence per problem for a person."""


WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
INTERVAL_MIN, INTERVAL_MAX = 1, 60


def app_name_error(value: str) -> str | None:
    if APP_NAME.fullmatch(value):
        return None
    return (
        "An app name is 3-30 characters: a lower-case letter first, then lower-case "
        "letters, digits and dashes."
    )


# Heroku team names: lower-case letters, digits and dashes (`heroku teams:create`).
TEAM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def team_name_error(value: str) -> str | None:
    if TEAM_NAME.fullmatch(value):
        return None
    return "A Heroku team name is lower-case letters, digits and dashes (at most 100)."


def normal_channel(value: str) -> str:
    """`value` as Slack stores a name: composed Unicode (é, not e and a combining accent,
    as some keyboards and copy-paste give it), without surrounding spaces."""
    return unicodedata.normalize("NFC", value.strip())


def channel_error(value: str) -> str | None:
    """`#name` as Slack names channels, or a channel ID (`C…`, `G…`), as chat.postMessage
    takes them. Names: lower case (any script: `#alertes-équipe`), digits, hyphens and
    underscores; no spaces or periods; at most 80 characters.
    https://api.slack.com/methods/conversations.create#naming
    """
    if CHANNEL_ID.fullmatch(value):
        return None
    if not value.startswith("#"):
        return (
            f"A Slack channel is #name (for example {DEFAULT_CHANNEL}) or a channel ID (C… or G…)."
        )
    name = value[1:]
    if 1 <= len(name) <= CHANNEL_NAME_MAX and all(_name_character(c) for c in name):
        return None
    return (
        "A Slack channel name is lower case, without spaces or periods: letters, digits, "
        "hyphens and underscores, at most 80 characters after the #."
    )


def _name_character(c: str) -> bool:
    return c in "-_" or (c.isalnum() and c == c.lower())


def whole_number(value: str, low: int, high: int) -> int | None:
    """The number `value` writes in ASCII digits, when it is from `low` to `high`."""
    text = value.strip()
    if not WHOLE_NUMBER.fullmatch(text) or not low <= int(text) <= high:
        return None
    return int(text)


def parse_interval(value: str | int) -> tuple[int | None, str | None]:
    """(minutes, None) for a whole number from 1 to 60, else (None, the error)."""
    return _minutes(value, INTERVAL_MIN, INTERVAL_MAX, "The check interval")


def _minutes(value: str | int, low: int, high: int, what: str) -> tuple[int | None, str | None]:
    minutes = whole_number(str(value), low, high)
    if minutes is None:
        return None, f"{what} is a whole number of minutes from {low} to {high}."
    return minutes, None


# How long a dyno incident's dynos must stay up before it is resolved (SPEC sections 3, 11).
RESOLVE_AFTER_MIN, RESOLVE_AFTER_MAX = 0, 60  # minutes


def parse_resolve_after(value: str | int) -> tuple[int | None, str | None]:
    """(minutes, None) for a whole number from 0 to 60, else (None, the error)."""
    return _minutes(value, RESOLVE_AFTER_MIN, RESOLVE_AFTER_MAX, "The resolve hold")
