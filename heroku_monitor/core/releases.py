"""The deploy an incident is suspected of (SPEC section 11): the app's latest code release,
when it came just before the problem. Pure. Which releases are deploys is `detect`'s rule
(`classify_release`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from heroku_monitor.core import detect
from heroku_monitor.core.snapshot import Release

# A crash, dynos down or log error this soon after a deploy names the deploy.
SUSPECT_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class SuspectDeploy:
    """The deploy an incident began soon after, and the release before it."""

    app: str
    version: int
    user: str
    created_at: datetime
    minutes_before: int
    previous: int | None  # the newest succeeded release below it (None: not among those seen)
    # The commits it and the release below it run (SPEC §14: its compare link), "" unknown.
    commit: str = ""
    previous_commit: str = ""

    @property
    def rollback_command(self) -> str | None:
        if self.previous is None:
            return None
        return f"heroku rollback v{self.previous} -a {self.app}"


def suspect_deploy(app: str, releases: Sequence[Release], at: datetime) -> SuspectDeploy | None:
    """The deploy an incident opening `at` is suspected of: the app's current code release
    if it is a deploy made within SUSPECT_WINDOW before `at`; None otherwise (a rollback
    since, or a deploy longer ago). Config and add-on releases on top of it do not hide it."""
    done = sorted((r for r in releases if r.status == "succeeded"), key=lambda r: -r.version)
    for index, release in enumerate(done):
        below = done[index + 1] if index + 1 < len(done) else None
        kind = detect.classify_release(release, below)
        if kind == "other":
            continue
        if kind != detect.DEPLOY:
            return None
        made = release.created_at
        if made is None:
            return None
        before = at - made
        # A minute of clock skew between Heroku and us still counts as "just now".
        if not (-timedelta(minutes=1) <= before <= SUSPECT_WINDOW):
            return None
        return SuspectDeploy(
            app=app,
            version=release.version,
            user=release.user,
            created_at=made,
            minutes_before=max(0, int(before.total_seconds() // 60)),
            previous=below.version if below else None,
            commit=release.commit,
            previous_commit=below.commit if below else "",
        )
    return None
