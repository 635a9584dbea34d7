"""Polling is planned from what steady rounds cost; one-offs are spent, never a rate."""

from __future__ import annotations

import math

import pytest

from heroku_monitor.core.budget import REQUESTS_PER_POLL, RoundCosts, learn, plan


def learned(*rounds: tuple[int, int]) -> RoundCosts:
    """The costs learned from these rounds, (requests, apps polled) each, in order."""
    costs = RoundCosts()
    for requests, polls in rounds:
        costs, _ = learn(costs, requests, polls)
    return costs


STEADY = (515, 500)  # 500 apps: their dynos, and the team's and the add-ons' lists


@pytest.mark.parametrize(
    "requests, polls",
    [
        (1815, 500),  # a first round: every app read whole (releases, config vars)
        (1815, 500),  # ... or a team's pick-up of its 500 apps
        (4, 1),  # one app, first read
    ],
)
def test_a_first_round_is_not_planned_as_a_rate(requests: int, polls: int):
    costs, one_off = learn(RoundCosts(), requests, polls)
    assert costs.per_poll is None and costs.planned == REQUESTS_PER_POLL
    assert one_off == requests  # spent all the same: out of the hour's budget


def test_a_round_of_the_lists_alone_is_not_planned_as_a_rate():
    # A team watch's job that fires alone, before its apps' own jobs come due.
    for before in (RoundCosts(), learned((1815, 500), STEADY)):
        costs, one_off = learn(before, 8, 0)
        assert costs == before and one_off == 8


@pytest.mark.parametrize("rounds", [[STEADY], [STEADY] * 5, [(530, 500), STEADY, (520, 500)]])
def test_steady_rounds_are_planned_at_what_they_cost(rounds: list[tuple[int, int]]):
    costs = learned((1815, 500), *rounds)
    assert costs.planned == pytest.approx(515 / 500, rel=0.02)
    assert plan([1] * 500, share=1.0, requests_per_poll=costs.planned).seconds(1) <= 7 * 60


@pytest.mark.parametrize(
    "requests, polls",
    [
        (1515, 500),  # the hourly re-read of every app's releases and config vars
        (625, 550),  # a team's pick-up of 50 new apps, read whole, in a round of 500
        (560, 500),  # a few deploys: those apps' releases and config vars read again
        (9, 1),  # one app's round in a big account: the lists are most of it
    ],
)
def test_what_a_round_spends_over_the_steady_cost_is_spent_not_planned(requests: int, polls: int):
    steady = learned((1815, 500), STEADY, STEADY)
    costs, one_off = learn(steady, requests, polls)
    assert costs.planned <= steady.planned * 1.25  # barely moved, and back down soon:
    assert one_off == requests - math.ceil(polls * costs.planned)  # the rest: spent
    again = learned((1815, 500), STEADY, STEADY, (requests, polls), *[STEADY] * 3)
    assert again.planned == pytest.approx(steady.planned, rel=0.05)


def test_a_steady_cost_that_really_grew_is_planned_within_a_few_rounds():
    # Every app now deploys between two rounds: each round reads every app's details.
    costs = learned((1815, 500), STEADY, *[(1515, 500)] * 10)
    assert costs.planned == pytest.approx(1515 / 500, rel=0.1)


def test_a_cheaper_round_brings_the_plan_down_at_once():
    costs = learned((1815, 500), (1000, 500), STEADY)
    assert costs.planned == pytest.approx((2 + 515 / 500) / 2)


def test_one_offs_spent_in_the_last_hour_come_out_of_the_hour_but_are_not_a_rate():
    # 500 apps at a minute, 1.03 requests each a round: 30,900 an hour as configured.
    just_after = plan([1] * 500, share=1.0, requests_per_poll=1.03, one_off_requests_last_hour=1500)
    assert just_after.allowed_per_hour == 3000 and just_after.one_off_per_hour == 1500
    assert just_after.seconds(1) == math.ceil(60 * 30_900 / 3000)  # 10.3 min for that hour
    an_hour_on = plan([1] * 500, share=1.0, requests_per_poll=1.03)
    assert an_hour_on.seconds(1) == math.ceil(60 * 30_900 / 4500)  # 6.9 min, as 4,500/h allow
