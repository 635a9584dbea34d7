"""The dashboard: see what is watched, change it, and (in demo mode) cause events.

Every change is saved, then applied at once through the scheduler (rescheduled, and a
check runs right away), then answered with a 303 back to `/`. A new team watch asks for
a round at once: the leading process (this one or another) reads the team's apps and
makes their monitors (SPEC §13).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms import Field

from heroku_monitor.core.budget import Budget
from heroku_monitor.core.incidents import Incident, Snooze
from heroku_monitor.core.logs import Thresholds
from heroku_monitor.render import messages
from heroku_monitor.render.timeline import Marker, timeline_svg
from heroku_monitor.service import Service
from heroku_monitor.store.database import Alert
from heroku_monitor.store.monitors import MonitorView
from heroku_monitor.store.outbox import FAILED
from heroku_monitor.store.teams import TeamView
from heroku_monitor.web.auth import read_only_reason
from heroku_monitor.web.context import current_service
from heroku_monitor.web.forms import (
    ActionForm,
    LogThresholdsForm,
    MentionForm,
    MonitorForm,
    TeamForm,
)

T = TypeVar("T")
# SPEC section 12's log-alert thresholds, as a monitor's card writes them.
DEFAULT_THRESHOLDS = Thresholds().text

DEFAULT_CHANNEL = "#alerts"

bp = Blueprint("dashboard", __name__)


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


def _is_id(text: str) -> bool:
    """A monitor id as a form or URL gives it: ASCII digits, within the database's range."""
    return text.isascii() and text.isdigit() and 0 < int(text) < 2**31


def _every(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _edit_form(service: Service, monitor: MonitorView | None) -> MonitorForm:
    settings = service.settings
    form = MonitorForm(formdata=None)
    if monitor is None:
        form.app_name.data = settings.monitored_app_name or ""
        form.slack_channel.data = settings.slack_channel or DEFAULT_CHANNEL
        form.check_interval.data = str(settings.check_interval_minutes)
    else:
        form.monitor_id.data = str(monitor.id)
        form.app_name.data = monitor.app_name
        form.slack_channel.data = monitor.slack_channel
        form.check_interval.data = str(monitor.check_interval)
    return form


def _team_form(service: Service) -> TeamForm:
    form = TeamForm(formdata=None)
    form.slack_channel.data = service.settings.slack_channel or DEFAULT_CHANNEL
    form.check_interval.data = str(service.settings.check_interval_minutes)
    return form


def _page(service: Service, failed: MonitorForm | TeamForm | None, failed_slot: str) -> Page:
    """The dashboard, with `failed` (a form that did not validate) in its `failed_slot`."""
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
                timeline=timeline_svg(m.app_name, mine, markers, now),
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
        new_form.slack_channel.data = settings.slack_channel or DEFAULT_CHANNEL
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
        read_only=read_only_reason(settings, request.remote_addr),
        scheduler_running=scheduler.running,
        rate_limit=service.heroku.rate_limit_remaining,
        budget=scheduler.budget,
        rate_share=settings.rate_share,
        throttle=checker.throttle_note(now),
        demo=service.simulator is not None,
        default_mention=settings.alert_mention,
        polled_every_seconds={
            m.check_interval: scheduler.interval_seconds(m.check_interval) for m in monitors
        },
        teams=teams,
        team_form=failed if isinstance(failed, TeamForm) else _team_form(service),
        polling=_polling(service),
    )


def _render(
    *, failed: MonitorForm | TeamForm | None = None, failed_slot: str = "", status: int = 200
) -> tuple[str, int]:
    page = _page(current_service(), failed, failed_slot)
    return render_template("dashboard.html", page=page), status


def _saved(monitor_id: int, what: str) -> Response:
    current_service().scheduler.sync(monitor_id)
    flash(what, "ok")
    return redirect(url_for("dashboard.index"), code=303)


@bp.get("/")
def index() -> tuple[str, int]:
    return _render()


