"""Rules for user-given names and numbers, shared by the environment and the dashboard.

Each function returns an error sentence, or None when the value is fine.
"""

from __future__ import annotations

import re

# Heroku app names: a lower-case letter first, then lower-case letters, digits and dashes,
# 3-30 characters (the Platform API's app name pattern allows no trailing dash either).
APP_NAME = re.compile(r"[a-z][a-z0-9-]{1,28}[a-z0-9]")
# Slack channel names: lower-case letters, digits, hyphens and underscores, at most 80
# characters. https://api.slack.com/methods/conversations.create#naming
CHANNEL_NAME = re.compile(r"#[a-z0-9_-]{1,80}")
# ASCII digits only, always fullmatch()ed: not int(), which takes "1_0", "٣" or "+5".
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
INTERVAL_MIN, INTERVAL_MAX = 1, 60


def app_name_error(value: str) -> str | None:
    if APP_NAME.fullmatch(value):
        return None
    return (
        "An app name is 3-30 characters: a lower-case letter first, then lower-case "
        "letters, digits and dashes."
    )


def channel_error(value: str) -> str | None:
    if not value.startswith("#"):
        return "A Slack channel starts with # (for example #alerts)."
    if CHANNEL_NAME.fullmatch(value):
        return None
    return (
        "A Slack channel name is lower case, without spaces or periods: letters, digits, "
        "hyphens and underscores, at most 80 characters after the #."
    )


def whole_number(value: str, low: int, high: int) -> int | None:
    """The number `value` writes in ASCII digits, when it is from `low` to `high`."""
    text = value.strip()
    if not WHOLE_NUMBER.fullmatch(text) or not low <= int(text) <= high:
        return None
    return int(text)


def parse_interval(value: str | int) -> tuple[int | None, str | None]:
    """(minutes, None) for a whole number from 1 to 60, else (None, the error)."""
    minutes = whole_number(str(value), INTERVAL_MIN, INTERVAL_MAX)
    if minutes is None:
        return None, (
            "The check interval is a whole number of minutes from "
            f"{INTERVAL_MIN} to {INTERVAL_MAX}."
        )
    return minutes, None
