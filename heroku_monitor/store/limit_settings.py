"""Each monitor's thresholds of the limit rules (SPEC §15: memory before R14, the database),
as their stored texts (`core.logs.limits.format_thresholds`: "" for the defaults, "off",
`key=value` pairs), one `key_values` row per monitor and rule (`limits:{monitor}:{rule}`).
A stopgap until the monitors table holds every rule's thresholds (the dashboard's table of
rules): the rows are few (two per monitor at most) and `forget` removes a monitor's."""

from __future__ import annotations

from sqlalchemy import delete, select

from heroku_monitor.store.database import Database
from heroku_monitor.store.models import KeyValue

RULES = ("near_quota", "database")
MAX_TEXT = 200


def settings_key(monitor_id: int, rule: str) -> str:
    return f"limits:{monitor_id}:{rule}"


class LimitSettings:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, monitor_id: int) -> dict[str, str]:
        """The monitor's stored text per rule (a rule never set: not in it). One query."""
        keys = {settings_key(monitor_id, rule): rule for rule in RULES}
        with self.db.reading() as s:
            found = s.execute(select(KeyValue.key, KeyValue.value).where(KeyValue.key.in_(keys)))
            return {keys[key]: value for key, value in found}

    def set(self, monitor_id: int, rule: str, text: str) -> None:
        """Keep the monitor's text for `rule` ("" puts the defaults back)."""
        if rule not in RULES:
            raise ValueError(f"no such limit rule: {rule}")
        self.db.keep(settings_key(monitor_id, rule), text[:MAX_TEXT])

    def forget(self, monitor_id: int) -> None:
        """Remove the monitor's texts (it was deleted)."""
        keys = [settings_key(monitor_id, rule) for rule in RULES]
        with self.db.transaction() as s:
            s.execute(delete(KeyValue).where(KeyValue.key.in_(keys)))
