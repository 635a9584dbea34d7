"""What the simulator's tests share: the app they create, the Platform API's field sets and
time format, and a clock that moves only when told to."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

APP = "demo-app"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# Field sets of heroku-api-reference.json's examples (the Platform API's JSON schema).
APP_FIELDS = {
    "acm", "archived_at", "buildpack_provided_description", "build_stack", "created_at",
    "generation", "git_url", "id", "internal_routing", "maintenance", "name", "owner",
    "organization", "team", "region", "released_at", "repo_size", "slug_size", "space",
    "stack", "updated_at", "web_url",
}  # fmt: skip
DYNO_FIELDS = {
    "attach_url", "command", "created_at", "id", "name", "release", "app", "size", "state",
    "type", "updated_at",
}  # fmt: skip
RELEASE_FIELDS = {
    "addon_plan_names", "artifacts", "app", "created_at", "description", "id", "updated_at",
    "slug", "status", "user", "version", "current", "output_stream_url",
    "eligible_for_rollback",
}  # fmt: skip
ADDON_FIELDS = {
    "actions", "addon_service", "billing_entity", "app", "billed_price", "config_vars",
    "created_at", "id", "name", "plan", "provider_id", "provision_message", "state",
    "updated_at", "web_url",
}  # fmt: skip
FORMATION_FIELDS = {
    "app", "command", "created_at", "dyno_size", "id", "quantity", "size", "type", "updated_at",
}  # fmt: skip
WEBHOOK_FIELDS = {"app", "created_at", "id", "include", "level", "updated_at", "url"}


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
