"""The dashboard's forms (Flask-WTF: fields, validation and the CSRF token).

The rules themselves live in `validation`, shared with the environment's checks.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField, ValidationError
from wtforms.validators import InputRequired

from heroku_monitor import validation
from heroku_monitor.incidents import mention_markup
from heroku_monitor.logs import parse_thresholds


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


def _channel_field() -> StringField:
    return StringField(
        "Slack Channel",
        validators=[
            InputRequired("Enter a channel, like #alerts."),
            _rule(validation.channel_error, validation.normal_channel),
        ],
    )


def _interval_field() -> StringField:
    return StringField(
        "Check Interval (minutes)",
        validators=[InputRequired("Enter a number of minutes from 1 to 60."), _rule(_interval)],
    )


def _minutes(field: Field) -> int:
    minutes, _ = validation.parse_interval(field.data or "")
    assert minutes is not None, "only read after validation"
    return minutes


class MonitorForm(FlaskForm):
    """The PRD's form: App Name, Slack Channel, Check Interval (and which monitor)."""

    monitor_id = HiddenField()
    app_name = StringField(
        "App Name",
        validators=[
            InputRequired("Enter the Heroku app's name."),
            _rule(validation.app_name_error),
        ],
    )
    slack_channel = _channel_field()
    check_interval = _interval_field()

    @property
    def interval(self) -> int:
        return _minutes(self.check_interval)


def _team(value: str) -> str | None:
    problem = validation.team_name_error(value)
    return problem[:1].upper() + problem[1:] if problem else None


class TeamForm(FlaskForm):
    """Watch every app of a Heroku team: the team, and the channel and interval its apps'
    monitors share."""

    team = StringField(
        "Team",
        validators=[InputRequired("Enter the Heroku team's name."), _rule(_team)],
    )
    slack_channel = _channel_field()
    check_interval = _interval_field()

    @property
    def interval(self) -> int:
        return _minutes(self.check_interval)


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
    return parse_thresholds(value)[1] if value else None


class LogThresholdsForm(FlaskForm):
    """A monitor's log-alert thresholds: lines/percent/requests, empty for the defaults."""

    thresholds = StringField("Log alerts at", validators=[_rule(_thresholds)])


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""
