"""The dashboard: see what is watched, change it, and (in demo mode) cause events.

Every change is saved, then applied at once through the scheduler (rescheduled, and a
check runs right away), then answered with a 303 back to `/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from heroku_monitor import messages
from heroku_monitor.runtime import Runtime
from heroku_monitor.store import MonitorView
from heroku_monitor.web.auth import read_only
from heroku_monitor.web.forms import ActionForm, MonitorForm

DEFAULT_CHANNEL = "#alerts"


@dataclass(frozen=True)
class Card:
    """A monitor as the page shows it."""

    monitor: MonitorView
    next_check_at: datetime | None
    health: str | None
    form: MonitorForm


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


def init_app(app: Flask, runtime: Runtime) -> None:
    bp = Blueprint("dashboard", __name__)
    store, scheduler, settings = runtime.store, runtime.scheduler, runtime.settings

    def edit_form(monitor: MonitorView | None) -> MonitorForm:
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

    def page(
        *, failed: MonitorForm | None = None, failed_slot: str = "", status: int = 200
    ) -> tuple[str, int]:
        now = runtime.engine.clock()
        monitors = store.monitors()
        cards = []
        for m in monitors:
            form = failed if failed is not None and failed_slot == str(m.id) else edit_form(m)
            health = m.snapshot.health() if m.snapshot else None
            cards.append(Card(m, scheduler.next_run(m.id), health, form))
        first = monitors[0] if monitors else None
        config_form = failed if failed is not None and failed_slot == "config" else edit_form(first)
        if first is not None and failed_slot != "config":
            config_form.monitor_id.data = ""  # the PRD form edits the first monitor
        new_form = (
            failed if failed is not None and failed_slot == "new" else MonitorForm(formdata=None)
        )
        if failed_slot != "new":
            new_form.slack_channel.data = settings.slack_channel or DEFAULT_CHANNEL
            new_form.check_interval.data = str(settings.check_interval_minutes)
        html = render_template(
            "dashboard.html",
            cards=cards,
            first=first,
            config_form=config_form,
            new_form=new_form,
            failed_slot=failed_slot,
            action=ActionForm(),
            alerts=store.alerts(limit=25),
            undelivered=store.count_alerts("failed"),
            now=now,
            fmt=lambda moment: _fmt(moment, now),
            ago=lambda moment: messages.ago(moment, now) if moment else "never",
            settings=settings,
            read_only=read_only(settings),
            scheduler_running=scheduler.running,
            rate_limit=runtime.heroku.rate_limit_remaining,
            budget=scheduler.budget,
            rate_share=settings.rate_share,
            polled_every=lambda minutes: _every(scheduler.interval_seconds(minutes)),
            throttle=runtime.engine.throttle_note()
            if runtime.engine.throttled_until and runtime.engine.throttled_until > now
            else "",
            demo=runtime.simulator is not None,
        )
        return html, status

    def saved(monitor_id: int, what: str) -> Response:
        scheduler.sync(monitor_id)
        flash(what, "ok")
        return redirect(url_for("dashboard.index"), code=303)

    @bp.get("/")
    def index() -> tuple[str, int]:
        return page()

    @bp.post("/update-config")
    def update_config() -> Response | tuple[str, int]:
        """The PRD's form: edit `monitor_id`, or without it the first monitor (or create it)."""
        form = MonitorForm()
        target = form.monitor_id.data or ""
        if not form.validate_on_submit():
            return page(failed=form, failed_slot=target or "config", status=400)
        now = runtime.engine.clock()
        app_name, channel, interval = form.app_name.data, form.slack_channel.data, form.interval
        if target:
            if not _is_id(target) or not store.update_monitor(
                int(target), app_name=app_name, channel=channel, interval=interval, now=now
            ):
                abort(404)
            monitor_id = int(target)
        else:
            monitors = store.monitors()
            if monitors:
                monitor_id = monitors[0].id
                store.update_monitor(
                    monitor_id, app_name=app_name, channel=channel, interval=interval, now=now
                )
            else:
                monitor_id = store.add_monitor(app_name, channel, interval, now)
        return saved(
            monitor_id,
            f"Saved. Watching {app_name} every {interval} min, alerts to {channel}; "
            "a check is running now.",
        )

    @bp.post("/monitors")
    def add_monitor() -> Response | tuple[str, int]:
        form = MonitorForm()
        if not form.validate_on_submit():
            return page(failed=form, failed_slot="new", status=400)
        now = runtime.engine.clock()
        monitor_id = store.add_monitor(
            form.app_name.data, form.slack_channel.data, form.interval, now
        )
        return saved(
            monitor_id,
            f"Added {form.app_name.data}: checked every {form.interval} min, alerts to "
            f"{form.slack_channel.data}; a check is running now.",
        )

    def acted_on(monitor_id: int) -> MonitorView:
        if not ActionForm().validate_on_submit():
            abort(400, "The form expired; reload the page and try again.")
        monitor = store.monitor(monitor_id) if _is_id(str(monitor_id)) else None
        if monitor is None:
            abort(404)
        return monitor

    @bp.post("/monitors/<int:monitor_id>/pause")
    def pause(monitor_id: int) -> Response:
        monitor = acted_on(monitor_id)
        store.set_paused(monitor_id, True, runtime.engine.clock())
        return saved(monitor_id, f"Paused {monitor.app_name}: no checks until you resume it.")

    @bp.post("/monitors/<int:monitor_id>/resume")
    def resume(monitor_id: int) -> Response:
        monitor = acted_on(monitor_id)
        store.set_paused(monitor_id, False, runtime.engine.clock())
        return saved(monitor_id, f"Resumed {monitor.app_name}; a check is running now.")

    @bp.post("/monitors/<int:monitor_id>/delete")
    def delete(monitor_id: int) -> Response:
        monitor = acted_on(monitor_id)
        store.delete_monitor(monitor_id)
        return saved(monitor_id, f"Removed {monitor.app_name}. Its past alerts stay in the log.")

    @bp.post("/monitors/<int:monitor_id>/check")
    def check_now(monitor_id: int) -> Response:
        monitor = acted_on(monitor_id)
        scheduler.run_now(monitor_id, force=True)
        flash(f"Checking {monitor.app_name} now.", "ok")
        return redirect(url_for("dashboard.index"), code=303)

    @bp.post("/alerts/retry")
    def retry_alerts() -> Response:
        if not ActionForm().validate_on_submit():
            abort(400, "The form expired; reload the page and try again.")
        count = store.requeue_failed(runtime.engine.clock())
        scheduler.deliver_soon()
        flash(f"Sending {count} undelivered alert{'s' if count != 1 else ''} again.", "ok")
        return redirect(url_for("dashboard.index"), code=303)

    app.register_blueprint(bp)
