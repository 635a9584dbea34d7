"""A monitor's mention setting as Slack markup (the escalation's `@here`, SPEC section 11)."""

from __future__ import annotations

import re

_USER_GROUP = re.compile(r"S[A-Z0-9]{2,20}")


def mention_markup(setting: str) -> str:
    """Slack markup for a mention setting: `none` or "" -> "", `here` -> `<!here>`,
    `channel` -> `<!channel>`, a user-group ID `S…` -> `<!subteam^S…>`; ValueError (a
    sentence for the user) for anything else."""
    value = setting.strip()
    if value.lower() in ("", "none"):
        return ""
    if value.lower() in ("here", "channel"):
        return f"<!{value.lower()}>"
    if _USER_GROUP.fullmatch(value):
        return f"<!subteam^{value}>"
    raise ValueError(
        f"{setting!r} is not a mention: use none, here, channel or a Slack user-group ID (S…)."
    )
