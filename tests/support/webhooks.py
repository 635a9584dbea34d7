"""Heroku app webhook deliveries as Heroku sends them (the reference's examples), and a
sender that signs them, for the webhook tests in one process and in several."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from heroku_monitor.heroku.webhooks import SIGNATURE_HEADER, signature
from heroku_monitor.service import Service
from tests.support.world import APP

SECRET = "dcbff0c4430a2960a2552389d587bc58d30a37a8cf3f75f8fb77abe667ad"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "heroku-api-reference.json"


def example(name: str, app: str = APP) -> dict[str, Any]:
    """A real delivery body from Heroku's docs, pointed at `app`."""
    if REFERENCE.exists():
        body = copy.deepcopy(json.loads(REFERENCE.read_text())["_webhook_delivery_examples"][name])
    else:  # the shape of the reference's examples, for a checkout without ../shared
        resource, action = name.split("-")[1], name.split("-")[2]
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))  # one per example, as there
        body = {"id": event_id, "resource": resource, "action": action, "data": {}}
    if body["resource"] == "app":
        body["data"]["name"] = app
    else:
        body["data"]["app"] = {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": app}
    return body


def fresh(name: str) -> dict[str, Any]:
    """A delivery of a new event: the reference's example with an id of its own."""
    body = example(name)
    body["id"] = str(uuid.uuid4())
    return body


class Hook:
    def __init__(self, service: Service, client: FlaskClient) -> None:
        self.service, self.client = service, client

    def deliver(
        self,
        body: dict[str, Any],
        *,
        secret: str = SECRET,
        signed: bool = True,
        headers: dict[str, str] | None = None,
    ):
        raw = json.dumps(body).encode()
        return self.post(raw, secret=secret if signed else None, headers=headers)

    def post(
        self, raw: bytes, *, secret: str | None = SECRET, headers: dict[str, str] | None = None
    ):
        sent = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            sent[SIGNATURE_HEADER] = signature(secret, raw)
        return self.client.post("/webhooks/heroku", data=raw, headers=sent)
