"""What Heroku's webhooks brought in the last hour, kept in the database so every process
sees it: the deliveries seen (one seen again is ignored). What their checks spent is
counted with every other Heroku request in `spend.py`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from heroku_monitor.store.claims import mark_asked
from heroku_monitor.store.database import Database, rowcount
from heroku_monitor.store.models import WebhookSighting

# How long a delivery's id is remembered, and the window webhook checks are counted in.
SIGHTING_TTL = timedelta(hours=1)


class WebhookLedger:
    """The `webhook_sightings` table, shared by every process using the database: the
    deliveries seen in the last hour (one seen again is ignored)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def first_sighting(self, key: str, now: datetime, *, asking: Collection[int] = ()) -> bool:
        """Record delivery `key`; True unless some process saw it within `SIGHTING_TTL`.
        A first sighting marks the monitors it is `asking` to check, in the same
        transaction (`claims.mark_asked`): seen is never without its trigger kept.

        One INSERT (or, for a sighting expired but not pruned yet, one conditional
        UPDATE) decides, so two processes given the same delivery never both say True.
        """
        key = f"delivery:{key}"[:200]
        with self.db.transaction() as s:
            first = self.db.insert_new(s, WebhookSighting, key=key, kind="delivery", seen_at=now)
            if not first:
                renewed = s.execute(
                    update(WebhookSighting)
                    .where(WebhookSighting.key == key, WebhookSighting.seen_at < now - SIGHTING_TTL)
                    .values(seen_at=now)
                )
                first = rowcount(renewed) == 1
            if first:
                mark_asked(s, asking, now)
            return first

    def prune(self, now: datetime) -> int:
        """Forget what is older than `SIGHTING_TTL`; returns how many rows went."""
        with self.db.transaction() as s:
            gone = s.execute(
                delete(WebhookSighting).where(WebhookSighting.seen_at < now - SIGHTING_TTL)
            )
            return rowcount(gone)
