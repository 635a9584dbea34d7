"""How often polling may run within Heroku's rate limit. Pure: numbers in, numbers out.

Heroku gives each account 4,500 requests an hour, refilled continuously and shared with
every other tool using the same token (https://devcenter.heroku.com/articles/platform-api-reference#rate-limits).
The monitor may spend a share of it. Checks that webhooks triggered in the last hour spent
part of that share already: polling gets the rest (never less than `POLLING_FLOOR` of the
share, so a webhook storm cannot switch the safety net off), and when the monitors'
intervals would spend more, every interval is stretched by the same factor. Webhooks keep
detection instant meanwhile.
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
# However many checks webhooks triggered, polling keeps this part of the share.
POLLING_FLOOR = 0.2


@dataclass(frozen=True)
class Budget:
    """The polling plan for the active monitors."""

    stretch: float  # 1.0 when the configured intervals fit
    demand_per_hour: float  # requests/hour the configured intervals would spend
    allowed_per_hour: float  # what polling may spend: the share less the webhooks' checks
    webhook_per_hour: float = 0.0  # requests the webhooks' checks spent in the last hour
    share_per_hour: float = 0.0  # the monitor's whole share of the limit (polling + webhooks)

    @property
    def stretched(self) -> bool:
        return self.stretch > 1.0

    def seconds(self, minutes: int) -> int:
        """The interval to poll at for a monitor configured at `minutes`."""
        return math.ceil(minutes * 60 * self.stretch)

    @property
    def planned_per_hour(self) -> float:
        """What polling at the stretched intervals spends."""
        return self.demand_per_hour / self.stretch


def plan(
    intervals_minutes: Sequence[int],
    *,
    share: float,
    webhook_checks_last_hour: int = 0,
    limit_per_hour: int = HEROKU_REQUESTS_PER_HOUR,
    requests_per_check: int = REQUESTS_PER_CHECK,
) -> Budget:
    """Stretch factor so that polling every monitor, plus the checks webhooks triggered in
    the last hour (taken as the rate for the next one), spend at most `share` of the limit
    (polling keeps `POLLING_FLOOR` of it whatever the webhooks spent)."""
    demand = sum(requests_per_check * 60 / minutes for minutes in intervals_minutes)
    share_per_hour = limit_per_hour * share
    webhooks = max(0, webhook_checks_last_hour) * requests_per_check
    allowed = max(share_per_hour - webhooks, share_per_hour * POLLING_FLOOR)
    stretch = max(1.0, demand / allowed) if allowed > 0 else 1.0
    return Budget(
        stretch=stretch,
        demand_per_hour=demand,
        allowed_per_hour=allowed,
        webhook_per_hour=webhooks,
        share_per_hour=share_per_hour,
    )


def webhooks_may_check(
    webhook_checks_last_hour: int,
    *,
    share: float,
    limit_per_hour: int = HEROKU_REQUESTS_PER_HOUR,
    requests_per_check: int = REQUESTS_PER_CHECK,
) -> bool:
    """Whether webhooks may start another check: they may spend the share less what polling
    keeps (`POLLING_FLOOR`); past that, changes wait for the next poll."""
    spent = max(0, webhook_checks_last_hour) * requests_per_check
    return spent + requests_per_check <= limit_per_hour * share * (1 - POLLING_FLOOR)
