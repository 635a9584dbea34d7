"""The limit rules' thresholds on the app's page (SPEC §15: every rule's threshold shown,
settable per monitor, and each rule can be switched off): one small form per rule, one
input per field of its table (`core.logs.limits`), and a switch.

`POST /monitors/<id>/limits/<rule>` (`rule`: near_quota, database) with the fields by name,
`on` ("1" when the rule is on; absent: switched off) and the CSRF token: saved, then back
to the app's page saying so; a field a person got wrong gets its sentence and the page
again with a 400. `rule_rows(service, monitor_id)` is what the page shows of each rule;
its forms are the `limit_rules` macro of `templates/_limits.html` (one line on the page).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, request
from werkzeug.wrappers import Response

from heroku_monitor.core.logs.limits import (
    DatabaseThresholds,
    Field,
    MemoryThresholds,
    field_values,
    format_thresholds,
    from_form,
)
from heroku_monitor.web.context import current_service
from heroku_monitor.web.forms import ActionForm

bp = Blueprint("limits", __name__)

RULES: dict[str, tuple[str, type[MemoryThresholds] | type[DatabaseThresholds]]] = {
    "near_quota": ("📈 Memory near quota", MemoryThresholds),
    "database": ("🐘 Database near its limits", DatabaseThresholds),
}


@dataclass(frozen=True)
class RuleRow:
    """One rule as the app's page shows it: its name, whether it is on, and each field with
    its value ("" for none: the plan's limit, say)."""

    rule: str
    title: str
    on: bool
    fields: tuple[tuple[Field, str], ...]


def rule_rows(service: Any, monitor_id: int) -> list[RuleRow]:
    """Each limit rule of the monitor, as set (the defaults where it set none); [] when the
    service has no limit rules."""
    limits = getattr(service.checker, "limits", None)
    if limits is None:
        return []
    memory, database = limits.thresholds(monitor_id)
    found = {"near_quota": memory, "database": database}
    return [
        RuleRow(rule, title, found[rule].on, tuple(field_values(found[rule])))
        for rule, (title, _) in RULES.items()
    ]


@bp.app_template_global("limit_rule_rows")
def limit_rule_rows(monitor_id: int) -> list[RuleRow]:
    """`rule_rows` for the app's page (`_limits.html`)."""
    return rule_rows(current_service(), monitor_id)


@bp.post("/monitors/<int:monitor_id>/limits/<rule>")
def set_limits(monitor_id: int, rule: str) -> Response | tuple[str, int]:
    from heroku_monitor.web.dashboard import _render_app, _to_app

    service = current_service()
    limits = getattr(service.checker, "limits", None)
    if rule not in RULES or limits is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    monitor = service.monitors.get(monitor_id)
    if monitor is None:
        abort(404)
    title, kind = RULES[rule]
    on = request.form.get("on") == "1"
    form = {k: str(v) for k, v in request.form.items()}
    parsed: Any = from_form(kind, form, on=on)
    if parsed.thresholds is None:
        for sentence in parsed.errors.values():
            flash(sentence, "error")
        return _render_app(monitor.app_name, status=400)
    limits.settings.set(monitor_id, rule, format_thresholds(parsed.thresholds))
    limits.forget_settings(monitor_id)
    if not parsed.thresholds.on:
        flash(f"{title}: switched off for {monitor.app_name}.", "ok")
    else:
        shown = ", ".join(
            f"{f.label.removeprefix('The ').lower()} {value or 'the plan’s'}"
            for f, value in field_values(parsed.thresholds)
        )
        flash(f"{title} for {monitor.app_name}: {shown}.", "ok")
    return _to_app(monitor.app_name)
