"""How often polling may run within Heroku's rate limit. Pure: numbers in, numbers out.

Heroku gives each account 4,500 requests an hour, refilled continuously and shared with
every other tool using the same token (https://devcenter.heroku.com/articles/platform-api-reference#rate-limits).
Polling may spend a share of it; when the monitors' intervals would spend more, every
interval is stretched by the same factor. Webhooks keep detection instant meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

HEROKU_REQUESTS_PER_HOUR = 4500
# A check reads the app, its dynos, its newest releases, its add-ons and its config vars.
REQUESTS_PER_CHECK = 5
# Below this many requests left on the token, checks pause: they are the team's too.
RESERVE = HEROKU_REQUESTS_PER_HOUR // 20


@dataclass(frozen=True)
class Budget:
    """The polling plan for the active monitors."""

    stretch: float  # 1.0 when the configured intervals fit
    demand_per_hour: float  # requests/hour the configured intervals would spend
    allowed_per_hour: float  # the share of Heroku's limit polling may spend

    @property
    def stretched(self) -> bool:
        return self.stretch > 1.0

    def seconds(self, minutes: int) -> int:
        """The interval to poll at for a monitor configured at `minutes`."""
        return math.ceil(minutes * 60 * self.stretch)

    @property
    def planned_per_hour(self) -> float:
        return self.demand_per_hour / self.stretch


def plan(
    intervals_minutes: Sequence[int],
    *,
    share: float,
    limit_per_hour: int = HEROKU_REQUESTS_PER_HOUR,
    requests_per_check: int = REQUESTS_PER_CHECK,
) -> Budget:
    """Stretch factor so that polling every monitor spends at most `share` of the limit."""
    demand = sum(requests_per_check * 60 / minutes for minutes in intervals_minutes)
    allowed = limit_per_hour * share
    stretch = max(1.0, demand / allowed) if allowed > 0 else 1.0
    return Budget(stretch=stretch, demand_per_hour=demand, allowed_per_hour=allowed)
