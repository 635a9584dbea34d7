"""One app's page, built for `app.html`: `app_page` is `GET /apps/{app}`, with its
timeline, alert history, dynos, incidents and each monitor's settings forms (their
thresholds, routing, certificates). `_Base` and the formatting helpers are shared with
the overview (`presenter`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from markupsafe import Markup

from heroku_monitor.core import certificates as certs
from heroku_monitor.core import thresholds as rule_table
from heroku_monitor.core.incidents import Incident, Snooze
from heroku_monitor.core.logs.rules import Thresholds
from heroku_monitor.core.snapshot import AppSnapshot, Release
from heroku_monitor.render import blocks, messages, timeline_looks
from heroku_monitor.render.timeline import WIDE, Marker
from heroku_monitor.render.timescale import TimeScale
from heroku_monitor.service import Service
from heroku_monitor.store.models import Alert
from heroku_monitor.store.monitors import MonitorView
from heroku_monitor.store.overview import AppRow, Overview
from heroku_monitor.web.auth import read_only_reason
from heroku_monitor.web.forms import ActionForm, MonitorForm
from heroku_monitor.web.timeline import render_timeline

# SPEC section 12's log-alert thresholds, as a monitor's settings write them.
DEFAULT_THRESHOLDS = Thresholds().text

HISTORY_SHOWN = 50  # an app page's alerts written out (its timeline marks more)
HEROKU_DASHBOARD = "https://dashboard.heroku.com/apps/"
RUNNING = frozenset({"up", "idle"})  # a dyno in these counts as running in "web 2/2"


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
