"""How often polling may run within Heroku's rate limit. Pure: numbers in, numbers out.

Heroku gives each account 4,500 requests an hour, refilled continuously and shared with
every other tool using the same token (https://devcenter.heroku.com/articles/platform-api-reference#rate-limits).
The monitor may spend a share of it, counted across every process sharing the database.
What webhooks' and people's checks spent in the last hour is taken out of that share
first: polling gets the rest (never less than `POLLING_FLOOR` of the share, so a webhook
storm cannot switch the safety net off), and when the monitors' intervals would spend
more, every interval is stretched by the same factor. Webhooks keep detection instant
meanwhile.

A polling round costs about one request per app (its dynos) plus the lists it shares
(SPEC §13); a check of one app alone (a webhook's, a person's) costs five.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

HEROKU_REQUESTS_PER_HOUR = 4500
# A check of one app alone reads the app, its dynos, newest releases, add-ons and config.
REQUESTS_PER_CHECK = 5
# What a round is planned to cost per app until rounds have measured it: its dynos, a
# share of the lists, and now and then its releases and config vars.
REQUESTS_PER_POLL = 1.2
# Below this many requests left on the token, checks pause: they are the team's too.
RESERVE = HEROKU_REQUESTS_PER_HOUR // 20
# However many checks webhooks triggered, polling keeps this part of the share.
POLLING_FLOOR = 0.2


@dataclass(frozen=True)
class Budget:
    """The polling plan for the active monitors."""

    stretch: float  # 1.0 when the configured intervals fit
    demand_per_hour: float  # requests/hour the configured intervals would spend
    allowed_per_hour: float  # what polling may spend: the share less the other checks'
    webhook_per_hour: float = 0.0  # requests the other checks spent in the last hour
    share_per_hour: float = 0.0  # the monitor's whole share of the limit (polling + webhooks)
    requests_per_poll: float = REQUESTS_PER_POLL  # what one app costs a round

    @property
    def stretched(self) -> bool:
        return self.stretch > 1.0

    def seconds(self, minutes: int) -> int:
        """The interval to poll at for a monitor configured at `minutes`."""
        # Rounded first: 66.67 x 60 must be 4,000 s, not 4,000.0000000000005 -> 4,001.
        return math.ceil(round(minutes * 60 * self.stretch, 6))

    @property
    def planned_per_hour(self) -> float:
        """What polling at the stretched intervals spends."""
        return self.demand_per_hour / self.stretch


def plan(
    intervals_minutes: Sequence[int],
    *,
    share: float,
    other_requests_last_hour: int = 0,
    limit_per_hour: int = HEROKU_REQUESTS_PER_HOUR,
    requests_per_poll: float = REQUESTS_PER_POLL,
) -> Budget:
    """Stretch factor so that polling every monitor, plus what the other checks (webhooks',
    people's) spent in the last hour (taken as the rate for the next one), spend at most
    `share` of the limit (polling keeps `POLLING_FLOOR` of it whatever the others spent)."""
    demand = sum(requests_per_poll * 60 / minutes for minutes in intervals_minutes)
    share_per_hour = limit_per_hour * share
    others = max(0, other_requests_last_hour)
    allowed = max(share_per_hour - others, share_per_hour * POLLING_FLOOR)
    stretch = max(1.0, demand / allowed) if allowed > 0 else 1.0
    return Budget(
        stretch=stretch,
        demand_per_hour=demand,
        allowed_per_hour=allowed,
        webhook_per_hour=others,
        share_per_hour=share_per_hour,
        requests_per_poll=requests_per_poll,
    )


def webhooks_may_check(
    webhook_requests_last_hour: int,
    *,
    share: float,
    limit_per_hour: int = HEROKU_REQUESTS_PER_HOUR,
    requests_per_check: int = REQUESTS_PER_CHECK,
) -> bool:
    """Whether webhooks may start another check: they may spend the share less what polling
    keeps (`POLLING_FLOOR`); past that, changes wait for the next poll."""
    spent = max(0, webhook_requests_last_hour)
    return spent + requests_per_check <= limit_per_hour * share * (1 - POLLING_FLOOR)
