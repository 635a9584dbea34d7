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
from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from heroku_monitor.store.monitors import MonitorView
from heroku_monitor.store.overview import Overview
from heroku_monitor.store.teams import TeamView
from heroku_monitor.web import presenter
from heroku_monitor.web.context import current_service
from heroku_monitor.web.forms import (
    ActionForm,
    MonitorForm,
    TeamForm,
)
from heroku_monitor.web.presenter import Refused

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


# The app page's routes register on `bp` when their module is imported (after `bp` and
# the helpers they use exist).
from heroku_monitor.web import app_routes  # noqa: E402, F401
from heroku_monitor.web.app_routes import acknowledge as acknowledge  # noqa: E402
from heroku_monitor.web.app_routes import app_page as app_page  # noqa: E402
from heroku_monitor.web.app_routes import check_now as check_now  # noqa: E402
from heroku_monitor.web.app_routes import end_snooze as end_snooze  # noqa: E402
from heroku_monitor.web.app_routes import set_changes as set_changes  # noqa: E402
from heroku_monitor.web.app_routes import set_log_thresholds as set_log_thresholds  # noqa: E402
from heroku_monitor.web.app_routes import set_mention as set_mention  # noqa: E402
from heroku_monitor.web.app_routes import set_resolve_after as set_resolve_after  # noqa: E402
from heroku_monitor.web.app_routes import snooze as snooze  # noqa: E402
