"""Read and validate the environment once, at start-up (SPEC section 3).

Nothing else in the project reads `os.environ`: the entry point calls `from_env` and
passes the `Settings` along.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from heroku_monitor.core import builds, validation
from heroku_monitor.core.validation import SettingsError
from heroku_monitor.render.mentions import mention_markup

DEFAULT_DATABASE_URL = "sqlite:///instance/monitor.db"
DEFAULT_STATUS_URL = "https://status.heroku.com/api/v4/current-status"
STATUS_CHANNEL_OFF = "none"  # HEROKU_STATUS_CHANNEL=none: Heroku's incidents are not posted


@dataclass(frozen=True)
class Settings:
    heroku_api_key: str = ""
    slack_bot_token: str = ""
    monitored_app_name: str | None = None
    slack_channel: str | None = None  # None: validation.DEFAULT_CHANNEL (`default_channel`)
    check_interval_minutes: int = 5
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    heroku_webhook_secret: str | None = None
    # The password of the log drain (Basic auth) and the telemetry drain's Bearer token.
    heroku_drain_secret: str | None = None
    dashboard_password: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = None
    port: int = 5000
    heroku_api_url: str = "https://api.heroku.com"
    slack_api_url: str = "https://slack.com/api/"
    on_heroku: bool = False
    demo: bool = False
    # How many app checks may run at once, and how many releases each check reads.
    max_concurrent_checks: int = 16
    release_window: int = 10
    # Demo mode: the port of the built-in Heroku simulator (its control API is there too).
    simulator_port: int = 5001
    # The share of Heroku's 4,500 requests/hour (per account, shared with every other tool
    # using the token) that polling may spend.
    rate_share: float = 0.5
    # Who a crash-loop escalation calls: none, here, channel or a user-group ID (S…).
    alert_mention: str = "here"
    # Watch every app of this Heroku team (SPEC section 13).
    monitored_team: str | None = None
    # How long the polling leader's lease lasts (seconds).
    leader_lease_seconds: int = 30
    # How long a dyno incident's dynos must stay up before it is resolved (SPEC §11).
    resolve_after_minutes: int = 10
    # A dead man's switch requested after every polling round that worked (SPEC §16).
    heartbeat_url: str | None = None
    # Heroku's status API, read by the leader every 5 minutes (SPEC §15), and where its
    # incidents go: None every alert channel, `STATUS_CHANNEL_OFF` nowhere, or a channel.
    heroku_status_url: str = DEFAULT_STATUS_URL
    heroku_status_channel: str | None = None
    # SPEC §14: where the first monitor's changes go (None: its alert channel), and its
    # GitHub repository, `owner/name`, for commit and compare links.
    slack_changes_channel: str | None = None
    monitored_app_repository: str | None = None
    # This service's public address (DASHBOARD_URL, else Heroku's dyno metadata
    # HEROKU_APP_DEFAULT_DOMAIN_NAME), without a trailing slash: each alert links to the
    # app's page here. None: the alerts link to the Heroku dashboard only.
    dashboard_url: str | None = None
    # Where each seed value came from, for the dashboard: name -> "environment" | "default".
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def default_channel(self) -> str:
        """Where a new monitor's or team's alerts go unless told: SLACK_CHANNEL, or else
        `validation.DEFAULT_CHANNEL`."""
        return self.slack_channel or validation.DEFAULT_CHANNEL


def normalise_database_url(url: str) -> str:
    """SQLAlchemy URL for `url`; Heroku's `postgres://` form is accepted as given."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _int(
    env: Mapping[str, str], name: str, default: int, low: int, high: int, errors: list[str]
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = validation.whole_number(raw, low, high)
    if value is None:
        errors.append(f"{name} must be a whole number from {low} to {high} (got {raw!r}).")
        return default
    return value


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not any(c.isspace() for c in value)
    )


