"""The HTTPS log drain's password and headers, and the alerts it brings, for the drains'
tests in one process and in several."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager

from flask.testing import FlaskClient

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support.web import LiveSite, csrf_token
from tests.support.world import APP, World

SECRET = "drain-secret-0123456789abcdef"


def auth(password: str = SECRET) -> dict[str, str]:
    token = base64.b64encode(f"token:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/logplex-1"}


def post_batch(client: FlaskClient, data: bytes, frame_id: str, password: str = SECRET):
    """POST a Logplex body (one frame, as its headers say) to the app's drain."""
    headers = {**auth(password), "Logplex-Frame-Id": frame_id, "Logplex-Msg-Count": "1"}
    return client.post(f"/drains/heroku/{APP}", data=data, headers=headers)


@contextmanager
def drained_service(world: World) -> Iterator[tuple[Service, FlaskClient]]:
    """The world's service with its drain's password set and its scheduler running (the
    drain's flushers), and a test client of its Flask app; stopped after."""
    service, _ = world.baseline(heroku_drain_secret=SECRET)
    service.scheduler.start()
    try:
        yield service, create_app(service).test_client()
    finally:
        service.stop()


@contextmanager
def demo_drain(world: World) -> Iterator[tuple[Service, FlaskClient]]:
    """The world's baseline service served live (its scheduler running), the app's log drain
    at it as `python app.py --demo` registers it, and the simulator set for the demo's
    buttons (`press`); a test client of its Flask app."""
    service, _ = world.baseline(heroku_drain_secret=SECRET)
    service.simulator = world.heroku
    try:
        with LiveSite(service) as live:
            url = f"http://heroku:{SECRET}@127.0.0.1:{live.port}/drains/heroku/{APP}"
            world.sim.create_log_drain(APP, url)
            yield service, create_app(service).test_client()
    finally:
        service.simulator = None


def press(client: FlaskClient, button: str):
    """Press one of the demo's buttons (`POST /demo/<button>`, with the form's token)."""
    return client.post(f"/demo/{button}", data={"csrf_token": csrf_token(client)})


def router_alerts(world: World) -> list[dict]:
    return [m for m in world.slack.messages if "Router Errors" in m["text"]]
