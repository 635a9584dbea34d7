"""What the dashboard shows, built for its templates.

`overview` is `GET /`: the apps with an open incident first (what, since when, who
acknowledged), then one compact row per app, filtered by name and team and cut into pages,
with the PRD's configuration form; it reads everything in a fixed number of statements
(`store.overview`), whatever the number of apps, and no app's timeline. `app_page` is
`GET /apps/{app}`: one app's timeline, alert history, dynos, incidents and settings forms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from markupsafe import Markup

from heroku_monitor.core import certificates as certs
from heroku_monitor.core import thresholds as rule_table
from heroku_monitor.core.budget import Budget
from heroku_monitor.core.incidents import Incident, Snooze
from heroku_monitor.core.logs.rules import Thresholds
from heroku_monitor.core.snapshot import AppSnapshot, Release
from heroku_monitor.render import blocks, messages, timeline_looks
from heroku_monitor.render.timeline import WIDE, Marker
from heroku_monitor.render.timescale import TimeScale
from heroku_monitor.service import Service
from heroku_monitor.store.models import Alert
from heroku_monitor.store.monitors import MonitorView
from heroku_monitor.store.outbox import FAILED
from heroku_monitor.store.overview import AppRow, Overview
from heroku_monitor.store.teams import TeamView
from heroku_monitor.web.auth import read_only_reason
from heroku_monitor.web.demo import BUTTONS as DEMO_BUTTONS
from heroku_monitor.web.forms import ActionForm, MonitorForm, TeamForm
from heroku_monitor.web.timeline import render_timeline

# SPEC section 12's log-alert thresholds, as a monitor's settings write them.
DEFAULT_THRESHOLDS = Thresholds().text

PAGE_SIZE = 100  # rows of the overview's list a page shows
TROUBLES_SHOWN = 20  # open incidents listed in full at the top; the rest head the list
RECENT_ALERTS = 10  # the overview's latest alerts, of every app
HISTORY_SHOWN = 50  # an app page's alerts written out (its timeline marks more)
TEAMS_APPS_SHOWN = 12  # a team's apps named on its card; the rest by a filter link
NO_TEAM = "_none"  # the team filter's value for apps a person added
QUERY_LIMIT = 30  # an app name is at most 30 characters: a longer filter matches nothing
HEROKU_DASHBOARD = "https://dashboard.heroku.com/apps/"
RUNNING = frozenset({"up", "idle"})  # a dyno in these counts as running in "web 2/2"


@dataclass(frozen=True)
class Polling:
    """Which process runs the polling rounds (SPEC §13), for the page's status strip."""

    leader: str  # "this process (web.1 pid 42)", "web.2 pid 7" or "no process right now …"
    since: datetime | None  # when the leader took the lease (None: nobody leads)


def _polling(service: Service) -> Polling:
    leadership = service.leadership
    lease = leadership.current()
    if lease is None:
        periods = 2 * leadership.lease.total_seconds()
        return Polling(
            f"no process right now — another takes over within two lease periods ({periods:g} s)",
            None,
        )
    if lease.ours:
        return Polling(f"this process ({lease.label})", lease.since)
    return Polling(lease.label, lease.since)


@dataclass(frozen=True)
class Filter:
    """The overview's filter, from its query parameters: a part of the app's name (`q`),
    a team (`team`: a team's name, `NO_TEAM` for apps a person added, "" for all) and the
    page (from 1)."""

    q: str = ""
    team: str = ""
    page: int = 1

    @classmethod
    def of(cls, args: dict[str, str]) -> Filter:
        """The filter a request's query asks for; what makes no sense is ignored."""
        q = " ".join(str(args.get("q", "")).split()).lower()[:100]
        team = str(args.get("team", "")).strip()[:100]
        page_text = str(args.get("page", "1")).strip()
        page = int(page_text) if page_text.isascii() and page_text.isdigit() else 1
        return cls(q, team, max(1, min(page, 10_000)))

    @property
    def active(self) -> bool:
        return bool(self.q or self.team)

    def matches(self, row: AppRow) -> bool:
        if self.q and (len(self.q) > QUERY_LIMIT or self.q not in row.app_name):
            return False
        if self.team == NO_TEAM:
            return row.team is None
        return not self.team or row.team == self.team

    def query(self, page: int | None = None) -> dict[str, str | int]:
        """The query parameters of this filter at `page` (for the pager's links)."""
        out: dict[str, str | int] = {}
        if self.q:
            out["q"] = self.q
        if self.team:
            out["team"] = self.team
        if (page or self.page) > 1:
            out["page"] = page or self.page
        return out


