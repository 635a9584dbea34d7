"""The dashboard's forms (Flask-WTF: fields, validation and the CSRF token).

The rules themselves live in `validation`, shared with the environment's checks.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField, ValidationError
from wtforms.validators import InputRequired

from heroku_monitor.core import builds, validation
from heroku_monitor.core import thresholds as rule_table
from heroku_monitor.render.mentions import mention_markup


def _rule(
    check: Callable[[str], str | None], normal: Callable[[str], str] = str.strip
) -> Callable[[FlaskForm, Field], None]:
    def validator(form: FlaskForm, field: Field) -> None:
        field.data = normal(field.data or "")
        problem = check(field.data)
        if problem:
            raise ValidationError(problem)

    return validator


def _interval(value: str) -> str | None:
    return validation.parse_interval(value)[1]


class _WatchForm(FlaskForm):
    """Where a watch's alerts go and how often it is checked (a monitor's, a team's)."""

    slack_channel = StringField(
        "Slack Channel",
        validators=[
            InputRequired(f"Enter a channel, like {validation.DEFAULT_CHANNEL}."),
            _rule(validation.channel_error, validation.normal_channel),
        ],
    )
    check_interval = StringField(
        "Check Interval (minutes)",
        validators=[InputRequired("Enter a number of minutes from 1 to 60."), _rule(_interval)],
    )

    @property
    def interval(self) -> int:
        minutes, _ = validation.parse_interval(self.check_interval.data or "")
        assert minutes is not None, "only read after validation"
        return minutes


class MonitorForm(_WatchForm):
    """The PRD's form: App Name, Slack Channel, Check Interval (and which monitor)."""

    monitor_id = HiddenField()
    app_name = StringField(
        "App Name",
        validators=[
            InputRequired("Enter the Heroku app's name."),
            _rule(validation.app_name_error),
        ],
    )


class TeamForm(_WatchForm):
    """Watch every app of a Heroku team: the team, and the channel and interval its apps'
    monitors share."""

    team = StringField(
        "Team",
        validators=[
            InputRequired("Enter the Heroku team's name."),
            _rule(validation.team_name_error),
        ],
    )


def _mention(value: str) -> str | None:
    if not value:
        return None  # empty: ALERT_MENTION's choice
    try:
        mention_markup(value)
    except ValueError as exc:
        return str(exc)
    return None


class MentionForm(FlaskForm):
    """Who a monitor's crash-loop escalation calls."""

    mention = StringField("Escalations call", validators=[_rule(_mention)])


def _thresholds(value: str) -> str | None:
    return rule_table.parse(value)[1] if value else None


def _thresholds_text(value: str) -> str:
    """ " 5 / 5 / 100 " kept as "5/5/100" (what does not parse stays, for its message)."""
    thresholds, _ = rule_table.parse(value) if value.strip() else (None, None)
    return rule_table.text_of(thresholds) if thresholds is not None else value.strip()


class LogThresholdsForm(FlaskForm):
    """A monitor's log-alert thresholds: lines/percent/requests, empty for the defaults."""

    thresholds = StringField("Log alerts at", validators=[_rule(_thresholds, _thresholds_text)])


def _changes_channel(value: str) -> str | None:
    return validation.channel_error(value) if value else None  # empty: the alert channel


def _normal_channel(value: str) -> str:
    text = value.strip()
    return validation.normal_channel(text) if text else ""


def _repository(value: str) -> str | None:
    return builds.repository_error(value) if value else None  # empty: no commit links


def _normal_repository(value: str) -> str:
    return builds.normal_repository(value) if value.strip() else ""


class ChangesForm(FlaskForm):
    """Where a monitor's changes go and its GitHub repository (SPEC §14)."""

    changes_channel = StringField(
        "Changes channel", validators=[_rule(_changes_channel, _normal_channel)]
    )
    repository = StringField("Repository", validators=[_rule(_repository, _normal_repository)])


def _resolve_after(value: str) -> str | None:
    return validation.parse_resolve_after(value)[1]


class ResolveAfterForm(FlaskForm):
    """How long a monitor's crash or down incidents stay up before they are resolved."""

    resolve_after = StringField(
        "Resolve after (minutes)",
        validators=[
            InputRequired("Enter a number of minutes from 0 to 60."),
            _rule(_resolve_after),
        ],
    )


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""
