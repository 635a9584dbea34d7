"""Polling stays within its share of Heroku's 4,500 requests an hour."""

from __future__ import annotations

import pytest

from heroku_monitor.budget import plan


def test_a_few_apps_poll_at_their_configured_interval():
    budget = plan([5, 1, 10], share=0.5)
    assert budget.stretch == 1.0 and not budget.stretched
    assert budget.seconds(1) == 60


def test_many_apps_at_one_minute_are_stretched_to_half_the_limit():
    budget = plan([1] * 100, share=0.5)  # 100 apps x 5 requests x 60/h = 30,000/h
    assert budget.demand_per_hour == 30_000
    assert budget.planned_per_hour == pytest.approx(2250)
    assert budget.seconds(1) == 800  # every 13 min 20 s instead of every minute


@pytest.mark.parametrize("share", [0.1, 0.5, 1.0])
def test_polling_never_plans_more_than_its_share(share: float):
    for count in (1, 7, 50, 300):
        budget = plan([1] * count, share=share)
        assert budget.planned_per_hour <= 4500 * share + 1e-9


def test_no_monitors_need_no_stretch():
    assert plan([], share=0.5).stretch == 1.0
