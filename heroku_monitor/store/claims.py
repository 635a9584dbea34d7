"""Checks in progress and webhook windows, kept in the database so that every process
sharing it agrees (SPEC §13): one app is never checked by two processes at once, and a
storm of webhook deliveries spread over all processes costs one check at once and one
trailing check, as it does in one process (SPEC §7).

Each monitor has one `check_claims` row; every decision is one transaction that locks it
(SELECT … FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers).

A delivery's trigger is kept there too (`asked_at`), before the delivery is answered, until
a check begun after it ends: a process killed between a delivery's 202 and its check (or
mid-check) leaves it, and the process that starts or takes the lead next checks that
monitor at once (SPEC §16: kill -9 at random moments loses no alert).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from heroku_monitor.store.database import Database
from heroku_monitor.store.models import CheckClaim, Monitor


class CheckClaims:
    def __init__(self, db: Database, *, ttl: float = 120.0, owner: str | None = None) -> None:
        self.db = db
        # This process (its polling lease's holder too): every claim it makes is `owner:…`,
        # so the process that takes the lease of a dead one frees exactly that one's claims.
        self.owner = owner or uuid.uuid4().hex
        # How long a claim holds when its holder never releases it (killed mid-check):
        # longer than any check can take (each Heroku call has its timeout and retries).
        self.ttl = timedelta(seconds=ttl)
        # The claims this process holds now. A claim of ours the database still shows but
        # that we no longer hold was left when its release failed (the database restarted
        # mid-check): ours to take again at once, not to wait out.
        self._held: dict[int, str] = {}
        self._lock = threading.Lock()

    def _row(self, s: Session, monitor_id: int) -> CheckClaim | None:
        """The monitor's claim row, locked; None when the monitor is gone."""
        if s.get(Monitor, monitor_id) is None:
            return None
        s.execute(
            self.db.insert(CheckClaim)
            .values(monitor_id=monitor_id, again=False, trailing=False)
            .on_conflict_do_nothing()
        )
        return s.execute(
            select(CheckClaim).where(CheckClaim.monitor_id == monitor_id).with_for_update()
        ).scalar_one_or_none()

    def claim(self, monitor_id: int, now: datetime, *, ask_again: bool) -> str | None:
        """Claim the monitor's check: a token to release it with, or None when another
        check of it is in progress (in this process or another). Then, with `ask_again`,
        that check runs once more when it ends (it may have read Heroku before the change
        that made us ask)."""
        token = f"{self.owner}:{uuid.uuid4().hex[:12]}"
        try:
            with self.db.transaction() as s:
                row = self._row(s, monitor_id)
                if row is None:
                    return None
                if (
                    row.holder is not None
                    and row.until is not None
                    and row.until > now
                    and not self._left_by_us(monitor_id, row.holder)
                ):
                    if ask_again:
                        row.again = True
                    return None
                row.holder, row.until, row.again = token, now + self.ttl, False
                with self._lock:  # before the commit: another thread waits on the row till then
                    self._held[monitor_id] = token
        except BaseException:
            # The commit may have reached the database all the same: the row then shows a
            # claim of ours nobody holds, which our next claim takes back at once.
            with self._lock:
                if self._held.get(monitor_id) == token:
                    del self._held[monitor_id]
            raise
        return token

    def _left_by_us(self, monitor_id: int, holder: str) -> bool:
        with self._lock:
            return holder.startswith(f"{self.owner}:") and self._held.get(monitor_id) != holder

    def release(self, monitor_id: int, token: str, *, answered: bool = True) -> bool:
        """End our claim; True when a check was asked for while ours ran (run it again).
        A check that ran to its end (`answered`) answers the triggers that came before it
        began; one that came while it ran waits for the next."""
        with self._lock:  # no longer ours, even if the database cannot hear it now
            if self._held.get(monitor_id) == token:
                del self._held[monitor_id]
        with self.db.transaction() as s:
            row = s.execute(
                select(CheckClaim).where(CheckClaim.monitor_id == monitor_id).with_for_update()
            ).scalar_one_or_none()
            if row is None or row.holder != token:
                return False  # the monitor is gone, or our claim expired and was taken
            again = bool(row.again)
            began = row.until - self.ttl if row.until is not None else None
            if (
                answered
                and row.asked_at is not None
                and began is not None
                and row.asked_at <= began
            ):
                row.asked_at = None
            row.holder, row.until, row.again = None, None, False
            return again

    def release_of(self, owner: str) -> None:
        """Free the claims a dead process left (a new leader clears what the old one left,
        instead of waiting out each claim)."""
        with self.db.transaction() as s:
            s.execute(
                update(CheckClaim)
                .where(CheckClaim.holder.startswith(f"{owner}:", autoescape=True))
                .values(holder=None, until=None)
            )

    def webhook_window(self, monitor_id: int, now: datetime, debounce: float) -> float | None:
        """A webhook delivery for the monitor reached this process. The first of a storm
        checks at once and opens a `debounce`-second window (0.0: check now); the first
        within the window schedules the trailing check at its end (the seconds to wait);
        the rest join that check (None). Whichever process each delivery reached."""
        with self.db.transaction() as s:
            row = self._row(s, monitor_id)
            if row is None:
                return None
            row.asked_at = now  # kept until a check begun after it ends
            if row.window_ends is None or now >= row.window_ends:
                row.window_ends, row.trailing = now + timedelta(seconds=debounce), False
                return 0.0
            if row.trailing:
                return None
            row.trailing = True
            return max(0.0, (row.window_ends - now).total_seconds())

    def unanswered(self, before: datetime | None = None) -> list[int]:
        """The monitors a delivery asked to check (`before` then) that no check begun
        since has ended (its process died first): to check at once."""
        query = select(CheckClaim.monitor_id).where(CheckClaim.asked_at.is_not(None))
        if before is not None:
            query = query.where(CheckClaim.asked_at < before)
        with self.db.reading() as s:
            return list(s.execute(query.order_by(CheckClaim.monitor_id)).scalars())

    def trailing_starts(self, monitor_id: int, now: datetime, debounce: float) -> None:
        """The trailing check starts: deliveries from now on join the next one, a window
        from now (a storm still going)."""
        with self.db.transaction() as s:
            s.execute(
                update(CheckClaim)
                .where(CheckClaim.monitor_id == monitor_id)
                .values(trailing=False, window_ends=now + timedelta(seconds=debounce))
            )


def mark_asked(s: Session, monitor_ids: Collection[int], now: datetime) -> None:
    """In the transaction that records a delivery as seen: its monitors were asked for a
    check (a process killed before it opened their windows leaves that trigger, and the
    delivery sent again is a duplicate). A monitor never checked has no row yet: its first
    check comes at start-up or when it is added anyway."""
    if monitor_ids:
        s.execute(
            update(CheckClaim).where(CheckClaim.monitor_id.in_(monitor_ids)).values(asked_at=now)
        )
