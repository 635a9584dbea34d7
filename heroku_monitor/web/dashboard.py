"""The dashboard: see what is watched and what is wrong, change it, and (in demo mode)
cause events. `GET /` is the overview (every app, one row each, filtered by `?q=` and
`?team=`, in pages of `?page=`); `GET /apps/{app}` is one app's page, with its settings.

Every change is saved, then applied at once through the scheduler (rescheduled, and a
check runs right away), then answered with a 303: back to the app's page for a change of
one monitor, to `/` for the PRD's form and the team watches. A new team watch asks for a
round at once: the leading process (this one or another) reads the team's apps and makes
their monitors (SPEC §13).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import Field

from heroku_monitor.core import thresholds as rule_table
from heroku_monitor.store import changes
from heroku_monitor.store.monitors import MonitorView
from heroku_monitor.store.overview import Overview
from heroku_monitor.store.teams import TeamView
from heroku_monitor.web import presenter
from heroku_monitor.web.context import current_service
from heroku_monitor.web.forms import (
    ActionForm,
    ChangesForm,
    LogThresholdsForm,
    MentionForm,
    MonitorForm,
    ResolveAfterForm,
    TeamForm,
)
from heroku_monitor.web.presenter import DEFAULT_THRESHOLDS, Refused

T = TypeVar("T")

bp = Blueprint("dashboard", __name__)


def _is_id(text: str) -> bool:
    """A monitor id as a form or URL gives it: ASCII digits, within the database's range."""
    return text.isascii() and text.isdigit() and 0 < int(text) < 2**31


def _render(
    *, failed: MonitorForm | TeamForm | None = None, failed_slot: str = "", status: int = 200
) -> tuple[str, int]:
    chosen = presenter.Filter.of(request.args.to_dict())
    page = presenter.overview(current_service(), chosen, failed, failed_slot, request.remote_addr)
    return render_template("dashboard.html", page=page), status


def _render_app(
    app: str,
    *,
    failed: MonitorForm | None = None,
    failed_slot: str = "",
    status: int = 200,
    refused: Refused | None = None,
) -> tuple[str, int]:
    """`app`'s page; a page that says so, with a 404, when no monitor watches it."""
    page = presenter.app_page(
        current_service(), app, failed, failed_slot, request.remote_addr, refused
    )
    if page is None:
        message = f"No monitor watches an app named {app[:100]!r}: see the apps on the overview."
        return render_template("message.html", title="No such app", message=message), 404
    return render_template("app.html", page=page), status


def _to_app(app: str) -> Response:
    return redirect(url_for("dashboard.app_page", app=app), code=303)


def _saved(monitor_id: int, what: str, app: str | None = None) -> Response:
    """Apply a monitor's change at once, say `what`, and go back to `app`'s page (to the
    overview without one)."""
    current_service().scheduler.sync(monitor_id)
    flash(what, "ok")
    return _to_app(app) if app else redirect(url_for("dashboard.index"), code=303)


@bp.get("/")
def index() -> tuple[str, int]:
    return _render()


@bp.get("/apps/<app>")
def app_page(app: str) -> tuple[str, int]:
    return _render_app(app)


@bp.post("/update-config")
def update_config() -> Response | tuple[str, int]:
    """The PRD's form: edit `monitor_id`, or without it the first monitor (or create it)."""
    service = current_service()
    form = MonitorForm()
    target = form.monitor_id.data or ""
    if not form.validate_on_submit() or _watched_twice(form, besides=_editing(target)):
        return _refused_edit(form, target)
    now = service.clock()
    app_name, channel, interval = form.app_name.data, form.slack_channel.data, form.interval
    if target:
        if not _is_id(target) or not service.monitors.update(
            int(target), app_name=app_name, channel=channel, interval=interval, now=now
        ):
            abort(404)
        monitor_id = int(target)
    else:
        first = _first_id()
        if first is not None:
            monitor_id = first
            service.monitors.update(
                monitor_id, app_name=app_name, channel=channel, interval=interval, now=now
            )
        else:
            monitor_id = service.monitors.add(app_name, channel, interval, now)
    return _saved(
        monitor_id,
        f"Saved. Watching {app_name} every {interval} min, alerts to {channel}; "
        "a check is running now.",
        app_name if target else None,  # a monitor's own form is on its app's page
    )


def _first_id() -> int | None:
    """The first monitor's id (the one the PRD's form edits), or None when there is none."""
    return Overview(current_service().db).first_id()


def _editing(target: str) -> int | None:
    """The monitor an edit form changes: the one it names, else the first."""
    return int(target) if _is_id(target) else _first_id()


