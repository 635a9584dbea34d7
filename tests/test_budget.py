"""Polling stays within its share of Heroku's 4,500 requests an hour."""

from __future__ import annotations

import pytest

from heroku_monitor.budget import plan


def test_intervals_are_kept_while_polling_fits_its_share_and_stretched_just_past_it():
    # 7 apps every minute: 7 x 5 x 60 = 2,100 requests/h, within half of 4,500 (2,250).
    fits = plan([1] * 7, share=0.5)
    assert fits.stretch == 1.0 and not fits.stretched and fits.seconds(1) == 60
    # An 8th app makes 2,400/h: every interval grows by 2,400 / 2,250.
    over = plan([1] * 8, share=0.5)
    assert over.stretched and over.stretch == pytest.approx(2400 / 2250)
    assert over.seconds(1) == 64 and over.seconds(5) == 320


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
