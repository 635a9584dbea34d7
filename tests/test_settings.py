"""Settings come from the environment once, and bad environments get one clear sentence."""

from __future__ import annotations

import pytest

from heroku_monitor.settings import SettingsError, from_env
from tests.support.slack import ACCEPTED_CHANNELS

GOOD = {"HEROKU_API_KEY": "k", "SLACK_BOT_TOKEN": "xoxb-1"}


def test_missing_required_variables_are_named_in_one_sentence_pointing_at_demo():
    with pytest.raises(SettingsError) as raised:
        from_env({})
    message = str(raised.value)
    assert "HEROKU_API_KEY and SLACK_BOT_TOKEN" in message and "--demo" in message


def test_demo_needs_no_tokens():
    assert from_env({}, demo=True).demo


@pytest.mark.parametrize("value", ["0", "61", "five", "2.5"])
def test_out_of_range_interval_is_a_clear_error(value: str):
    with pytest.raises(SettingsError, match="CHECK_INTERVAL_MINUTES must be a whole number"):
        from_env({**GOOD, "CHECK_INTERVAL_MINUTES": value})


@pytest.mark.parametrize("value", ["1_0", "+5", "٣", " 7 ", "10", "60", "061", "1e1"])
def test_the_environment_and_the_dashboard_take_the_same_intervals(value: str):
    from heroku_monitor.core.validation import parse_interval

    minutes, _ = parse_interval(value)
    try:
        from_environment: int | None = from_env(
            {**GOOD, "CHECK_INTERVAL_MINUTES": value}
        ).check_interval_minutes
    except SettingsError:
        from_environment = None
    assert from_environment == minutes


@pytest.mark.parametrize("name", ["PORT", "CHECK_CONCURRENCY", "HEROKU_RATE_SHARE_PERCENT"])
def test_numbers_in_the_environment_are_plain_ascii_digits(name: str):
    with pytest.raises(SettingsError, match=f"{name} must be a whole number"):
        from_env({**GOOD, name: "1_0"})


def test_interval_defaults_to_five_minutes():
    assert from_env(GOOD).check_interval_minutes == 5


def test_heroku_postgres_url_form_is_accepted_as_given():
    settings = from_env({**GOOD, "DATABASE_URL": "postgres://u:p@host:5432/db"})
    assert settings.database_url == "postgresql+psycopg://u:p@host:5432/db"


def test_api_urls_can_point_elsewhere():
    settings = from_env(
        {**GOOD, "HEROKU_API_URL": "http://127.0.0.1:9/", "SLACK_API_URL": "http://127.0.0.1:8/api"}
    )
    assert settings.heroku_api_url == "http://127.0.0.1:9"
    assert settings.slack_api_url == "http://127.0.0.1:8/api/"


def test_bad_initial_app_name_and_channel_are_errors():
    with pytest.raises(SettingsError) as raised:
        from_env({**GOOD, "MONITORED_APP_NAME": "My_App", "SLACK_CHANNEL": "alerts"})
    assert "MONITORED_APP_NAME" in str(raised.value) and "SLACK_CHANNEL" in str(raised.value)


def test_running_on_heroku_is_known_from_dyno():
    assert from_env({**GOOD, "DYNO": "web.1"}).on_heroku


@pytest.mark.parametrize("channel", ACCEPTED_CHANNELS)
def test_channel_ids_and_names_in_any_script_are_accepted_as_slack_does(channel: str):
    assert from_env({**GOOD, "SLACK_CHANNEL": channel}).slack_channel == channel


@pytest.mark.parametrize(
    "value",
    [
        "#alerts\n",
        "#a\u3000b",
        "#a\u200bb",
        "#a\u2028b",
        "#Alerts",
        "#a.b",
        "c0123abcd",
        "C0123",
        "X0123ABCD",
    ],
)
def test_channels_with_hidden_spaces_or_capitals_are_refused(value: str):
    from heroku_monitor.core.validation import channel_error

    assert channel_error(value)


@pytest.mark.parametrize("value", ["1_0", "+5", "\u0663", "05.0", "5 5"])
def test_intervals_are_plain_ascii_whole_numbers(value: str):
    from heroku_monitor.core.validation import parse_interval

    assert parse_interval(value) == (None, parse_interval("0")[1])


def test_app_names_with_a_trailing_newline_are_refused():
    from heroku_monitor.core.validation import app_name_error

    assert app_name_error("my-app\n") and not app_name_error("my-app")


def test_a_channel_name_typed_with_combining_accents_is_taken_as_slack_stores_it():
    decomposed = "#alertes-e\u0301quipe"  # e and a combining accent, as some keyboards type é
    assert from_env({**GOOD, "SLACK_CHANNEL": decomposed}).slack_channel == "#alertes-équipe"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("", "here"), ("none", "none"), ("channel", "channel"), ("S0123ABCD", "S0123ABCD")],
)
def test_alert_mention_is_none_here_channel_or_a_user_group(given: str, kept: str):
    assert from_env({**GOOD, "ALERT_MENTION": given}).alert_mention == kept


def test_an_alert_mention_slack_cannot_make_is_one_clear_sentence():
    with pytest.raises(SettingsError, match="ALERT_MENTION 'everyone' is not a mention"):
        from_env({**GOOD, "ALERT_MENTION": "everyone"})


@pytest.mark.parametrize(("given", "kept"), [("", 10), ("0", 0), ("10", 10), ("60", 60)])
def test_resolve_after_minutes_is_from_0_to_60_and_defaults_to_10(given: str, kept: int):
    assert from_env({**GOOD, "RESOLVE_AFTER_MINUTES": given}).resolve_after_minutes == kept


@pytest.mark.parametrize("value", ["-1", "61", "ten", "2.5"])
def test_a_resolve_hold_out_of_range_is_one_clear_sentence(value: str):
    with pytest.raises(SettingsError) as raised:
        from_env({**GOOD, "RESOLVE_AFTER_MINUTES": value})
    assert str(raised.value) == (
        f"RESOLVE_AFTER_MINUTES must be a whole number from 0 to 60 (got {value!r})."
    )


@pytest.mark.parametrize(
    "url", ["https://hc-ping.com/0d1b2c3e-4f5a-6789-abcd-ef0123456789", "http://127.0.0.1:8080/x"]
)
def test_heartbeat_url_is_an_http_or_https_url(url: str):
    assert from_env({**GOOD, "HEARTBEAT_URL": url}).heartbeat_url == url
    assert from_env(GOOD).heartbeat_url is None


@pytest.mark.parametrize(
    "value", ["hc-ping.com/abc", "ftp://hc-ping.com/abc", "https://", "https:// x"]
)
def test_a_heartbeat_url_that_is_not_an_http_url_is_one_clear_sentence(value: str):
    with pytest.raises(SettingsError) as raised:
        from_env({**GOOD, "HEARTBEAT_URL": value})
    message = str(raised.value)
    assert message.startswith("HEARTBEAT_URL is not an http(s) URL")
    assert "abc" not in message  # a ping URL is a secret: never echoed
    assert message.count(".") >= 1 and "\n" not in message
