"""The HTTPS log drain's password and headers, and the alerts it brings, for the drains'
tests in one process and in several."""

from __future__ import annotations

import base64

from tests.support.world import World

SECRET = "drain-secret-0123456789abcdef"


def auth(password: str = SECRET) -> dict[str, str]:
    token = base64.b64encode(f"token:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/logplex-1"}


def router_alerts(world: World) -> list[dict]:
    return [m for m in world.slack.messages if "Router Errors" in m["text"]]
