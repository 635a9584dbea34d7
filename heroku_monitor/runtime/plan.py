"""The polling plan: how often each monitor is actually polled, its configured interval
stretched to fit the share of Heroku's rate budget polling may use, less what the other
checks of every process spent in the last hour (SPEC §13); and whether webhooks' checks
still have some of their part left.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from heroku_monitor.core import budget
from heroku_monitor.runtime.check import POLL, WEBHOOK
from heroku_monitor.store.spend import WINDOW, Spend

log = logging.getLogger(__name__)


class Plan:
    def __init__(self, spend: Spend, *, rate_share: float = 0.5, minute: float = 60.0) -> None:
        self.spend = spend
        self.rate_share = rate_share
        # Seconds in an interval's minute: 60, but a test may make time run faster.
        self.minute = minute
        self.budget = budget.plan([], share=rate_share)
        # What a round cost per app, measured (the plan's figure until a round ran).
        self.requests_per_poll = budget.REQUESTS_PER_POLL

    def replan(self, intervals: list[int], now: datetime) -> None:
        """Plan polling the active monitors, configured at these `intervals` (minutes),
        within the rate budget less what the other checks spent in the hour to `now`."""
        spent = self.spend.since(now - WINDOW)
        others = sum(n for source, n in spent.items() if source != POLL)
        planned = budget.plan(
            intervals,
            share=self.rate_share,
            other_requests_last_hour=others,
            requests_per_poll=self.requests_per_poll,
        )
        before = self.budget.stretch
        # Webhook checks move the plan a little every minute: say so only when it moved.
        if planned.stretched and (
            not self.budget.stretched or abs(planned.stretch / before - 1) > 0.1
        ):
            log.warning(
                "polling %d apps as configured would take %.0f Heroku requests an hour, over "
                "the %.0f left for polling (%.0f%% of 4,500, less %.0f spent by webhooks' and "
                "people's checks in the last hour): intervals are stretched %.1f times",
                len(intervals),
                planned.demand_per_hour,
                planned.allowed_per_hour,
                self.rate_share * 100,
                planned.webhook_per_hour,
                planned.stretch,
            )
        self.budget = planned

    def measured(self, requests: int, polls: int) -> None:
        """A round spent `requests` polling `polls` apps: a moving average, so one round of
        first checks does not stretch the plan."""
        measured = requests / max(1, polls)
        self.requests_per_poll = 0.8 * self.requests_per_poll + 0.2 * measured

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
