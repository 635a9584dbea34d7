"""What the dashboard shows, built for its template: the page's values (`Page`), each
monitor's card (its open incidents, snooze, timeline, log drain) and the forms, pre-filled."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from markupsafe import Markup

from heroku_monitor.core.budget import Budget
from heroku_monitor.core.incidents import Incident, Snooze
from heroku_monitor.core.logs.rules import Thresholds
from heroku_monitor.render import messages
from heroku_monitor.render.timeline import Marker
from heroku_monitor.service import Service
from heroku_monitor.store.models import Alert
from heroku_monitor.store.monitors import MonitorView
from heroku_monitor.store.outbox import FAILED
from heroku_monitor.store.teams import TeamView
from heroku_monitor.web.auth import read_only_reason
from heroku_monitor.web.forms import ActionForm, MonitorForm, TeamForm
from heroku_monitor.web.timeline import render_timeline

# SPEC section 12's log-alert thresholds, as a monitor's card writes them.
DEFAULT_THRESHOLDS = Thresholds().text


@dataclass(frozen=True)
class Card:
    """A monitor as the page shows it."""

    monitor: MonitorView
    next_check_at: datetime | None
    health: str | None
    form: MonitorForm
    incidents: list[Incident] = field(default_factory=list)  # open ones
    snooze: Snooze | None = None  # active
    timeline: Markup | None = None
    drain_last: datetime | None = None  # the log drain's last batch (None: none yet)
    drain_lines: int = 0  # lines it sent in the last minute
    team: str | None = None  # the team whose watch made it (None: a person added it)


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
class Page:
    """Everything the dashboard shows, as the template reads it."""

    now: datetime
    cards: list[Card]
    first: MonitorView | None
    config_form: MonitorForm
    new_form: MonitorForm
    failed_slot: str
    action: ActionForm
    alerts: list[Alert]
    undelivered: int
    read_only: str  # why this visitor may change nothing ("" when they may)
    scheduler_running: bool
    rate_limit: int | None
    budget: Budget
    rate_share: float
    throttle: str
    demo: bool
    polled_every_seconds: dict[int, int]
    teams: list[TeamView]
    team_form: TeamForm
    polling: Polling
    default_mention: str = "here"
    default_thresholds: str = DEFAULT_THRESHOLDS
    default_resolve_after: int = 10  # RESOLVE_AFTER_MINUTES

    def fmt(self, moment: datetime | None) -> str:
        return _fmt(moment, self.now)

    def ago(self, moment: datetime | None) -> str:
        return messages.ago(moment, self.now) if moment else "never"

    def polled_every(self, minutes: int) -> str:
        return _every(self.polled_every_seconds[minutes])


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


def _every(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _edit_form(service: Service, monitor: MonitorView | None) -> MonitorForm:
    settings = service.settings
    form = MonitorForm(formdata=None)
    if monitor is None:
        form.app_name.data = settings.monitored_app_name or ""
        form.slack_channel.data = settings.default_channel
        form.check_interval.data = str(settings.check_interval_minutes)
    else:
        form.monitor_id.data = str(monitor.id)
        form.app_name.data = monitor.app_name
        form.slack_channel.data = monitor.slack_channel
        form.check_interval.data = str(monitor.check_interval)
    return form


def _team_form(service: Service) -> TeamForm:
    form = TeamForm(formdata=None)
    form.slack_channel.data = service.settings.default_channel
    form.check_interval.data = str(service.settings.check_interval_minutes)
    return form


def page(
    service: Service,
    failed: MonitorForm | TeamForm | None,
    failed_slot: str,
    remote_addr: str | None,
) -> Page:
    """The dashboard, with `failed` (a form that did not validate) in its `failed_slot`,
    as the visitor at `remote_addr` sees it."""
    settings, scheduler, checker = service.settings, service.scheduler, service.checker
    now = service.clock()
    monitors = service.monitors.all()
    teams = service.teams.all()
    team_names = {t.id: t.team for t in teams}
    cards = []
    week = service.checker.incident_store.recent(now - timedelta(days=7))
    snoozes = service.checker.incident_store.all_snoozes()
    for m in monitors:
        form = (
            failed
            if isinstance(failed, MonitorForm) and failed_slot == str(m.id)
            else _edit_form(service, m)
        )
        health = m.snapshot.health() if m.snapshot else None
        mine = [i for i in week if i.app == m.app_name]
        markers = [
            Marker.from_alert(a) for a in service.outbox.of_app(m.app_name, now - timedelta(days=7))
        ]
        snooze = snoozes.get(m.id)
        drain_last, drain_lines = service.checker.log_counts.drain_state(m.app_name, now)
        cards.append(
            Card(
                m,
                scheduler.next_run(m),
                health,
                form,
                incidents=[i for i in mine if i.is_open],
                snooze=snooze if snooze is not None and snooze.active(now) else None,
                timeline=render_timeline(m.app_name, mine, markers, now),
                drain_last=drain_last,
                drain_lines=drain_lines,
                team=team_names.get(m.team_watch_id) if m.team_watch_id is not None else None,
            )
        )
    first = monitors[0] if monitors else None
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
        cards=cards,
        first=first,
        config_form=config_form,
        new_form=new_form,
        failed_slot=failed_slot,
        action=ActionForm(),
        alerts=service.outbox.recent(limit=25),
        undelivered=service.outbox.count(FAILED),
        read_only=read_only_reason(settings, remote_addr),
        scheduler_running=scheduler.running,
        rate_limit=service.heroku.rate_limit_remaining,
        budget=scheduler.budget,
        rate_share=settings.rate_share,
        throttle=checker.throttle_note(now),
        demo=service.simulator is not None,
        default_mention=settings.alert_mention,
        default_resolve_after=settings.resolve_after_minutes,
        polled_every_seconds={
            m.check_interval: scheduler.interval_seconds(m.check_interval) for m in monitors
        },
        teams=teams,
        team_form=failed if isinstance(failed, TeamForm) else _team_form(service),
        polling=_polling(service),
    )