@dataclass(frozen=True)
class Row:
    """One app's row on the overview."""

    app: AppRow
    health: str | None  # healthy, degraded, down (None: not seen yet)
    dynos: str  # "web 2/2 · worker 1/1"
    deploy: Release | None  # the release running now


@dataclass(frozen=True)
class Trouble:
    """An open incident, as the top of the overview lists it."""

    app: AppRow
    incident: Incident
    what: str  # "Dyno crash: 1 crash, open for 20 min (Tue 8 01:14 UTC)"


@dataclass(frozen=True)
class _Base:
    now: datetime
    action: ActionForm
    read_only: str  # why this visitor may change nothing ("" when they may)
    scheduler_running: bool

    def fmt(self, moment: datetime | None) -> str:
        return _fmt(moment, self.now)

    def ago(self, moment: datetime | None) -> str:
        return messages.ago(moment, self.now) if moment else "never"

    def short_ago(self, moment: datetime | None) -> str:
        return _short_ago(moment, self.now)

    def clipped(self, text: str, limit: int = 1_500) -> str:
        """An alert's mrkdwn cut at a word (never inside an escape) past `limit`
        characters: the overview's latest alerts stay short; an app's page has them whole."""
        return blocks.clip(text, limit)

    def due(self, moment: datetime | None) -> str:
        """When a check is due: its time, or "due now" once that has passed."""
        if moment is not None and moment <= self.now:
            return f"due now (since {messages.ago(moment, self.now)[: -len(' ago')]})"
        return _fmt(moment, self.now)

    def what(self, incident: Incident) -> str:
        return incident_what(incident, self.now)


@dataclass(frozen=True)
class Page(_Base):
    """The overview, as `dashboard.html` reads it."""

    rows: list[Row]  # this page's
    total: int  # apps watched
    matched: int  # apps the filter lets through
    filter: Filter
    pages: int
    troubles: list[Trouble]  # the first `TROUBLES_SHOWN` open incidents
    troubled_apps: int  # apps with an open incident
    more_troubles: int  # open incidents not listed at the top
    first: AppRow | None
    config_form: MonitorForm
    new_form: MonitorForm
    failed_slot: str
    alerts: list[Alert]
    undelivered: int
    rate_limit: int | None
    budget: Budget
    rate_share: float
    throttle: str
    demo: bool
    teams: list[TeamView]
    team_form: TeamForm
    polling: Polling
    polled_every: dict[int, str]  # interval (min) -> how often it is polled, when stretched
    no_team: str = NO_TEAM
    demo_buttons: tuple[tuple[str, str], ...] = ()
    teams_apps_shown: int = TEAMS_APPS_SHOWN

    @property
    def first_shown(self) -> int:
        return (self.filter.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.rows) - 1 if self.rows else 0


@dataclass(frozen=True)
class Refused:
    """A monitor's form that did not validate: which (`routing`, `thresholds`), what was
    typed, and a sentence per wrong field."""

    monitor_id: int
    form: str
    typed: dict[str, str]
    errors: dict[str, str]


@dataclass(frozen=True)
class Certificate:
    """One certificate of the app as its last read found it."""

    hostnames: str
    expires_at: datetime | None
    days_left: int | None
    soon: bool  # within the 14 days that open an incident


@dataclass(frozen=True)
class Certificates:
    """The app's certificates and failed ACM domains, as the last read found them."""

    read_at: datetime | None
    certificates: list[Certificate]
    acm_failed: list[tuple[str, datetime]]  # (hostname, failing since)


def _certificates(state: certs.CertificateState | None, now: datetime) -> Certificates | None:
    if state is None:
        return None
    shown = []
    for names, expires in state.certificates:
        days = certs.days_left(expires, now) if expires is not None else None
        shown.append(Certificate(names, expires, days, days is not None and days <= 14))
    shown.sort(key=lambda c: (c.expires_at is None, c.expires_at or now, c.hostnames))
    return Certificates(state.read_at, shown, sorted(state.failed))


@dataclass(frozen=True)
class RuleRow:
    """One alert rule in a monitor's thresholds form: on or off, and its fields as
    (field, value shown, its error)."""

    rule: rule_table.Rule
    on: bool
    fields: list[tuple[rule_table.Field, str, str]]


@dataclass(frozen=True)
class ThresholdsView:
    rows: list[RuleRow]
    shared: list[tuple[rule_table.Field, str, str]]
    summary: str  # what alerts now, in a line
    set_here: bool  # False: the defaults
    window_minutes: int = rule_table.WINDOW_MINUTES


