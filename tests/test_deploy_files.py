"""The files a user hands to Slack and Heroku stay in step with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from heroku_monitor.runtime.slack_app import COMMAND
from heroku_monitor.settings import from_env

ROOT = Path(__file__).resolve().parent.parent


def test_slack_manifest_declares_the_command_the_app_answers_and_the_scopes_it_needs():
    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["url"].endswith("/slack/commands")
    assert {"chat:write", "commands"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert manifest["display_information"]["name"] == "Heroku Monitor"
    interactivity = manifest["settings"]["interactivity"]  # the incident buttons
    assert interactivity["is_enabled"] and interactivity["request_url"].endswith(
        "/slack/interactions"
    )


# The keys Heroku's app.json schema documents (https://devcenter.heroku.com/articles/app-json-schema).
APP_JSON_KEYS = {
    "name",
    "description",
    "keywords",
    "website",
    "repository",
    "logo",
    "success_url",
    "scripts",
    "env",
    "formation",
    "image",
    "addons",
    "buildpacks",
    "environments",
    "stack",
}
ENV_KEYS = {"description", "value", "required", "generator"}
DYNO_SIZES = {
    "eco",
    "basic",
    "standard-1x",
    "standard-2x",
    "performance-m",
    "performance-l",
    "private-s",
    "private-m",
    "private-l",
    "shield-s",
    "shield-m",
    "shield-l",
}
# Set by Heroku itself (the add-on, the router, the dyno) or only by tests: not for the button.
PLATFORM_VARIABLES = {
    "DATABASE_URL",
    "PORT",
    "DYNO",
    "HEROKU_API_URL",
    "SLACK_API_URL",
    "HEROKU_STATUS_URL",
    "HEROKU_APP_DEFAULT_DOMAIN_NAME",  # set by Heroku's dyno metadata
}
# For running elsewhere (a laptop, the demo): documented, but no question for the button.
LOCAL_VARIABLES = {"CHECK_CONCURRENCY", "SIMULATOR_PORT"}


class RecordingEnv(dict[str, str]):
    """An empty environment that remembers every name it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, name: str, default: Any = None) -> Any:
        self.asked.add(name)
        return super().get(name, default)

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        self.asked.add(str(name))
        return super().__contains__(name)


def variables_the_service_reads() -> set[str]:
    env = RecordingEnv()
    from_env(env, demo=True)
    assert env.asked, "from_env read nothing: the recording misses how it reads"
    return env.asked


def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def test_app_json_follows_herokus_documented_schema():
    manifest = app_json()
    assert set(manifest) <= APP_JSON_KEYS
    for name, spec in manifest["env"].items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name)
        assert isinstance(spec, dict) and set(spec) <= ENV_KEYS, name
        assert spec["description"], f"{name} needs a description"
        assert spec.get("generator", "secret") == "secret"
        assert isinstance(spec.get("required", False), bool)
        assert isinstance(spec.get("value", ""), str)
    for process, formation in manifest["formation"].items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", process)
        assert isinstance(formation["quantity"], int) and formation["size"] in DYNO_SIZES
    for addon in manifest["addons"]:
        assert isinstance(addon, str) or (
            "plan" in addon and set(addon) <= {"plan", "as", "options"}
        )
    assert all(set(b) == {"url"} for b in manifest["buildpacks"])


def test_every_variable_the_service_reads_is_documented_and_asked_for_by_app_json():
    read = variables_the_service_reads()
    env = app_json()["env"]
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.M))
    assert read - {"DYNO"} <= documented, "read by from_env but not in the README's table"
    assert read - PLATFORM_VARIABLES - LOCAL_VARIABLES <= set(env), "missing from app.json"
    assert set(env) <= read, "app.json asks for variables the service never reads"
    assert env["HEROKU_API_KEY"]["required"] and env["SLACK_BOT_TOKEN"]["required"]
    assert env["SECRET_KEY"]["generator"] == "secret"
    assert any(
        (a if isinstance(a, str) else a["plan"]).startswith("heroku-postgresql")
        for a in app_json()["addons"]
    )


def test_the_web_process_runs_gunicorn_on_the_wsgi_app_without_preload():
    procfile = (ROOT / "Procfile").read_text()
    assert procfile.startswith("web: gunicorn wsgi:app") and "--preload" not in procfile
    assert "gunicorn" in (ROOT / "requirements.txt").read_text()
    assert (ROOT / ".python-version").read_text().strip().startswith("3.")
