"""Heroku's app webhook deliveries: how one is signed, which app it is about, and what
identifies it when it comes again.
https://devcenter.heroku.com/articles/app-webhooks#securing-webhook-requests
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

SIGNATURE_HEADER = "Heroku-Webhook-Hmac-SHA256"
# Not in Heroku's documentation (which names only the signature and Authorization
# headers); used when a body carries no event id.
ID_HEADER = "Heroku-Webhook-Id"
MAX_ID_LENGTH = 100


def signature(secret: str, body: bytes) -> str:
    """What Heroku puts in Heroku-Webhook-Hmac-SHA256: base64 of HMAC-SHA256 of the body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def app_name_of(payload: Any) -> str | None:
    """The app a delivery is about: `data.app.name`, or `data.name` for the app itself."""
    if not isinstance(payload, dict):
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    app = data.get("app")
    if isinstance(app, dict) and isinstance(app.get("name"), str):
        return str(app["name"])
    if payload.get("resource") == "app" and isinstance(data.get("name"), str):
        return str(data["name"])
    return None


def delivery_key(payload: Any, header: str | None) -> str | None:
    """What identifies a delivery, to ignore it when it comes again: the event's `id`
    (the same in a retry, a duplicate and a replay; `webhook_metadata.event.id` holds it
    too), else the `Heroku-Webhook-Id` header; None when there is neither."""
    event_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID_LENGTH:
        return f"event:{event_id}"
    if header and len(header) <= MAX_ID_LENGTH:
        return f"header:{header}"
    return None
