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
(SPEC §13); a check of one app alone (a webhook's, a person's) costs five. Polling is
planned from what steady rounds cost (`learn`): a first round (every app read whole), a
team's pick-up, a round of a team's lists alone and the re-reads of releases and config
vars are one-offs, spent once: what a round spends over the steady cost is taken out of
the hour's budget, as the other checks' spend is, and never planned as a rate.
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
# How the planned cost of a steady round follows the rounds measured: a cheaper one brings
# it half-way down at once; a dearer one right after another moves it up by this part of
# the gap (capped at double), weighed by the round's size against the largest lately (a few
# apps' round is mostly the lists): a one-off never moves it, a cost that really grew is
# learned within rounds.
LEARN_DOWN = 0.5
LEARN_UP = 0.25


@dataclass(frozen=True)
class Budget:
    """The polling plan for the active monitors."""

    stretch: float  # 1.0 when the configured intervals fit
    demand_per_hour: float  # requests/hour the configured intervals would spend
    allowed_per_hour: float  # what polling may spend: the share less the other checks'
    webhook_per_hour: float = 0.0  # requests the other checks spent in the last hour
    share_per_hour: float = 0.0  # the monitor's whole share of the limit (polling + webhooks)
    requests_per_poll: float = REQUESTS_PER_POLL  # what one app costs a steady round
    one_off_per_hour: float = 0.0  # what rounds spent over their steady cost in the last hour

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
    one_off_requests_last_hour: int = 0,
) -> Budget:
    """Stretch factor so that polling every monitor at the cost of a steady round, plus
    what the other checks (webhooks', people's) spent in the last hour (taken as the rate
    for the next one) and what rounds spent on one-offs in it (spent, not a rate), spend at
    most `share` of the limit (polling keeps `POLLING_FLOOR` of it whatever was spent)."""
    demand = sum(requests_per_poll * 60 / minutes for minutes in intervals_minutes)
    share_per_hour = limit_per_hour * share
    others, once = max(0, other_requests_last_hour), max(0, one_off_requests_last_hour)
    allowed = max(share_per_hour - others - once, share_per_hour * POLLING_FLOOR)
    stretch = max(1.0, demand / allowed) if allowed > 0 else 1.0
    return Budget(
        stretch=stretch,
        demand_per_hour=demand,
        allowed_per_hour=allowed,
        webhook_per_hour=others,
        share_per_hour=share_per_hour,
        requests_per_poll=requests_per_poll,
        one_off_per_hour=once,
    )


@dataclass(frozen=True)
class RoundCosts:
    """What a steady polling round costs per app, learned from the rounds measured."""

    per_poll: float | None = None  # None until a steady round was measured
    rounds: int = 0  # rounds of at least one app measured
    polls_lately: float = 0.0  # the largest round lately (apps), a tenth less each round
    dearer: bool = False  # the last round cost more than planned

    @property
    def planned(self) -> float:
        """Requests an app costs a round, as polling is planned (a guess until measured)."""
        return REQUESTS_PER_POLL if self.per_poll is None else self.per_poll


def learn(costs: RoundCosts, requests: int, polls: int) -> tuple[RoundCosts, int]:
    """A round spent `requests` (its lists included) polling `polls` apps: the costs
    learned, and what it spent on one-offs (to take out of the hour's budget, not plan).

    - a round of no app (a team's lists alone) is a one-off;
    - the first round of apps is one (after a start or a pick-up every app is read whole;
      after a restart it may be steady: counted as spent all the same, it costs nothing
      more); the next one is the first measure of a steady round;
    - then a round cheaper than planned brings the plan half-way down; what a dearer one
      spent over the plan is a one-off, and from the second dearer round in a row the plan
      moves up a little too (`LEARN_UP`, weighed by the round's size)."""
    requests = max(0, requests)
    if polls <= 0:
        return costs, requests
    lately = max(float(polls), costs.polls_lately * 0.9)
    if costs.rounds == 0:
        return RoundCosts(None, 1, lately), requests
    measured = requests / polls
    if costs.per_poll is None:
        return RoundCosts(measured, costs.rounds + 1, lately), 0
    planned, dearer = costs.per_poll, measured > costs.per_poll
    if not dearer:
        planned += LEARN_DOWN * (measured - planned)
    elif costs.dearer:
        weight = min(1.0, polls / lately)
        planned += LEARN_UP * weight * (min(measured, 2 * planned) - planned)
    one_off = max(0, requests - math.ceil(polls * planned))
    return RoundCosts(planned, costs.rounds + 1, lately, dearer), one_off


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
