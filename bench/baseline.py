"""A PRD-literal monitor, for the benchmark to compare against (never used by the service).

It does what the workshop brief says and no more: every interval it polls each app in
turn, fetches everything (every page of every list, no conditional requests, no `Range`
for the newest releases), keeps the previous dyno states, last release and a config hash
in memory, and posts with a plain WebClient. `/heroku-status` asks Heroku while Slack
waits.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import requests
from slack_sdk import WebClient

ACCEPT = "application/vnd.heroku+json; version=3"


class BaselineMonitor:
    def __init__(self, api_url: str, api_key: str, slack: WebClient, channel: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Accept": ACCEPT, "Authorization": f"Bearer {api_key}"})
        self.slack = slack
        self.channel = channel
        self.state: dict[str, dict[str, Any]] = {}

    def _get(self, path: str, range_header: str = "") -> requests.Response:
        headers = {"Range": range_header} if range_header else {}
        response = self.session.get(self.api_url + path, headers=headers, timeout=30)
        response.raise_for_status()
        return response

    def _all(self, path: str) -> list[Any]:
        items: list[Any] = []
        range_header = ""
        while True:
            response = self._get(path, range_header)
            items.extend(response.json())
            range_header = response.headers.get("Next-Range", "")
            if response.status_code != 206 or not range_header:
                return items

    def read(self, app: str) -> dict[str, Any]:
        return {
            "app": self._get(f"/apps/{app}").json(),
            "dynos": self._all(f"/apps/{app}/dynos"),
            "releases": self._all(f"/apps/{app}/releases"),
            "addons": self._all(f"/apps/{app}/addons"),
            "config": self._get(f"/apps/{app}/config-vars").json(),
        }

    def check(self, app: str) -> None:
        data = self.read(app)
        dynos = {d["name"]: d for d in data["dynos"]}
        newest = max(data["releases"], key=lambda r: r["version"], default=None)
        config_hash = hashlib.sha256(
            json.dumps(data["config"], sort_keys=True).encode()
        ).hexdigest()
        before = self.state.get(app)
        self.state[app] = {
            "dynos": {n: d["state"] for n, d in dynos.items()},
            "release": newest["version"] if newest else None,
            "config": config_hash,
        }
        if before is None:
            return
        for state, title, label in (
            ("crashed", "🚨 *ALERT: Dyno Crash Detected* 🚨", "Crashed dynos:"),
            ("down", "⚠️ *WARNING: Dynos Down* ⚠️", "Down dynos:"),
        ):
            hit = [
                d
                for n, d in dynos.items()
                if d["state"] == state and before["dynos"].get(n) != state
            ]
            if hit:
                lines = "\n".join(f"• {d['name']} ({d['type']})" for d in hit)
                self._post(f"{title}\nApp: {app}\n{label}\n{lines}")
        if newest and newest["version"] != before["release"]:
            self._post(
                f"🚀 *New Deploy Detected* 🚀\nApp: {app}\nVersion: v{newest['version']}\n"
                f"Deployed by: {newest['user']['email']}"
            )
        if config_hash != before["config"]:
            self._post(
                f"⚙️ *Config Vars Changed* ⚙️\nApp: {app}\nReview changes in Heroku dashboard."
            )

    def status(self, app: str) -> str:
        """The slash command's answer, read from Heroku while Slack waits."""
        data = self.read(app)
        states = ", ".join(f"{d['name']}: {d['state']}" for d in data["dynos"])
        return f"{app}: {states}"

    def _post(self, text: str) -> None:
        self.slack.chat_postMessage(channel=self.channel, text=text)
