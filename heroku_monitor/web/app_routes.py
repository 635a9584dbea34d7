"""The app page's routes, on the dashboard's blueprint: `GET /apps/{app}` and the
buttons and small forms of each monitor on it (its mention, log thresholds, changes
routing, resolve-after; end snooze, acknowledge, snooze, check now). `dashboard` imports
this module at its end, so these routes register with its others.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import abort, flash, request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import Field

from heroku_monitor.core import thresholds as rule_table
from heroku_monitor.store import changes
from heroku_monitor.web.context import current_service
from heroku_monitor.web.dashboard import _acted_on, _is_id, _render_app, _saved, _to_app, bp
from heroku_monitor.web.forms import (
    ChangesForm,
    LogThresholdsForm,
    MentionForm,
    ResolveAfterForm,
)
from heroku_monitor.web.presenter import DEFAULT_THRESHOLDS, Refused


@bp.get("/apps/<app>")
def app_page(app: str) -> tuple[str, int]:
    return _render_app(app)


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
