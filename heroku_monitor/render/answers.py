"""The slash-command answers: `/heroku-status app` (`status_reply`) and `/heroku-status`
without an app (`summary_reply`), as text and Block Kit blocks. Pure: `now` is passed in.

Also the small lines alerts share with them (the dashboard link, the commit line, who did it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from heroku_monitor.core import builds
from heroku_monitor.core.snapshot import AppSnapshot
from heroku_monitor.render.blocks import (
    BLOCK_ITEM_LIMIT,
    MAX_FIELD,
    MAX_SECTION,
    TEXT_ITEM_LIMIT,
    Blocks,
    Part,
    blocks_fit,
    clip,
    context_block,
    escape,
    fields_block,
    fit,
    header_block,
    lines_of,
    section_block,
    sections,
    text_fits,
)

HEROKU_DASHBOARD = "https://dashboard.heroku.com/apps/"


def dashboard_link(app: str, dashboard_url: str | None = None) -> str:
    """A Slack link to the app's page in the Heroku dashboard, then, when this service
    knows its public address (`dashboard_url`, settings' DASHBOARD_URL), to the app's page
    on it."""
    heroku = f"<{HEROKU_DASHBOARD}{app}|Open {escape(app)} in the Heroku dashboard>"
    if not dashboard_url:
        return heroku
    # A Slack link ends at `|` or `>`: such characters of the address are percent-encoded.
    base = dashboard_url.rstrip("/").replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"{heroku} · <{base}/apps/{quote(app)}|Its page on Heroku Monitor>"


def _who(email: str) -> str:
    return escape(email) if email else "unknown"


def commit_line(commit: str, description: str, repository: str | None = None) -> str:
    """SPEC §14: `Commit: {sha7} {first line of the message}`, the hash linked to the
    commit on GitHub when the monitor names its repository; "" for no commit."""
    if not commit:
        return ""
    short = escape(builds.sha7(commit))
    url = builds.commit_url(repository, commit)
    shown = f"<{url}|{short}>" if url else short
    first = builds.first_line(description)
    return f"Commit: {shown} {escape(first)}".rstrip()


# ---------------------------------------------------------------------- slash answers

HEALTH_EMOJI = {"healthy": "🟢", "degraded": "🟠", "down": "🔴"}
STATE_EMOJI = {"up": "🟢", "starting": "🟡", "idle": "💤", "crashed": "🔴", "down": "🔴"}


def ago(then: datetime, now: datetime) -> str:
    """`12 seconds ago`, `3 minutes ago`, `2 hours ago`."""
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size_ in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size_:
            n = seconds // size_
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return f"{seconds} second{'s' if seconds != 1 else ''} ago"


def status_reply(
    snapshot: AppSnapshot,
    now: datetime,
    *,
    problem: str | None = None,
    dashboard_url: str | None = None,
) -> tuple[str, Blocks]:
    """The `/heroku-status app` answer: health, dynos, current release, add-ons,
    maintenance and when it was seen so, as text and blocks. `problem`: why the latest
    check failed, when it did (the rest is then older news, and says so)."""
    health = snapshot.health()
    title = f"{HEALTH_EMOJI[health]} {snapshot.app} is {health}"
    # Crashed and down dynos first: when the list is cut, they are the ones kept.
    ordered = sorted(snapshot.dynos, key=lambda d: (d.state not in ("crashed", "down"), d.name))
    dynos = tuple(
        f"{STATE_EMOJI.get(d.state, '•')} {escape(d.name)} ({escape(d.type)}): {escape(d.state)}"
        for d in ordered
    ) or ("No dynos are running.",)
    release = snapshot.current_release
    if release:
        made = release.created_at
        when = f"{made.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if made is not None else ""
        release_line = f"v{release.version} by {_who(release.user)}, {when}"
        if release.description:
            release_line += f": {escape(release.description)}"
    else:
        release_line = "none yet"
    build_line, running_line = _build_status(snapshot, now)
    addons = tuple(
        f"{escape(a.service)} ({escape(a.plan)}): {escape(a.state)}"
        for a in sorted(snapshot.addons, key=lambda a: a.name)
    ) or ("none",)
    maintenance = "on 🚧" if snapshot.maintenance else "off"
    seen = ago(snapshot.taken_at, now)
    checked = f"Last checked {seen}"
    if problem:
        checked = f"⚠️ The latest check failed ({clip(escape(problem), 500)}); this is from {seen}"

    def text_of(parts: list[Part]) -> str:
        return "\n".join([f"*{escape(title)}*", *lines_of(parts, None, TEXT_ITEM_LIMIT)])

    text = fit(
        [
            Part("*Dynos:*", dynos, bullet=""),
            Part("*Current release:*", (release_line,), inline=True, priority=0),
            Part("*Running commit:*", (running_line,), inline=True, priority=0),
            Part("*Newest build:*", (build_line,), inline=True, priority=0),
            Part("*Add-ons:*", addons, inline=True, separator="; ", priority=0),
            Part(f"*Maintenance mode:* {maintenance}"),
            Part(checked),
        ],
        text_of,
        text_fits,
    )
    release_field = clip(f"*Current release:*\n{release_line}", MAX_FIELD)

    def blocks_of(parts: list[Part]) -> Blocks:
        dyno_part, addon_part = parts
        return [
            header_block(title),
            *sections(dyno_part.lines(MAX_SECTION, BLOCK_ITEM_LIMIT)),
            fields_block(
                release_field,
                f"*Maintenance mode:*\n{maintenance}",
                f"*Running commit:*\n{running_line}",
                f"*Newest build:*\n{build_line}",
            ),
            *sections(addon_part.lines(MAX_SECTION, BLOCK_ITEM_LIMIT)),
            context_block(f"{checked} · {dashboard_link(snapshot.app, dashboard_url)}"),
        ]

    blocks = fit(
        [Part("*Dynos:*", dynos, bullet=""), Part("*Add-ons:*", addons, bullet="", priority=0)],
        blocks_of,
        blocks_fit,
    )
    return text, blocks


BUILD_EMOJI = {"succeeded": "✅", "failed": "💥", "pending": "⏳"}


def _build_status(snapshot: AppSnapshot, now: datetime) -> tuple[str, str]:
    """SPEC §14: the newest build (status, commit, when) and the commit that runs (the
    current release's), each a line of the status answer."""
    release = snapshot.current_release
    running = "unknown"
    if release is not None and release.commit:
        running = commit_line(release.commit, release.commit_description).removeprefix("Commit: ")
    newest = max(
        snapshot.builds,
        key=lambda b: b.created_at.timestamp() if b.created_at is not None else 0.0,
        default=None,
    )
    if newest is None:
        return ("none seen yet" if snapshot.builds_at is not None else "not read yet"), running
    made = newest.created_at
    when = f", {ago(made, now)}" if made is not None else ""
    commit = commit_line(newest.commit, newest.commit_description).removeprefix("Commit: ")
    line = f"{BUILD_EMOJI.get(newest.status, '•')} {escape(newest.status)}"
    line += f" · {commit or 'no commit given'}{when}"
    if newest.user:
        line += f" by {escape(newest.user)}"
    return line, running


def summary_reply(
    rows: Sequence[tuple[str, AppSnapshot | None, bool]], now: datetime
) -> tuple[str, Blocks]:
    """The `/heroku-status` answer without an app: one line per monitored app."""
    if not rows:
        text = (
            "🌵 No app is monitored yet. Add one on the dashboard, or ask `/heroku-status my-app`."
        )
        return text, [section_block(text)]
    lines = []
    for app, snapshot, failing in rows:
        name = escape(app)
        if snapshot is None:
            lines.append(f"⏳ *{name}*: not checked yet")
            continue
        health = snapshot.health()
        up = sum(1 for d in snapshot.dynos if d.state == "up")
        release = snapshot.current_release
        version = f", v{release.version}" if release else ""
        maintenance = ", maintenance on 🚧" if snapshot.maintenance else ""
        lines.append(
            f"{HEALTH_EMOJI[health]} *{name}*: {health}, {up}/{len(snapshot.dynos)} dynos up"
            f"{version}{maintenance} (checked {ago(snapshot.taken_at, now)})"
            + (", ⚠️ latest check failed" if failing else "")
        )
    apps = [Part(items=tuple(lines), bullet="")]

    def text_of(parts: list[Part]) -> str:
        return "\n".join(["*🤠 Heroku status*", *lines_of(parts, None, TEXT_ITEM_LIMIT)])

    def blocks_of(parts: list[Part]) -> Blocks:
        return [
            header_block("🤠 Heroku status"),
            *sections(lines_of(parts, MAX_SECTION, BLOCK_ITEM_LIMIT)),
            context_block("Ask `/heroku-status app-name` for the details."),
        ]

    return fit(apps, text_of, text_fits), fit(apps, blocks_of, blocks_fit)
