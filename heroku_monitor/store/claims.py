"""Checks in progress and webhook windows, kept in the database so that every process
sharing it agrees (SPEC §13): one app is never checked by two processes at once, and a
storm of webhook deliveries spread over all processes costs one check at once and one
trailing check, as it does in one process (SPEC §7).

Each monitor has one `check_claims` row; every decision is one transaction that locks it
(SELECT … FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers). A
polling round claims all its apps in one transaction and releases them in one
(`claim_round`, `release_round`: a fixed number of statements however many apps), locking
their rows in the order of their monitor ids, as every statement here that locks several
rows does.

A delivery's trigger is kept there too (`asked_at`), before the delivery is answered, until
a check begun after it ends: a process killed between a delivery's 202 and its check (or
mid-check) leaves it, and the process that starts or takes the lead next checks that
monitor at once (SPEC §16: kill -9 at random moments loses no alert).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta

from sqlalchemy import false, select, update
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

    # -- a polling round's claims: all its apps at once ----------------------------------

    def claim_round(self, monitor_ids: Collection[int], now: datetime) -> tuple[str, set[int]]:
        """Claim the checks of a round's monitors in one transaction: the token (one for
        the round) and the monitors claimed. A monitor another check is reading is left
        out (a poll skips it: that check reads the app anyway); a gone one too."""
        token = f"{self.owner}:{uuid.uuid4().hex[:12]}"
        if not monitor_ids:
            return token, set()
        claimed: set[int] = set()
        try:
            with self.db.transaction() as s:
                for chunk in _chunks(sorted(monitor_ids)):
                    claimed |= self._claim_chunk(s, chunk, token, now)
        except BaseException:
            with self._lock:  # as `claim`: whatever reached the database is taken back
                for monitor_id in claimed:
                    if self._held.get(monitor_id) == token:
                        del self._held[monitor_id]
            raise
        return token, claimed

    def _claim_chunk(
        self, s: Session, monitor_ids: Sequence[int], token: str, now: datetime
    ) -> set[int]:
        s.execute(
            self.db.insert(CheckClaim)
            .from_select(
                ["monitor_id", "again", "trailing"],
                select(Monitor.id, false(), false()).where(Monitor.id.in_(monitor_ids)),
            )
            .on_conflict_do_nothing()
        )
        rows = s.execute(
            select(CheckClaim.monitor_id, CheckClaim.holder, CheckClaim.until)
            .where(CheckClaim.monitor_id.in_(monitor_ids))
            .order_by(CheckClaim.monitor_id)
            .with_for_update()
        ).all()
        free = {
            int(monitor_id)
            for monitor_id, holder, until in rows
            if holder is None
            or until is None
            or until <= now
            or self._left_by_us(int(monitor_id), holder)
        }
        if free:
            s.execute(
                update(CheckClaim)
                .where(CheckClaim.monitor_id.in_(sorted(free)))
                .values(holder=token, until=now + self.ttl, again=False)
            )
            with self._lock:  # before the commit, as `claim`
                for monitor_id in free:
                    self._held[monitor_id] = token
        return free

    def asked_during(self, token: str) -> set[int]:
        """The monitors of the round holding `token` that another check asked to run again
        meanwhile (a webhook's, in another process): one read, no lock."""
        with self.db.reading() as s:
            found = s.execute(
                select(CheckClaim.monitor_id).where(
                    CheckClaim.holder == token, CheckClaim.again.is_(True)
                )
            ).scalars()
            return {int(monitor_id) for monitor_id in found}

    def renew_round(self, token: str, monitor_ids: Collection[int], now: datetime) -> None:
        """A long round keeps its claims: each of `monitor_ids` it still holds now holds
        for another `ttl` (a round may outlast one claim; its checks still run one at a
        time per app)."""
        with self.db.transaction() as s:
            for chunk in _chunks(sorted(monitor_ids)):
                s.execute(
                    update(CheckClaim)
                    .where(CheckClaim.monitor_id.in_(chunk), CheckClaim.holder == token)
                    .values(until=now + self.ttl)
                )

    def release_round(
        self,
        s: Session,
        token: str,
        monitor_ids: Collection[int],
        *,
        began: datetime,
        answered: Collection[int],
    ) -> set[int]:
        """In `s`, end the round's claims of `monitor_ids` (claimed at `began`); returns
        the monitors a check was asked for while the round held them (check them again,
        whole). Those whose check ran to its end (`answered`) answer the webhook triggers
        that came before the round claimed them; one that came while it ran waits."""
        with self._lock:  # no longer ours, even if the database cannot hear it now
            for monitor_id in monitor_ids:
                if self._held.get(monitor_id) == token:
                    del self._held[monitor_id]
        again: set[int] = set()
        done = set(answered)
        for chunk in _chunks(sorted(monitor_ids)):
            rows = s.execute(
                select(CheckClaim.monitor_id, CheckClaim.again)
                .where(CheckClaim.monitor_id.in_(chunk), CheckClaim.holder == token)
                .order_by(CheckClaim.monitor_id)
                .with_for_update()
            ).all()
            ours = [int(monitor_id) for monitor_id, _ in rows]
            again.update(int(monitor_id) for monitor_id, asked in rows if asked)
            if not ours:
                continue  # gone, or our claims expired and were taken
            answering = [monitor_id for monitor_id in ours if monitor_id in done]
            if answering:
                s.execute(
                    update(CheckClaim)
                    .where(CheckClaim.monitor_id.in_(answering), CheckClaim.asked_at <= began)
                    .values(asked_at=None)
                )
            s.execute(
                update(CheckClaim)
                .where(CheckClaim.monitor_id.in_(ours))
                .values(holder=None, until=None, again=False)
            )
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
        ordered = sorted(monitor_ids)
        # Their rows locked in id order first, as a round locks them (no deadlock with it).
        s.execute(
            select(CheckClaim.monitor_id)
            .where(CheckClaim.monitor_id.in_(ordered))
            .order_by(CheckClaim.monitor_id)
            .with_for_update()
        )
        s.execute(update(CheckClaim).where(CheckClaim.monitor_id.in_(ordered)).values(asked_at=now))


# Monitors one statement names at most (SQLite and PostgreSQL bound a statement's
# parameters): a round of more apps takes one statement more per this many.
CHUNK = 900


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