def thresholds_view(
    kept: str | None, typed: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> ThresholdsView:
    """A monitor's thresholds form from the table of rules (`RULES`): its kept text, or
    what was typed (with each field's error) when the form was refused."""
    found, _ = rule_table.parse(kept or "")
    current = found or rule_table.Thresholds()
    setting = rule_table.setting_of(current)
    errors = errors or {}
    on: dict[str, bool] = dict(setting.on)
    values: dict[str, str] = dict(setting.values)
    if typed is not None:
        on = {r.key: bool(typed.get(f"on_{r.key}")) for r in rule_table.RULES}
        values.update({k: v[:40] for k, v in typed.items()})

    def shown_field(f: rule_table.Field) -> tuple[rule_table.Field, str, str]:
        return f, values.get(f.key, str(f.default)), errors.get(f.key, "")

    rows = [RuleRow(r, on[r.key], [shown_field(f) for f in r.fields]) for r in rule_table.RULES]
    shared = [shown_field(f) for f in rule_table.SHARED]
    return ThresholdsView(rows, shared, rule_table.summary(current), bool(kept))


@dataclass(frozen=True)
class Routing:
    """Where a monitor's changes go and its repository, each with where it came from."""

    changes_channel: str  # as the form shows it ("" : the alert channel)
    repository: str
    channel_source: str
    repository_source: str
    errors: dict[str, str] = field(default_factory=dict)


def _routing(
    service: Service, m: MonitorView, typed: dict[str, str] | None, errors: dict[str, str]
) -> Routing:
    settings = service.settings

    def source(value: str | None, env: str | None, name: str, none: str) -> str:
        if not value:
            return none
        if env and value == env:
            return f"from the environment ({name})"
        return "set here"

    channel_source = source(
        m.changes_channel,
        settings.slack_changes_channel,
        "SLACK_CHANGES_CHANNEL",
        f"the alert channel, {m.slack_channel}",
    )
    repository_source = source(
        m.repository, settings.monitored_app_repository, "MONITORED_APP_REPOSITORY", "none"
    )
    if typed is not None:
        return Routing(
            typed.get("changes_channel", "")[:100],
            typed.get("repository", "")[:200],
            channel_source,
            repository_source,
            errors,
        )
    return Routing(m.changes_channel or "", m.repository or "", channel_source, repository_source)


@dataclass(frozen=True)
class Watch:
    """One monitor of an app as its page shows it: its settings and its incidents."""

    monitor: MonitorView
    form: MonitorForm
    next_check_at: datetime | None
    team: str | None
    incidents: list[Incident] = field(default_factory=list)  # open ones
    snooze: Snooze | None = None
    polled_every: str = ""  # within the rate budget, when stretched ("" when not)
    routing: Routing | None = None
    thresholds: ThresholdsView | None = None


@dataclass(frozen=True)
class AppView(_Base):
    """One app's page, as `app.html` reads it."""

    app: str
    watches: list[Watch]
    snapshot: AppSnapshot | None
    health: str | None
    dynos: str
    deploy: Release | None
    timeline: Markup  # for a phone's width
    timeline_wide: Markup  # the same at a desktop's full width (CSS shows one of them)
    alerts: list[Alert]  # newest first, at most `HISTORY_SHOWN`
    alerts_in_week: int
    drain_last: datetime | None
    drain_lines: int
    failed_slot: str
    heroku_url: str
    default_mention: str = "here"
    default_thresholds: str = DEFAULT_THRESHOLDS
    default_resolve_after: int = 10  # RESOLVE_AFTER_MINUTES
    budget_stretched: bool = False
    certificates: Certificates | None = None  # None: not read yet


def _fmt(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "—"
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if moment <= now:
        return f"{stamp} ({messages.ago(moment, now)})"
    seconds = int((moment - now).total_seconds())
    return (
        f"{stamp} (in {seconds // 60} min {seconds % 60} s)"
        if seconds >= 60
        else (f"{stamp} (in {seconds} s)")
    )


def incident_what(incident: Incident, now: datetime) -> str:
    """What an incident is, in a few words: "Dyno crash · web.1", "Crash loop · web.1 ·
    5 crashes", "Monitoring trouble" (the timeline's names for its kinds)."""
    title = timeline_looks.incident_title(incident, TimeScale.window(now))
    parts = [title.split(": ", 1)[0]]
    if incident.dynos:
        parts.append(", ".join(incident.down or incident.dynos))
    if incident.crashes > 1:
        parts.append(f"{incident.crashes} crashes")
    return " · ".join(parts)


def _short_ago(moment: datetime | None, now: datetime) -> str:
    """ "40 s ago", "12 min ago", "3 h ago", "2 d ago"; "never" for None."""
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _every(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def dynos_summary(snapshot: AppSnapshot | None) -> str:
    """ "web 2/2 · worker 1/1": per process type, its dynos running of all; web first."""
    if snapshot is None:
        return "—"
    counts: dict[str, list[int]] = {}
    for dyno in snapshot.dynos:
        tally = counts.setdefault(dyno.type or dyno.name.split(".")[0], [0, 0])
        tally[0] += dyno.state in RUNNING
        tally[1] += 1
    if not counts:
        return "no dynos"
    order = sorted(counts, key=lambda kind: (kind != "web", kind))
    return " · ".join(f"{kind} {counts[kind][0]}/{counts[kind][1]}" for kind in order)


def _row_key(row: AppRow) -> tuple[bool, bool, float, str]:
    """Apps with an open incident first (not yet acknowledged before acknowledged, the
    newest first), then every other app by name."""
    if not row.incidents:
        return (True, True, 0.0, row.app_name)
    acked = all(i.acknowledged_by for i in row.incidents)
    newest = max(i.opened_at for i in row.incidents)
    return (False, acked, -newest.timestamp(), row.app_name)


def _edit_form(service: Service, monitor: MonitorView | AppRow | None) -> MonitorForm:
    settings = service.settings
    form = MonitorForm(formdata=None)
    if monitor is None:
        form.app_name.data = settings.monitored_app_name or ""
        form.slack_channel.data = settings.default_channel
        form.check_interval.data = str(settings.check_interval_minutes)
    else:
        form.monitor_id.data = str(
            monitor.id if isinstance(monitor, MonitorView) else monitor.monitor_id
        )
        form.app_name.data = monitor.app_name
        form.slack_channel.data = monitor.slack_channel
        form.check_interval.data = str(monitor.check_interval)
    return form


def _team_form(service: Service) -> TeamForm:
    form = TeamForm(formdata=None)
    form.slack_channel.data = service.settings.default_channel
    form.check_interval.data = str(service.settings.check_interval_minutes)
    return form


def overview(
    service: Service,
    chosen: Filter,
    failed: MonitorForm | TeamForm | None,
    failed_slot: str,
    remote_addr: str | None,
) -> Page:
    """The overview at `chosen`'s filter and page, with `failed` (a form that did not
    validate) in its `failed_slot`, as the visitor at `remote_addr` sees it. A fixed number
    of statements, whatever the number of apps."""
    settings, scheduler = service.settings, service.scheduler
    now = service.clock()
    store = Overview(service.db)
    every = store.rows(now)  # by id: the PRD's form edits the first
    first = every[0] if every else None
    ordered = sorted(every, key=_row_key)
    matched = [r for r in ordered if chosen.matches(r)]
    pages = max(1, math.ceil(len(matched) / PAGE_SIZE))
    chosen = Filter(chosen.q, chosen.team, min(chosen.page, pages))
    shown = matched[(chosen.page - 1) * PAGE_SIZE : chosen.page * PAGE_SIZE]
    kept = store.snapshots_of([r.monitor_id for r in shown])
    rows = []
    for r in shown:
        snapshot = kept.get(r.monitor_id)
        rows.append(
            Row(
                r,
                snapshot.health() if snapshot else None,
                dynos_summary(snapshot),
                snapshot.current_release if snapshot else None,
            )
        )
    troubles = [Trouble(r, i, incident_what(i, now)) for r in ordered for i in r.incidents]
    if isinstance(failed, MonitorForm) and failed_slot == "config":
        config_form = failed
    else:
        config_form = _edit_form(service, first)
        config_form.monitor_id.data = ""  # the PRD form edits the first monitor
    if isinstance(failed, MonitorForm) and failed_slot == "new":
        new_form = failed
    else:
        new_form = MonitorForm(formdata=None)
        new_form.slack_channel.data = settings.default_channel
        new_form.check_interval.data = str(settings.check_interval_minutes)
    return Page(
        now=now,
        action=ActionForm(),
        read_only=read_only_reason(settings, remote_addr),
        scheduler_running=scheduler.running,
        rows=rows,
        total=len(every),
        matched=len(matched),
        filter=chosen,
        pages=pages,
        troubles=troubles[:TROUBLES_SHOWN],
        troubled_apps=sum(1 for r in every if r.incidents),
        more_troubles=max(0, len(troubles) - TROUBLES_SHOWN),
        first=first,
        config_form=config_form,
        new_form=new_form,
        failed_slot=failed_slot,
        alerts=service.outbox.recent(limit=RECENT_ALERTS),
        undelivered=service.outbox.count(FAILED),
        rate_limit=service.heroku.rate_limit_remaining,
        budget=scheduler.budget,
        rate_share=settings.rate_share,
        throttle=service.checker.throttle_note(now),
        demo=service.simulator is not None,
        demo_buttons=DEMO_BUTTONS if service.simulator is not None else (),
        teams=service.teams.all(),
        team_form=failed if isinstance(failed, TeamForm) else _team_form(service),
        polling=_polling(service),
        polled_every={
            minutes: _every(scheduler.interval_seconds(minutes))
            for minutes in sorted({r.check_interval for r in every if not r.paused})
        }
        if scheduler.budget.stretched
        else {},
    )


def app_page(
    service: Service,
    app: str,
    failed: MonitorForm | None,
    failed_slot: str,
    remote_addr: str | None,
    refused: Refused | None = None,
) -> AppView | None:
    """`app`'s page (None when no monitor watches it), with `failed` (an edit form that did
    not validate) in its `failed_slot` (the monitor's id), and `refused` (a routing or
    thresholds form that did not validate: what was typed and each field's error)."""
    settings, scheduler = service.settings, service.scheduler
    now = service.clock()
    week = now - timedelta(days=7)
    found = Overview(service.db).app(app, week, now)
    if found is None:
        return None
    teams = (
        {t.id: t.team for t in service.teams.all()}
        if any(m.team_watch_id is not None for m in found.monitors)
        else {}
    )
    watches = []
    for m in found.monitors:
        form = failed if failed is not None and failed_slot == str(m.id) else _edit_form(service, m)
        stretched = scheduler.budget.stretched and not m.paused
        refusal = refused if refused is not None and refused.monitor_id == m.id else None
        typed_routing = refusal.typed if refusal and refusal.form == "routing" else None
        typed_rules = refusal.typed if refusal and refusal.form == "thresholds" else None
        errors = refusal.errors if refusal else {}
        watches.append(
            Watch(
                m,
                form,
                scheduler.next_run(m),
                teams.get(m.team_watch_id) if m.team_watch_id is not None else None,
                incidents=[i for i in found.incidents.get(m.id, []) if i.is_open],
                snooze=found.snoozes.get(m.id),
                polled_every=(
                    _every(scheduler.interval_seconds(m.check_interval)) if stretched else ""
                ),
                routing=_routing(service, m, typed_routing, errors if typed_routing else {}),
                thresholds=thresholds_view(
                    m.log_thresholds, typed_rules, errors if typed_rules is not None else None
                ),
            )
        )
    seen = [m.snapshot for m in found.monitors if m.snapshot is not None]
    snapshot = max(seen, key=lambda s: s.taken_at) if seen else None
    # Each monitor of the app keeps its own copy of an incident: drawn once.
    drawn: dict[str, Incident] = {}
    for mine in found.incidents.values():
        for incident in mine:
            drawn.setdefault(incident.id, incident)
    markers = [Marker.from_alert(a) for a in reversed(found.alerts)]
    ordered = sorted(drawn.values(), key=lambda i: i.opened_at)
    drain_last, drain_lines = service.checker.log_counts.drain_state(app, now)
    return AppView(
        now=now,
        action=ActionForm(),
        read_only=read_only_reason(settings, remote_addr),
        scheduler_running=scheduler.running,
        app=app,
        watches=watches,
        snapshot=snapshot,
        health=snapshot.health() if snapshot else None,
        dynos=dynos_summary(snapshot),
        deploy=snapshot.current_release if snapshot else None,
        timeline=render_timeline(app, ordered, markers, now),
        timeline_wide=render_timeline(app, ordered, markers, now, width=WIDE),
        alerts=found.alerts[:HISTORY_SHOWN],
        alerts_in_week=len(found.alerts),
        drain_last=drain_last,
        drain_lines=drain_lines,
        failed_slot=failed_slot,
        heroku_url=HEROKU_DASHBOARD + app,
        default_mention=settings.alert_mention,
        default_resolve_after=settings.resolve_after_minutes,
        budget_stretched=scheduler.budget.stretched,
        certificates=_certificates(found.certificates, now),
    )