@bp.post("/update-config")
def update_config() -> Response | tuple[str, int]:
    """The PRD's form: edit `monitor_id`, or without it the first monitor (or create it)."""
    service = current_service()
    form = MonitorForm()
    target = form.monitor_id.data or ""
    if not form.validate_on_submit():
        return _render(failed=form, failed_slot=target or "config", status=400)
    now = service.clock()
    app_name, channel, interval = form.app_name.data, form.slack_channel.data, form.interval
    if target:
        if not _is_id(target) or not service.monitors.update(
            int(target), app_name=app_name, channel=channel, interval=interval, now=now
        ):
            abort(404)
        monitor_id = int(target)
    else:
        monitors = service.monitors.all()
        if monitors:
            monitor_id = monitors[0].id
            service.monitors.update(
                monitor_id, app_name=app_name, channel=channel, interval=interval, now=now
            )
        else:
            monitor_id = service.monitors.add(app_name, channel, interval, now)
    return _saved(
        monitor_id,
        f"Saved. Watching {app_name} every {interval} min, alerts to {channel}; "
        "a check is running now.",
    )


@bp.post("/monitors")
def add_monitor() -> Response | tuple[str, int]:
    service = current_service()
    form = MonitorForm()
    if not form.validate_on_submit():
        return _render(failed=form, failed_slot="new", status=400)
    monitor_id = service.monitors.add(
        form.app_name.data, form.slack_channel.data, form.interval, service.clock()
    )
    return _saved(
        monitor_id,
        f"Added {form.app_name.data}: checked every {form.interval} min, alerts to "
        f"{form.slack_channel.data}; a check is running now.",
    )


def _acted_on(monitor_id: int) -> MonitorView:
    return _found(current_service().monitors.get, monitor_id)


def _found(get: Callable[[int], T | None], item_id: int) -> T:
    """What a button acts on (a monitor, a team watch), after its form's CSRF check: 400
    when the form expired, 404 when there is no such thing."""
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    found = get(item_id) if _is_id(str(item_id)) else None
    if found is None:
        abort(404)
    return found


@bp.post("/monitors/<int:monitor_id>/pause")
def pause(monitor_id: int) -> Response:
    monitor = _acted_on(monitor_id)
    current_service().monitors.set_paused(monitor_id, True, current_service().clock())
    return _saved(monitor_id, f"Paused {monitor.app_name}: no checks until you resume it.")


@bp.post("/monitors/<int:monitor_id>/resume")
def resume(monitor_id: int) -> Response:
    monitor = _acted_on(monitor_id)
    current_service().monitors.set_paused(monitor_id, False, current_service().clock())
    return _saved(monitor_id, f"Resumed {monitor.app_name}; a check is running now.")


@bp.post("/monitors/<int:monitor_id>/delete")
def delete(monitor_id: int) -> Response:
    monitor = _acted_on(monitor_id)
    current_service().monitors.delete(monitor_id)
    return _saved(monitor_id, f"Removed {monitor.app_name}. Its past alerts stay in the log.")


@bp.post("/monitors/<int:monitor_id>/mention")
def set_mention(monitor_id: int) -> Response | tuple[str, int]:
    """Who the monitor's crash-loop escalation calls: none, here, channel, a user group
    ID (S…), or empty for ALERT_MENTION's choice."""
    service = current_service()
    form = MentionForm()
    default = f"{service.settings.alert_mention} (ALERT_MENTION)"
    return _save_setting(
        monitor_id,
        form,
        form.mention,
        service.monitors.set_mention,
        lambda value: f"Escalations now call: {value or default}.",
    )


@bp.post("/monitors/<int:monitor_id>/log-thresholds")
def set_log_thresholds(monitor_id: int) -> Response | tuple[str, int]:
    """When the app's logs alert: lines/percent/requests (e.g. 5/5/100), empty for SPEC's
    defaults (`DEFAULT_THRESHOLDS`)."""
    form = LogThresholdsForm()
    return _save_setting(
        monitor_id,
        form,
        form.thresholds,
        current_service().monitors.set_log_thresholds,
        lambda value: f"Log alerts now at {value or DEFAULT_THRESHOLDS + ' (the defaults)'}.",
    )


