"""The polling plan: how often each monitor is actually polled, its configured interval
stretched to fit the share of Heroku's rate budget polling may use, less what the other
checks of every process and the rounds' one-offs spent in the last hour (SPEC §13); and
whether webhooks' checks still have some of their part left.

A round is planned at what steady rounds cost (`budget.learn`): what a round spends over
that (a first round, a team's pick-up, releases re-read) is recorded as spent (`ONE_OFF`,
in the database: a new leader knows it too) and comes out of the hour's budget, once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from heroku_monitor.core import budget
from heroku_monitor.core.clock import Clock, utcnow
from heroku_monitor.runtime.check import POLL, WEBHOOK
from heroku_monitor.store.database import database_problem
from heroku_monitor.store.spend import ONE_OFF, WINDOW, Spend

log = logging.getLogger(__name__)


class Plan:
    def __init__(
        self,
        spend: Spend,
        *,
        rate_share: float = 0.5,
        minute: float = 60.0,
        clock: Clock = utcnow,
    ) -> None:
        self.spend = spend
        self.rate_share = rate_share
        # Seconds in an interval's minute: 60, but a test may make time run faster.
        self.minute = minute
        self.clock = clock
        self.budget = budget.plan([], share=rate_share)
        # What a steady round costs per app, learned from the rounds this process led.
        self.costs = budget.RoundCosts()

    @property
    def requests_per_poll(self) -> float:
        """What a steady round costs per app, measured (the plan's figure until then)."""
        return self.costs.planned

    @requests_per_poll.setter
    def requests_per_poll(self, requests: float) -> None:
        self.costs = replace(self.costs, per_poll=requests, rounds=max(2, self.costs.rounds))

    def replan(self, intervals: list[int], now: datetime) -> None:
        """Plan polling the active monitors, configured at these `intervals` (minutes),
        within the rate budget less what the other checks spent in the hour to `now`."""
        spent = self.spend.since(now - WINDOW)
        others = sum(n for source, n in spent.items() if source not in (POLL, ONE_OFF))
        planned = budget.plan(
            intervals,
            share=self.rate_share,
            other_requests_last_hour=others,
            requests_per_poll=self.requests_per_poll,
            one_off_requests_last_hour=spent.get(ONE_OFF, 0),
        )
        before = self.budget.stretch
        # Webhook checks move the plan a little every minute: say so only when it moved.
        if planned.stretched and (
            not self.budget.stretched or abs(planned.stretch / before - 1) > 0.1
        ):
            log.warning(
                "polling %d apps as configured would take %.0f Heroku requests an hour (%.2f "
                "an app a round), over the %.0f left for polling (%.0f%% of 4,500, less %.0f "
                "spent by webhooks' and people's checks and %.0f by rounds' one-off reads in "
                "the last hour): intervals are stretched %.1f times",
                len(intervals),
                planned.demand_per_hour,
                planned.requests_per_poll,
                planned.allowed_per_hour,
                self.rate_share * 100,
                planned.webhook_per_hour,
                planned.one_off_per_hour,
                planned.stretch,
            )
        self.budget = planned

    def measured(self, requests: int, polls: int) -> None:
        """A round spent `requests` polling `polls` apps (none: a team's lists alone): the
        cost of a steady round learned, and what it spent over that recorded as spent."""
        self.costs, one_off = budget.learn(self.costs, requests, polls)
        if not one_off:
            return
        try:
            self.spend.add({ONE_OFF: one_off}, self.clock())
        except SQLAlchemyError as exc:  # the plan is a little generous for an hour
            log.warning(
                "recording %d Heroku requests of a round's one-off reads failed: %s",
                one_off,
                database_problem(exc),
            )

    def seconds(self, minutes: int) -> float:
        """Seconds between two polls of a monitor configured at `minutes`, in the budget."""
        return self.budget.seconds(minutes) * self.minute / 60

    def interval_seconds(self, minutes: int) -> int:
        """How often a monitor configured at `minutes` is actually polled."""
        return math.ceil(self.seconds(minutes))

    def webhooks_spent(self, now: datetime) -> int | None:
        """The Heroku requests webhooks' checks spent in the hour to `now`, by any process,
        when that is their whole part of the rate budget; None while they may check."""
        spent = self.spend.since(now - WINDOW).get(WEBHOOK, 0)
        return None if budget.webhooks_may_check(spent, share=self.rate_share) else spent
