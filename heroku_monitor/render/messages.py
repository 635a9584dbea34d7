"""Turn events into Slack messages: the PRD's text plus Block Kit blocks. Pure: `now` is passed in.

Several events of one kind for one app make one message.

Every message fits Slack's limits (`problems` names any it breaks). A long list is cut at an
item boundary with "…and N more", the most telling items kept first (removed and changed config
names before added ones, crashed dynos before running ones); a single over-long item (a release
description) is cut at a word boundary, never inside an escape such as `&amp;`. The `text` keeps
every item while it fits Slack's 40,000 characters (it is what the dashboard's alert log shows);
the blocks carry what fits in about 12,000 characters. Every string that comes from Heroku (dyno
names and types, release descriptions, users, add-on services and plans, states, error reasons)
goes through `escape` before it enters a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from heroku_monitor.core import builds, certificates, detect
from heroku_monitor.core.detect import Event
from heroku_monitor.core.logs.rules import (
    LOG_5XX_RATE,
    LOG_BOOT_TIMEOUT,
    LOG_MEMORY,
    LOG_SLOW_RESPONSES,
    is_log_kind,
)
from heroku_monitor.core.outbound import Message
from heroku_monitor.core.snapshot import Build
from heroku_monitor.render import limits
from heroku_monitor.render.answers import BUILD_EMOJI as BUILD_EMOJI
from heroku_monitor.render.answers import HEALTH_EMOJI as HEALTH_EMOJI
from heroku_monitor.render.answers import HEROKU_DASHBOARD as HEROKU_DASHBOARD
from heroku_monitor.render.answers import STATE_EMOJI as STATE_EMOJI
from heroku_monitor.render.answers import _build_status as _build_status
from heroku_monitor.render.answers import _who as _who
from heroku_monitor.render.answers import ago as ago
from heroku_monitor.render.answers import commit_line as commit_line
from heroku_monitor.render.answers import dashboard_link as dashboard_link
from heroku_monitor.render.answers import status_reply as status_reply
from heroku_monitor.render.answers import summary_reply as summary_reply
from heroku_monitor.render.blocks import (
    BLOCK_ITEM_LIMIT,
    MAX_SECTION,
    TEXT_ITEM_LIMIT,
    Blocks,
    Part,
    blocks_fit,
    code_block,
    context_block,
    escape,
    fields_block,
    fit,
    header_block,
    lines_of,
    sections,
    text_fits,
)

# (emoji, title) per kind; the text's first line is `{emoji} *{title}* {emoji}`.
HEADERS: dict[str, tuple[str, str]] = {
    detect.DYNO_CRASHED: ("🚨", "ALERT: Dyno Crash Detected"),
    detect.DYNOS_DOWN: ("⚠️", "WARNING: Dynos Down"),
    detect.DYNOS_RECOVERED: ("✅", "Dynos Recovered"),
    detect.DEPLOY: ("🚀", "New Deploy Detected"),
    detect.ROLLBACK: ("⏪", "Rollback Detected"),
    detect.RELEASE_FAILED: ("❌", "Release Failed"),
    detect.CONFIG_CHANGED: ("⚙️", "Config Vars Changed"),
    detect.ADDON_ADDED: ("🧩", "Add-on Added"),
    detect.ADDON_REMOVED: ("🗑️", "Add-on Removed"),
    detect.ADDON_CHANGED: ("🔄", "Add-on State Changed"),
    detect.MONITORING_TROUBLE: ("🔥", "Monitoring Trouble"),
    detect.MONITORING_RECOVERED: ("🩹", "Monitoring Recovered"),
    # SPEC §14.
    detect.BUILD_FAILED: ("💥", "Build Failed"),
    detect.BUILD_SUCCEEDED: ("✅", "Build Succeeded"),
    # SPEC §15.
    certificates.CERT_EXPIRING: ("🔒", "Certificate Expires Soon"),
    certificates.CERT_RENEWED: ("🔒", "Certificate Renewed"),
    certificates.ACM_FAILED: ("🔒", "Automated Certificate Management Failed"),
    certificates.ACM_RECOVERED: ("🔒", "Automated Certificate Management Works Again"),
}


# ---------------------------------------------------------------------- alerts


def header(kind: str, events: Sequence[Event] = ()) -> tuple[str, str]:
    """(emoji, title) of a kind; maintenance depends on which way it switched."""
    if kind == detect.MAINTENANCE:
        on = bool(events and events[-1].maintenance)
        return ("🚧", "Maintenance Mode On") if on else ("✅", "Maintenance Mode Off")
    if kind in limits.KINDS:  # SPEC §15: memory near quota, the database near its limits
        return limits.header(kind, events)
    if is_log_kind(kind):
        return _log_header(kind, events)
    return HEADERS[kind]


def _log_header(kind: str, events: Sequence[Event]) -> tuple[str, str]:
    """SPEC section 12: `🔥 *Router Errors: H12 Request timeout* 🔥`, `🧠 *Memory Quota
    Exceeded: web.1* 🧠`; the code and Heroku's description lead each event's `summary`."""
    first = events[0] if events else None
    what = escape(first.summary.split(":", 1)[0]) if first is not None else ""
    if kind == LOG_MEMORY:
        dyno = escape(first.dyno.name) if first is not None and first.dyno else what
        return "🧠", f"Memory Quota Exceeded: {dyno}"
    if kind == LOG_BOOT_TIMEOUT:
        dyno = escape(first.dyno.name) if first is not None and first.dyno else what
        return "⏱️", f"Boot Timeout: {dyno}"
    if kind == LOG_5XX_RATE:
        return "🔥", "Router Errors: 5xx rate"
    if kind == LOG_SLOW_RESPONSES:  # SPEC §15: `🐢 *Slow Responses: p95 {ms} ms* 🐢`
        return "🐢", f"Slow Responses: {what}"
    return "🔥", f"Router Errors: {what}"


def compare_line(previous: str, commit: str, repository: str | None) -> str:
    """`Changes: <compare link|abc1234...def5678>`: what a deploy brought (SPEC §14), "" when
    it cannot be linked (no repository, or a commit unknown)."""
    url = builds.compare_url(repository, previous, commit)
    if url is None:
        return ""
    return f"Changes: <{url}|{escape(builds.sha7(previous))}...{escape(builds.sha7(commit))}>"


def _output_lines(output: Sequence[str], error: str, what: str) -> list[str]:
    """The last lines of an output as a code block, or why it could not be read."""
    if output:
        return [code_block(output)]
    if error:
        return [f"(The {what} output could not be read: {escape(error)})"]
    return []


def _build_lines(build: Build, repository: str | None) -> str:
    """SPEC §14: `Commit: {sha7} {first line}`, `Built by: {email}`, then for a failed
    build the last lines of its output as a code block."""
    lines = [commit_line(build.commit, build.commit_description, repository) or "Commit: unknown"]
    lines.append(f"Built by: {_who(build.user)}")
    if build.status == "failed":
        lines += _output_lines(build.output, build.output_error, "build")
    return "\n".join(lines)


def _body(kind: str, events: Sequence[Event], repository: str | None = None) -> list[Part]:
    """The parts after `App: {app}`, as in the PRD's templates. `repository`: the monitor's
    GitHub repository (`owner/name`), for commit and compare links."""
    if kind in (detect.BUILD_FAILED, detect.BUILD_SUCCEEDED):
        shown = tuple(_build_lines(e.build, repository) for e in events if e.build is not None)
        return [Part(items=shown, bullet="")]
    if is_log_kind(kind):  # the counts, window, top paths and dynos
        return [Part(escape(e.summary)) for e in events]
    if kind in (detect.DYNO_CRASHED, detect.DYNOS_DOWN, detect.DYNOS_RECOVERED):
        label = {
            detect.DYNO_CRASHED: "Crashed dynos:",
            detect.DYNOS_DOWN: "Down dynos:",
            detect.DYNOS_RECOVERED: "Recovered dynos:",
        }[kind]
        names = tuple(f"{escape(e.dyno.name)} ({escape(e.dyno.type)})" for e in events if e.dyno)
        return [Part(label, names)]
    if kind in (detect.DEPLOY, detect.ROLLBACK, detect.RELEASE_FAILED):
        releases = sorted((e for e in events if e.release), key=lambda e: e.release.version)  # type: ignore[union-attr]
        items = []
        for e in releases:
            r = e.release
            assert r is not None
            if kind == detect.DEPLOY:
                lines = [f"Version: v{r.version}", f"Deployed by: {_who(r.user)}"]
            elif kind == detect.ROLLBACK:
                lines = [
                    f"Rollback to v{e.rollback_to}" if e.rollback_to else "Rollback",
                    f"Version: v{r.version}",
                    f"Rolled back by: {_who(r.user)}",
                ]
            else:
                lines = [f"Version: v{r.version}", f"Released by: {_who(r.user)}"]
                if r.description:
                    lines.append(f"Description: {escape(r.description)}")
            # SPEC §14: the commit below the PRD's lines, and what the deploy brought.
            lines.append(commit_line(r.commit, r.commit_description, repository))
            if kind != detect.RELEASE_FAILED:
                lines.append(compare_line(e.previous_commit, r.commit, repository))
            else:
                lines += _output_lines(r.output, r.output_error, "release phase")
            items.append("\n".join(line for line in lines if line))
        return [Part(items=tuple(items), bullet="")]
    if kind == detect.CONFIG_CHANGED:
        added = sorted({n for e in events for n in e.added})
        removed = sorted({n for e in events for n in e.removed})
        changed = sorted({n for e in events for n in e.changed})
        # Removed and changed names matter most: they come first and are cut last.
        parts = [
            Part(f"{label}:", tuple(escape(n) for n in names), inline=True, priority=priority)
            for label, names, priority in (
                ("Removed", removed, 0),
                ("Changed", changed, 0),
                ("Added", added, 1),
            )
            if names
        ]
        return [*parts, Part("Review changes in Heroku dashboard.")]
    if kind in (detect.ADDON_ADDED, detect.ADDON_REMOVED, detect.ADDON_CHANGED):
        lines = []
        for e in events:
            a = e.addon
            assert a is not None
            line = f"{escape(a.service)} ({escape(a.plan)})"
            if kind == detect.ADDON_ADDED:
                line += f": {escape(a.state)}"
            elif kind == detect.ADDON_CHANGED and e.previous_addon:
                p = e.previous_addon
                if p.plan != a.plan:
                    line = f"{escape(a.service)}: plan {escape(p.plan)} → {escape(a.plan)}"
                if p.state != a.state:
                    line += f": {escape(p.state)} → {escape(a.state)}"
            lines.append(line)
        return [Part(items=tuple(lines))]
    if kind == detect.MAINTENANCE:
        on = bool(events[-1].maintenance)
        return [
            Part(
                "Maintenance mode is on: visitors get the maintenance page."
                if on
                else "Maintenance mode is off: the app serves traffic again."
            )
        ]
    if kind == detect.MONITORING_TROUBLE:
        e = events[-1]
        line = f"The Heroku API failed {e.failures} checks in a row: {escape(e.reason)}"
        if e.reason.startswith(detect.INTERNAL_ERROR):  # a bug, not Heroku (SPEC §16)
            line = f"{e.failures} checks in a row failed: {escape(e.reason)}"
        return [Part(items=(line,), bullet="")]
    if kind == detect.MONITORING_RECOVERED:
        e = events[-1]
        return [Part(f"The Heroku API answers again after {e.failures} failed checks.")]
    if kind in certificates.KINDS:
        return [Part(items=tuple(_certificate_lines(e) for e in events), bullet="")]
    return []


def _certificate_lines(event: Event) -> str:
    """SPEC §15: `Domains: {hostnames}` and `Expires: {date} (in {n} days)`, or
    `Domain: {hostname}` and `Reason: {acm_status_reason}`."""
    names = ", ".join(escape(h) for h in event.hostnames) or "none"
    if event.kind == certificates.ACM_FAILED:
        return f"Domain: {names}\nReason: {escape(event.reason) or 'none given'}"
    if event.kind == certificates.ACM_RECOVERED:
        return f"Domains: {names}\nACM status now: {escape(event.reason)}"
    if event.expires_at is None:  # renewed by removing the endpoint
        return f"Domains: {names}\nNo certificate of the app expires within 14 days now."
    when = f"{event.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"Domains: {names}\nExpires: {when} ({certificates.days_text(event.days_left)})"


def slack_date(now: datetime) -> str:
    """`now` as Slack shows a date in each reader's time zone (UTC text where it cannot)."""
    fallback = now.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(now.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def render(
    app: str,
    kind: str,
    events: Sequence[Event],
    now: datetime,
    repository: str | None = None,
    dashboard_url: str | None = None,
) -> Message:
    """The one message for `events`, all of `kind` and `app` (`repository`: the monitor's,
    for commit links; `dashboard_url`: this service's address, for its context line)."""
    emoji, title = header(kind, events)
    parts = _body(kind, events, repository)
    opening = [f"{emoji} *{title}* {emoji}", f"App: {escape(app)}"]

    def text_of(parts: list[Part]) -> str:
        return "\n".join([*opening, *lines_of(parts, None, TEXT_ITEM_LIMIT)])

    fixed_head = [header_block(f"{emoji} {title} {emoji}"), fields_block(f"*App:*\n{escape(app)}")]
    context = context_block(f"{slack_date(now)} · {dashboard_link(app, dashboard_url)}")

    def blocks_of(parts: list[Part]) -> Blocks:
        return [*fixed_head, *sections(lines_of(parts, MAX_SECTION, BLOCK_ITEM_LIMIT)), context]

    text = fit(parts, text_of, text_fits)
    blocks = fit(parts, blocks_of, blocks_fit)
    return Message(app, kind, text, blocks, tuple(e.key for e in events))


def build(
    events: Iterable[Event],
    now: datetime,
    repository: str | None = None,
    dashboard_url: str | None = None,
) -> list[Message]:
    """One message per (app, kind), most urgent kind first (`repository`: the monitor's
    GitHub repository, `owner/name`, for commit and compare links; SPEC §14;
    `dashboard_url`: this service's address, so the context line links the app's page)."""
    groups: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        groups.setdefault((event.app, event.kind), []).append(event)
    order = {kind: i for i, kind in enumerate(detect.KINDS)}
    return [
        render(app, kind, group, now, repository, dashboard_url)
        for (app, kind), group in sorted(
            groups.items(), key=lambda item: (item[0][0], order.get(item[0][1], len(order)))
        )
    ]


TEAM_APP_GONE = "team_app_gone"


def no_longer_watched(app: str, team: str, now: datetime) -> Message:
    """The one note a team watch posts when an app left the team or was deleted."""
    title = "No Longer Watched"
    line = f"{escape(app)} is no longer an app of team {escape(team)} (deleted or moved out)."
    blocks: Blocks = [
        header_block(f"👋 {title} 👋"),
        fields_block(f"*App:*\n{escape(app)}", f"*Team:*\n{escape(team)}"),
        *sections([line]),
        context_block(slack_date(now)),
    ]
    text = f"👋 *{title}* 👋\nApp: {escape(app)}\n{line}"
    key = f"{app}:{TEAM_APP_GONE}:{team}:{now.isoformat()}"
    return Message(app, TEAM_APP_GONE, text, blocks, (), explicit_key=key)


UNDELIVERED = "undelivered"


def undelivered(count: int, first: datetime, last: datetime) -> Message:
    """The one message that sums up a channel's `count` failed alerts made from `first` to
    `last`, too old to be sent again after a long outage (SPEC §16)."""
    noun = "alert" if count == 1 else "alerts"
    span = f"from {slack_date(first)} to {slack_date(last)}"
    if first == last:
        span = f"of {slack_date(first)}"
    line = f"📭 {count} {noun} {span} could not be delivered; see the dashboard's alert log."
    return Message("", UNDELIVERED, line, sections([line]), ())
