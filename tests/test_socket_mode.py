"""`/heroku-status` over Socket Mode: the service dials Slack's WebSocket (a fake one on
127.0.0.1, reached through a fake apps.connections.open) and answers the command's envelope.
https://api.slack.com/apis/connections/socket"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from heroku_monitor.cli import start
from tests.support.web import wait_until
from tests.support.world import APP, World, first_monitor


class FakeSocketModeEndpoint:
    """Slack's side of a Socket Mode connection: says hello, sends the envelopes put in
    `outbox`, and keeps what the app answers."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.answers: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.server = serve(self._session, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        # Slack hands out wss:// URLs; slack_sdk speaks plain TCP to a port other than 443.
        return f"wss://127.0.0.1:{self.server.socket.getsockname()[1]}/link/?ticket=t"

    def _session(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}}))
        self.connected.set()
        while True:
            try:
                envelope = self.outbox.get(timeout=0.05)
            except queue.Empty:
                envelope = None
            if envelope is not None:
                ws.send(json.dumps(envelope))
                self.answers.append(json.loads(ws.recv(timeout=10)))
            try:
                ws.recv(timeout=0)  # pings and the like; a closed socket ends the session
            except TimeoutError:
                continue
            except Exception:
                return

    def __enter__(self) -> FakeSocketModeEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


@pytest.fixture
def endpoint() -> Iterator[FakeSocketModeEndpoint]:
    with FakeSocketModeEndpoint() as fake:
        yield fake


def test_the_command_is_answered_over_socket_mode_without_a_public_url(
    world: World, endpoint: FakeSocketModeEndpoint
):
    world.slack.socket_url = endpoint.url
    settings = world.settings(slack_app_token=world.slack.app_token)
    service, _web = start(settings)
    try:
        assert endpoint.connected.wait(10)
        wait_until(lambda: service.monitors.latest_snapshot(APP) is not None)
        endpoint.outbox.put(
            {
                "type": "slash_commands",
                "envelope_id": "57d6a792-4d35-4d0b-b6aa-3361493e1caf",
                "accepts_response_payload": True,
                "payload": {
                    "command": "/heroku-status",
                    "text": APP,
                    "team_id": "T0FAKE0001",
                    "user_id": "U0FAKEUSR1",
                    "channel_id": "C0FAKE0001",
                    "response_url": world.slack.response_url("socket"),
                    "trigger_id": "1.2.3",
                },
            }
        )
        wait_until(lambda: len(endpoint.answers) == 1)
    finally:
        service.stop()
    (answer,) = endpoint.answers
    assert answer["envelope_id"] == "57d6a792-4d35-4d0b-b6aa-3361493e1caf"
    assert answer["payload"]["response_type"] == "ephemeral"
    assert f"{APP} is healthy" in answer["payload"]["text"]
    assert world.slack.calls["apps.connections.open"] >= 1


def test_an_incident_button_pressed_over_socket_mode_acknowledges_it(
    world: World, endpoint: FakeSocketModeEndpoint
):
    from heroku_monitor.render.threads import ACKNOWLEDGE

    world.slack.socket_url = endpoint.url
    service, _web = start(world.settings(slack_app_token=world.slack.app_token))
    try:
        assert endpoint.connected.wait(10)
        wait_until(lambda: service.monitors.latest_snapshot(APP) is not None)
        world.sim.crash_dyno(APP, "web.1")
        service.checker.check(first_monitor(service))
        (opening,) = world.slack.wait_for_messages(1)
        (buttons,) = [b for b in opening["blocks"] if b["type"] == "actions"]
        incident = buttons["elements"][0]["value"]
        endpoint.outbox.put(
            {
                "type": "interactive",
                "envelope_id": "2a5b1f2e-6c1d-4f5a-9a39-1b1c1d1e1f10",
                "accepts_response_payload": False,
                "payload": {
                    "type": "block_actions",
                    "team": {"id": "T0FAKE0001"},
                    "user": {"id": "U0FAKEUSR1", "username": "ann"},
                    "api_app_id": "A0FAKEAPP1",
                    "channel": {"id": opening["channel"]},
                    "actions": [
                        {
                            "type": "button",
                            "action_id": ACKNOWLEDGE,
                            "block_id": "incident",
                            "value": incident,
                            "action_ts": "1700000000.000001",
                        }
                    ],
                },
            }
        )
        wait_until(lambda: "acknowledged by" in world.slack.messages[0]["text"])
    finally:
        service.stop()
    assert endpoint.answers[0]["envelope_id"] == "2a5b1f2e-6c1d-4f5a-9a39-1b1c1d1e1f10"