def _refused_edit(form: MonitorForm, target: str) -> tuple[str, int]:
    """The form back with its errors and a 400: on its app's page for a monitor's own
    form, on the overview for the PRD's."""
    monitor = current_service().monitors.get(int(target)) if _is_id(target) else None
    if monitor is not None:
        return _render_app(monitor.app_name, failed=form, failed_slot=target, status=400)
    return _render(failed=form, failed_slot=target or "config", status=400)


@bp.post("/monitors")
def add_monitor() -> Response | tuple[str, int]:
    service = current_service()
    form = MonitorForm()
    if not form.validate_on_submit() or _watched_twice(form, besides=None):
        return _render(failed=form, failed_slot="new", status=400)
    monitor_id = service.monitors.add(
        form.app_name.data, form.slack_channel.data, form.interval, service.clock()
    )
    return _saved(
        monitor_id,
        f"Added {form.app_name.data}: checked every {form.interval} min, alerts to "
        f"{form.slack_channel.data}; a check is running now.",
        form.app_name.data,
    )


def _watched_twice(form: MonitorForm, *, besides: int | None) -> bool:
    """Whether another monitor watches the form's app in its channel already (SPEC §14:
    one app, one alert per channel); if so the app field says which."""
    app, channel = form.app_name.data, form.slack_channel.data
    other = current_service().monitors.watcher(app, channel, besides=besides)
    if other is None:
        return False
    by = " (for a team watch)" if other.team_watch_id is not None else ""
    form.app_name.errors = [
        f"{app} is watched in {channel} already{by}: each alert would be posted twice; "
        "pick another channel or edit that monitor."
    ]
    return True


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
    return _saved(
        monitor_id, f"Paused {monitor.app_name}: no checks until you resume it.", monitor.app_name
    )


@bp.post("/monitors/<int:monitor_id>/resume")
def resume(monitor_id: int) -> Response:
    monitor = _acted_on(monitor_id)
    current_service().monitors.set_paused(monitor_id, False, current_service().clock())
    return _saved(
        monitor_id, f"Resumed {monitor.app_name}; a check is running now.", monitor.app_name
    )


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
    """Every rule's threshold, each rule on or off, from the form `RULES` makes (fields by
    their keys, `on_{rule}` for a rule on); with `use_default`, SPEC's defaults again. The
    one-line form of earlier versions (`thresholds`: lines/percent/requests[/p95]) still
    works."""
    if "thresholds" in request.form:
        form = LogThresholdsForm()
        return _save_setting(
            monitor_id,
            form,
            form.thresholds,
            current_service().monitors.set_log_thresholds,
            lambda value: f"Log alerts now at {value or DEFAULT_THRESHOLDS + ' (the defaults)'}.",
        )
    service = current_service()
    monitor = _acted_on(monitor_id)
    if request.form.get("use_default"):
        service.monitors.set_log_thresholds(monitor_id, None, service.clock())
        return _saved(
            monitor_id,
            f"Log alerts of {monitor.app_name} now at the defaults: "
            f"{rule_table.summary(rule_table.Thresholds())}.",
            monitor.app_name,
        )
    typed = {k: str(v)[:100] for k, v in request.form.items() if k != "csrf_token"}
    found, errors = rule_table.from_form(typed)
    if found is None:
        refused = Refused(monitor_id, "thresholds", typed, errors)
        return _render_app(monitor.app_name, status=400, refused=refused)
    text = rule_table.text_of(found)
    kept = None if text == rule_table.text_of(rule_table.Thresholds()) else text
    service.monitors.set_log_thresholds(monitor_id, kept, service.clock())
    return _saved(
        monitor_id,
        f"Log alerts of {monitor.app_name} now: {rule_table.summary(found)}.",
        monitor.app_name,
    )


@bp.post("/monitors/<int:monitor_id>/changes")
def set_changes(monitor_id: int) -> Response | tuple[str, int]:
    """Where the monitor's changes go (empty: its alert channel) and its GitHub repository
    (empty: none), SPEC §14: both saved, or the page again with a sentence at each wrong
    field, a 400 and nothing changed."""
    service = current_service()
    monitor = service.monitors.get(monitor_id) if _is_id(str(monitor_id)) else None
    if monitor is None:
        abort(404)
    form = ChangesForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400, "The form expired; reload the page and try again.")
        typed = {
            "changes_channel": str(request.form.get("changes_channel", "")),
            "repository": str(request.form.get("repository", "")),
        }
        errors = {
            name: str(getattr(form, name).errors[0]) for name in typed if getattr(form, name).errors
        }
        refused = Refused(monitor_id, "routing", typed, errors)
        return _render_app(monitor.app_name, status=400, refused=refused)
    channel = form.changes_channel.data or None
    repository = form.repository.data or None
    changes.set_routing(
        service.db, monitor_id, changes_channel=channel, repository=repository, now=service.clock()
    )
    where = channel or f"the alert channel, {monitor.slack_channel}"
    links = f"commits link to github.com/{repository}" if repository else "no commit links"
    return _saved(
        monitor_id, f"Changes of {monitor.app_name} now go to {where}; {links}.", monitor.app_name
    )


