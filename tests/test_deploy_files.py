"""The files a user hands to Slack and Heroku stay in step with the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from heroku_monitor.web.slack_commands import COMMAND

ROOT = Path(__file__).resolve().parent.parent


def test_slack_manifest_declares_the_command_the_app_answers_and_the_scopes_it_needs():
    manifest = yaml.safe_load((ROOT / "slack-manifest.yml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["url"].endswith("/slack/commands")
    assert {"chat:write", "commands"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert manifest["display_information"]["name"] == "Heroku Monitor"