def _save_setting(
    monitor_id: int,
    form: FlaskForm,
    entry: Field,
    save: Callable[[int, str | None, datetime], bool],
    said: Callable[[str | None], str],
) -> Response | tuple[str, int]:
    """One of a monitor's own settings from its card's small form: saved (empty: the
    default), or the page again with the field's error and a 400."""
    service = current_service()
    if not _is_id(str(monitor_id)) or service.monitors.get(monitor_id) is None:
        abort(404)
    if not form.validate_on_submit():
        for error in entry.errors:
            flash(str(error), "error")
        return _render(status=400)
    value = entry.data or None
    save(monitor_id, value, service.clock())
    flash(said(value), "ok")
    return redirect(url_for("dashboard.index"), code=303)


@bp.post("/monitors/<int:monitor_id>/end-snooze")
def end_snooze(monitor_id: int) -> Response:
    monitor = _acted_on(monitor_id)
    ended = current_service().conversations.end_snooze(monitor_id)
    said = (
        f"Snooze of {monitor.app_name} ended." if ended else f"{monitor.app_name} was not snoozed."
    )
    flash(said, "ok")
    return redirect(url_for("dashboard.index"), code=303)


@bp.post("/monitors/<int:monitor_id>/check")
def check_now(monitor_id: int) -> Response:
    monitor = _acted_on(monitor_id)
    current_service().scheduler.run_now(monitor_id, force=True)
    flash(f"Checking {monitor.app_name} now.", "ok")
    return redirect(url_for("dashboard.index"), code=303)


@bp.post("/alerts/retry")
def retry_alerts() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    service = current_service()
    count = service.outbox.requeue_failed(service.clock())
    service.scheduler.deliver_soon()
    flash(f"Sending {count} undelivered alert{'s' if count != 1 else ''} again.", "ok")
    return redirect(url_for("dashboard.index"), code=303)


@bp.post("/teams")
def add_team() -> Response | tuple[str, int]:
    """Watch every app of a Heroku team. Its apps' monitors are made by a polling round,
    which reads the team's app list: one is asked for now, of no other app (in the leading
    process; elsewhere the leader's next round, within the team's interval)."""
    service = current_service()
    form = TeamForm()
    if not form.validate_on_submit():
        return _render(failed=form, failed_slot="team", status=400)
    team, channel, interval = form.team.data, form.slack_channel.data, form.interval
    if service.teams.add(team, channel, interval, service.clock()) is None:
        form.team.errors = [f"Team {team} is watched already: see it under Teams watched."]
        return _render(failed=form, failed_slot="team", status=400)
    service.scheduler.reconcile()
    service.scheduler.poll_now([])
    flash(
        f"Watching team {team}: its apps are checked every {interval} min, alerts to "
        f"{channel}. They appear within one polling round.",
        "ok",
    )
    return redirect(url_for("dashboard.index"), code=303)


def _team_acted_on(watch_id: int) -> TeamView:
    return _found(current_service().teams.get, watch_id)


def _team_changed(what: str) -> Response:
    current_service().scheduler.reconcile()
    flash(what, "ok")
    return redirect(url_for("dashboard.index"), code=303)


@bp.post("/teams/<int:watch_id>/pause")
def pause_team(watch_id: int) -> Response:
    watch = _team_acted_on(watch_id)
    current_service().teams.set_paused(watch_id, True, current_service().clock())
    return _team_changed(f"Paused team {watch.team}: no checks of its apps until you resume it.")


@bp.post("/teams/<int:watch_id>/resume")
def resume_team(watch_id: int) -> Response:
    watch = _team_acted_on(watch_id)
    current_service().teams.set_paused(watch_id, False, current_service().clock())
    return _team_changed(
        f"Resumed team {watch.team}: its apps are checked again at their next poll."
    )


@bp.post("/teams/<int:watch_id>/delete")
def delete_team(watch_id: int) -> Response:
    watch = _team_acted_on(watch_id)
    current_service().teams.delete(watch_id)
    return _team_changed(
        f"Stopped watching team {watch.team} and its apps. Their past alerts stay in the log."
    )