@bp.post("/monitors/<int:monitor_id>/resolve-after")
def set_resolve_after(monitor_id: int) -> Response | tuple[str, int]:
    """How long every dyno of the monitor's crash or down incidents must stay up before
    the incident is resolved: a whole number of minutes from 0 to 60; or, with the form's
    `use_default` button, RESOLVE_AFTER_MINUTES again (the monitor's own is forgotten)."""
    service = current_service()
    monitors = service.monitors
    if request.form.get("use_default"):
        monitor = _acted_on(monitor_id)
        monitors.set_resolve_after(monitor_id, None, service.clock())
        minutes = service.settings.resolve_after_minutes
        flash(
            f"Dyno incidents of {monitor.app_name} now resolve after the default, {minutes} min "
            "(RESOLVE_AFTER_MINUTES), with every dyno up.",
            "ok",
        )
        return _to_app(monitor.app_name)
    form = ResolveAfterForm()
    return _save_setting(
        monitor_id,
        form,
        form.resolve_after,
        lambda mid, value, now: monitors.set_resolve_after(mid, int(value or 0), now),
        lambda value: f"Dyno incidents now resolve after {value} min with every dyno up.",
    )


def _save_setting(
    monitor_id: int,
    form: FlaskForm,
    entry: Field,
    save: Callable[[int, str | None, datetime], bool],
    said: Callable[[str | None], str],
) -> Response | tuple[str, int]:
    """One of a monitor's own settings from its small form on the app's page: saved
    (empty: the default), then back to that page; or the page again with the field's
    error and a 400."""
    service = current_service()
    monitor = service.monitors.get(monitor_id) if _is_id(str(monitor_id)) else None
    if monitor is None:
        abort(404)
    if not form.validate_on_submit():
        for error in entry.errors:
            flash(str(error), "error")
        return _render_app(monitor.app_name, status=400)
    value = entry.data or None
    save(monitor_id, value, service.clock())
    flash(said(value), "ok")
    return _to_app(monitor.app_name)


@bp.post("/monitors/<int:monitor_id>/end-snooze")
def end_snooze(monitor_id: int) -> Response:
    monitor = _acted_on(monitor_id)
    ended = current_service().conversations.end_snooze(monitor_id)
    said = (
        f"Snooze of {monitor.app_name} ended." if ended else f"{monitor.app_name} was not snoozed."
    )
    flash(said, "ok")
    return _to_app(monitor.app_name)


@bp.post("/monitors/<int:monitor_id>/acknowledge")
def acknowledge(monitor_id: int) -> Response:
    """Acknowledge one of the monitor's open incidents (`incident_id`), as Slack's button
    does: its message says who, and its thread gets a reply."""
    monitor = _acted_on(monitor_id)
    incident_id = str(request.form.get("incident_id", ""))[:400]
    if current_service().conversations.acknowledge(monitor_id, incident_id, _who()):
        flash(f"Acknowledged the incident of {monitor.app_name}; Slack says so too.", "ok")
    else:
        flash("That incident is over or acknowledged already: nothing changed.", "error")
    return _to_app(monitor.app_name)


@bp.post("/monitors/<int:monitor_id>/snooze")
def snooze(monitor_id: int) -> Response:
    """Snooze the monitor's app for an hour, as Slack's Snooze 1 h button does."""
    monitor = _acted_on(monitor_id)
    until = current_service().conversations.snooze(monitor_id, monitor.app_name, _who())
    if until is None:
        flash(f"{monitor.app_name} could not be snoozed: its monitor changed meanwhile.", "error")
    else:
        flash(
            f"Snoozed {monitor.app_name} until {until:%H:%M} UTC: no top-level alerts for it "
            "until then.",
            "ok",
        )
    return _to_app(monitor.app_name)


def _who() -> str:
    """Who pressed a dashboard button, as Slack's messages name them: the user name the
    browser signed in with (any name: the password is the check), else "the dashboard"."""
    given = request.authorization.username if request.authorization else ""
    name = " ".join(str(given or "").split())[:40]
    return f"{name} (on the dashboard)" if name else "someone on the dashboard"


@bp.post("/monitors/<int:monitor_id>/check")
def check_now(monitor_id: int) -> Response:
    monitor = _acted_on(monitor_id)
    current_service().scheduler.run_now(monitor_id, force=True)
    flash(f"Checking {monitor.app_name} now.", "ok")
    return _to_app(monitor.app_name)


@bp.post("/alerts/retry")
def retry_alerts() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    service = current_service()
    count = service.delivery.requeue_failed(by_person=True)
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
