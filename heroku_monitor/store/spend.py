"""The Heroku requests every process spent, per minute and kind of check, kept in the
database: Heroku's rate limit is the account's, so the budget must be too (SPEC §13)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from heroku_monitor.store.database import Database, rowcount
from heroku_monitor.store.models import HerokuSpend

WINDOW = timedelta(hours=1)
# Of the "poll" requests, those a round spent over the cost of a steady one (a first round,
# a team's pick-up, releases and config vars read again: `budget.learn`), counted here as
# well: the plan takes them out of the hour's budget and never plans them as a rate.
ONE_OFF = "one-off"
KEEP = WINDOW * 2  # how long a minute's counts are kept (`retention.py` prunes them)


def _minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


class Spend:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, counts: Mapping[str, int], now: datetime) -> None:
        """Add this process's requests (source -> how many) to the current minute."""
        counts = {source: n for source, n in counts.items() if n > 0}
        if not counts:
            return
        minute = _minute(now)
        with self.db.transaction() as s:
            for source, n in sorted(counts.items()):
                stmt = self.db.insert(HerokuSpend).values(minute=minute, source=source, requests=n)
                s.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["minute", "source"],
                        set_={"requests": HerokuSpend.requests + n},
                    )
                )

    def since(self, since: datetime) -> dict[str, int]:
        """Requests spent since `since` by every process, per source."""
        with self.db.reading() as s:
            rows = s.execute(
                select(HerokuSpend.source, func.sum(HerokuSpend.requests))
                .where(HerokuSpend.minute >= _minute(since))
                .group_by(HerokuSpend.source)
            ).all()
        return {str(source): int(n or 0) for source, n in rows}

    def prune(self, now: datetime) -> int:
        with self.db.transaction() as s:
            gone = s.execute(delete(HerokuSpend).where(HerokuSpend.minute < now - KEEP))
            return rowcount(gone)