def from_env(env: Mapping[str, str], *, demo: bool = False, require_slack: bool = True) -> Settings:
    """Settings from `env`; raises SettingsError naming every problem at once.

    `require_slack=False` is for commands that never post to Slack (register-webhook).
    """
    errors: list[str] = []

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    required = ("HEROKU_API_KEY", "SLACK_BOT_TOKEN") if require_slack else ("HEROKU_API_KEY",)
    missing = [name for name in required if not get(name)]
    if missing and not demo:
        errors.append(
            f"Missing {' and '.join(missing)}: set {'them' if len(missing) > 1 else 'it'} "
            "in the environment, or run `python app.py --demo` to try the bot against "
            "the built-in Heroku simulator."
        )

    app_name = get("MONITORED_APP_NAME")
    if app_name and (problem := validation.app_name_error(app_name)):
        errors.append(f"MONITORED_APP_NAME {app_name!r}: {problem}")
    channel = get("SLACK_CHANNEL")
    channel = validation.normal_channel(channel) if channel else None
    if channel and (problem := validation.channel_error(channel)):
        errors.append(f"SLACK_CHANNEL {channel!r}: {problem}")
    changes_channel = get("SLACK_CHANGES_CHANNEL")
    changes_channel = validation.normal_channel(changes_channel) if changes_channel else None
    if changes_channel and (problem := validation.channel_error(changes_channel)):
        errors.append(f"SLACK_CHANGES_CHANNEL {changes_channel!r}: {problem}")
    repository = get("MONITORED_APP_REPOSITORY")
    repository = builds.normal_repository(repository) if repository else None
    if repository and (problem := builds.repository_error(repository)):
        errors.append(f"MONITORED_APP_REPOSITORY {repository!r}: {problem}")
    interval = _int(
        env, "CHECK_INTERVAL_MINUTES", 5, validation.INTERVAL_MIN, validation.INTERVAL_MAX, errors
    )
    port = _int(env, "PORT", 5000, 1, 65535, errors)
    concurrency = _int(env, "CHECK_CONCURRENCY", 16, 1, 64, errors)
    lease = _int(env, "LEADER_LEASE_SECONDS", 30, 2, 3600, errors)
    resolve_after = _int(
        env,
        "RESOLVE_AFTER_MINUTES",
        10,
        validation.RESOLVE_AFTER_MIN,
        validation.RESOLVE_AFTER_MAX,
        errors,
    )
    heartbeat_url = get("HEARTBEAT_URL")
    if heartbeat_url and not _is_http_url(heartbeat_url):
        errors.append(
            # Not the value itself: a ping URL is a secret.
            "HEARTBEAT_URL is not an http(s) URL: give the check's ping URL, "
            "like https://hc-ping.com/<uuid>."
        )
    status_url = get("HEROKU_STATUS_URL") or DEFAULT_STATUS_URL
    if not _is_http_url(status_url):
        errors.append(
            f"HEROKU_STATUS_URL {status_url!r} is not an http(s) URL: leave it unset for "
            f"Heroku's own, {DEFAULT_STATUS_URL}."
        )
    status_channel = get("HEROKU_STATUS_CHANNEL")
    if status_channel and status_channel.lower() == STATUS_CHANNEL_OFF:
        status_channel = STATUS_CHANNEL_OFF
    elif status_channel:
        status_channel = validation.normal_channel(status_channel)
        if problem := validation.channel_error(status_channel):
            errors.append(
                f"HEROKU_STATUS_CHANNEL {status_channel!r}: {problem.rstrip('.')}, or "
                "`none` to post Heroku's incidents nowhere."
            )
    team = get("MONITORED_TEAM")
    if team and (problem := validation.team_name_error(team)):
        errors.append(f"MONITORED_TEAM {team!r}: {problem}")
    simulator_port = _int(env, "SIMULATOR_PORT", 5001, 0, 65535, errors)
    share_percent = _int(env, "HEROKU_RATE_SHARE_PERCENT", 50, 5, 100, errors)

    alert_mention = get("ALERT_MENTION") or "here"
    try:
        mention_markup(alert_mention)
    except ValueError as exc:
        errors.append(f"ALERT_MENTION {exc}")
    dashboard_url = get("DASHBOARD_URL")
    if dashboard_url and not _is_http_url(dashboard_url):
        errors.append(
            f"DASHBOARD_URL {dashboard_url[:200]!r} is not an http(s) URL: give this "
            "service's address as people open it, like https://my-monitor.herokuapp.com."
        )
        dashboard_url = None
    if not dashboard_url and (domain := get("HEROKU_APP_DEFAULT_DOMAIN_NAME")):
        dashboard_url = f"https://{domain}" if _is_http_url(f"https://{domain}") else None
    slack_api_url = get("SLACK_API_URL") or "https://slack.com/api/"
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"
    if errors:
        raise SettingsError(" ".join(errors))

    sources = {
        "app_name": "environment" if app_name else "default",
        "slack_channel": "environment" if channel else "default",
        "check_interval": "environment" if get("CHECK_INTERVAL_MINUTES") else "default",
        "changes_channel": "environment" if changes_channel else "default",
        "repository": "environment" if repository else "default",
    }
    return Settings(
        heroku_api_key=get("HEROKU_API_KEY") or "",
        slack_bot_token=get("SLACK_BOT_TOKEN") or "",
        monitored_app_name=app_name,
        slack_channel=channel,
        check_interval_minutes=interval,
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_app_token=get("SLACK_APP_TOKEN"),
        heroku_webhook_secret=get("HEROKU_WEBHOOK_SECRET"),
        heroku_drain_secret=get("HEROKU_DRAIN_SECRET"),
        dashboard_password=get("DASHBOARD_PASSWORD"),
        database_url=normalise_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL),
        secret_key=get("SECRET_KEY"),
        port=port,
        heroku_api_url=(get("HEROKU_API_URL") or "https://api.heroku.com").rstrip("/"),
        slack_api_url=slack_api_url,
        on_heroku=bool(get("DYNO")),
        demo=demo,
        max_concurrent_checks=concurrency,
        simulator_port=simulator_port,
        rate_share=share_percent / 100,
        alert_mention=alert_mention,
        monitored_team=team,
        leader_lease_seconds=lease,
        resolve_after_minutes=resolve_after,
        heartbeat_url=heartbeat_url,
        heroku_status_url=status_url,
        heroku_status_channel=status_channel,
        slack_changes_channel=changes_channel,
        monitored_app_repository=repository,
        dashboard_url=dashboard_url.rstrip("/") if dashboard_url else None,
        sources=sources,
    )
