"""Which process polls: the one holding the "polling" lease in the database (SPEC §13).

Every process serves webhooks, commands, interactions and drains; exactly one of those
sharing a database runs the polling rounds, so polling costs the same Heroku requests for
one process or ten. The lease is a row with an expiry, the same on SQLite and PostgreSQL:
its holder renews it every third of `lease_seconds`; when the holder dies (even by
kill -9) the row expires and another process, trying as often, takes it over: within
`lease_seconds` and a third of it, inside the two lease periods SPEC §13 allows.

Every process renews a liveness row of its own as it tends the lease (`alive:<holder>`,
same table, same expiry), leading or not: so the leader can tell a check claim whose
process was killed mid-check (its liveness expired) from one a live process holds, and
check what that process's webhook asked for within a lease and a minute, instead of
waiting out the claim (`unanswered`).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from heroku_monitor.core.clock import Clock, utcnow
from heroku_monitor.store.database import Database, database_problem, rowcount
from heroku_monitor.store.models import CheckClaim, Lease

log = logging.getLogger(__name__)

POLLING = "polling"
ALIVE = "alive:"  # a process's liveness: `alive:<holder>`, renewed as it tends the lease


@dataclass(frozen=True)
class LeaseView:
    """Who leads, as /healthz and the dashboard show it."""

    holder: str
    label: str
    since: datetime
    expires_at: datetime
    ours: bool  # held by this process


def process_label() -> str:
    """This process, for people: its host and pid (on Heroku, the dyno's name)."""
    return f"{os.environ.get('DYNO') or socket.gethostname()} pid {os.getpid()}"


class Leadership:
    """This process's claim on the polling lease."""

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float = 30.0,
        clock: Clock = utcnow,
        label: str | None = None,
        holder: str | None = None,
    ) -> None:
        self.db = db
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        # One per process start (a restart is a new holder); its check claims carry it.
        self.holder = holder or uuid.uuid4().hex
        self.label = label or process_label()
        # Until when this process's own lease surely holds (None: it holds none).
        self._holds_until: datetime | None = None

    @property
    def renew_every(self) -> float:
        return self.lease.total_seconds() / 3

    def leads(self, now: datetime | None = None) -> bool:
        """Whether this process holds the lease now, by its last renewal (no I/O)."""
        now = now or self.clock()
        return self._holds_until is not None and now < self._holds_until

    def tend(self) -> tuple[bool, str | None]:
        """Take the lease if it is free or expired, or renew ours. Returns whether this
        process leads, and the holder it took the lease from (a process that died), if any.
        A database that fails makes this process step down: it cannot prove it leads."""
        now = self.clock()
        try:
            taken_from = self._tend(now)
        except SQLAlchemyError as exc:
            if self._holds_until is not None:
                log.warning(
                    "renewing the polling lease failed (%s): this process stops polling",
                    database_problem(exc),
                )
            self._holds_until = None
            return False, None
        return self.leads(now), taken_from

    def _tend(self, now: datetime) -> str | None:
        expires = now + self.lease
        with self.db.transaction() as s:
            self._still_alive(s, now, expires)
            if self.db.insert_new(
                s,
                Lease,
                name=POLLING,
                holder=self.holder,
                label=self.label,
                since=now,
                expires_at=expires,
            ):
                self._holds_until = expires
                log.info("this process (%s) leads the polling", self.label)
                return None
            row = s.execute(
                select(Lease).where(Lease.name == POLLING).with_for_update()
            ).scalar_one()
            if row.holder == self.holder:
                row.expires_at = expires
                self._holds_until = expires
                return None
            if row.expires_at > now:
                self._holds_until = None
                return None
            previous, previous_label = row.holder, row.label
            taken = s.execute(
                update(Lease)
                .where(Lease.name == POLLING, Lease.holder == previous)
                .values(holder=self.holder, label=self.label, since=now, expires_at=expires)
            )
            if rowcount(taken) != 1:
                return None
        self._holds_until = expires
        log.warning(
            "this process (%s) leads the polling now: the lease of %s expired",
            self.label,
            previous_label,
        )
        return previous

    def _still_alive(self, s: Any, now: datetime, expires: datetime) -> None:
        """Renew this process's liveness (made by its first renewal)."""
        s.execute(
            self.db.insert(Lease)
            .values(
                name=ALIVE + self.holder,
                holder=self.holder,
                label=self.label,
                since=now,
                expires_at=expires,
            )
            .on_conflict_do_update(index_elements=["name"], set_={"expires_at": expires})
        )

    def unanswered(self, *, stale: timedelta) -> tuple[list[int], dict[str, str]]:
        """The monitors whose webhook trigger no check will answer (one read, for the
        leader's minute job): a claim of its check is held by a process whose liveness
        expired (killed mid-check: its claim would hold for minutes), or none holds one and
        the trigger waits for more than `stale` (its process died before claiming). And
        those dead processes (holder -> label), whose claims are to be freed.

        A claim whose process has no liveness row at all is left to expire: that process
        may be starting, or run a version without liveness."""
        now = self.clock()
        owner = ALIVE + func.substr(CheckClaim.holder, 1, func.length(Lease.holder))
        dead = and_(
            Lease.name == owner,
            func.substr(CheckClaim.holder, func.length(Lease.holder) + 1, 1) == ":",
            Lease.expires_at <= now,
        )
        query = (
            select(
                CheckClaim.monitor_id,
                CheckClaim.holder,
                CheckClaim.until,
                CheckClaim.asked_at,
                Lease.holder,
                Lease.label,
            )
            .outerjoin(Lease, dead)
            .where(CheckClaim.asked_at.is_not(None))
            .order_by(CheckClaim.monitor_id)
        )
        with self.db.reading() as s:
            rows = s.execute(query).all()
        monitors: list[int] = []
        dead_ones: dict[str, str] = {}
        for monitor_id, holder, until, asked_at, dead_holder, label in rows:
            held = holder is not None and until is not None and until > now
            if held and dead_holder is not None:
                dead_ones[dead_holder] = label
            elif held or asked_at is None or asked_at >= now - stale:
                continue
            if monitor_id not in monitors:
                monitors.append(monitor_id)
        return monitors, dead_ones

    def resign(self) -> None:
        """Give the lease up at a clean stop, so another process takes over at once (and
        this process's liveness: its claims were released)."""
        if self._holds_until is None:
            self._no_longer_alive()
            return
        self._holds_until = None
        try:
            with self.db.transaction() as s:
                s.execute(
                    update(Lease)
                    .where(Lease.name == POLLING, Lease.holder == self.holder)
                    .values(expires_at=self.clock())
                )
                s.execute(
                    update(Lease)
                    .where(Lease.name == ALIVE + self.holder)
                    .values(expires_at=self.clock())
                )
        except SQLAlchemyError as exc:
            log.warning(
                "giving up the polling lease failed (%s): it expires", database_problem(exc)
            )

    def _no_longer_alive(self) -> None:
        try:
            with self.db.transaction() as s:
                s.execute(
                    update(Lease)
                    .where(Lease.name == ALIVE + self.holder)
                    .values(expires_at=self.clock())
                )
        except SQLAlchemyError as exc:
            log.debug("ending this process's liveness failed: %s", database_problem(exc))

    def current(self) -> LeaseView | None:
        """Who holds the lease now (None: nobody, or it expired)."""
        with self.db.reading() as s:
            row = s.execute(select(Lease).where(Lease.name == POLLING)).scalar_one_or_none()
            if row is None or row.expires_at <= self.clock():
                return None
            ours = row.holder == self.holder
            return LeaseView(row.holder, row.label, row.since, row.expires_at, ours)
