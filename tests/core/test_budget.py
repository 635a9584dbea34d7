"""Polling stays within its share of Heroku's 4,500 requests an hour."""

from __future__ import annotations

import pytest

from heroku_monitor.core.budget import POLLING_FLOOR, plan, webhooks_may_check


def test_intervals_are_kept_while_polling_fits_its_share_and_stretched_just_past_it():
    # 7 apps every minute at 5 requests a poll: 2,100 requests/h, within half of 4,500.
    fits = plan([1] * 7, share=0.5, requests_per_poll=5)
    assert fits.stretch == 1.0 and not fits.stretched and fits.seconds(1) == 60
    # An 8th app makes 2,400/h: every interval grows by 2,400 / 2,250.
    over = plan([1] * 8, share=0.5, requests_per_poll=5)
    assert over.stretched and over.stretch == pytest.approx(2400 / 2250)
    assert over.seconds(1) == 64 and over.seconds(5) == 320


def test_many_apps_at_one_minute_are_stretched_to_half_the_limit():
    # 100 apps polled one by one (5 requests each) every minute: 30,000/h.
    budget = plan([1] * 100, share=0.5, requests_per_poll=5)
    assert budget.demand_per_hour == 30_000
    assert budget.planned_per_hour == pytest.approx(2250)
    assert budget.seconds(1) == 800  # every 13 min 20 s instead of every minute


def test_bulk_rounds_poll_a_hundred_apps_four_times_as_often():
    # A round costs about one request per app (SPEC section 13): 100 apps every 192 s.
    budget = plan([1] * 100, share=0.5, requests_per_poll=1.2)
    assert budget.seconds(1) == 192 and budget.planned_per_hour == pytest.approx(2250)
    assert plan([1] * 500, share=0.5, requests_per_poll=1.05).seconds(1) == 840


@pytest.mark.parametrize("share", [0.1, 0.5, 1.0])
def test_polling_never_plans_more_than_its_share(share: float):
    for count in (1, 7, 50, 300):
        budget = plan([1] * count, share=share)
        assert budget.planned_per_hour <= 4500 * share + 1e-9


def test_no_monitors_need_no_stretch():
    assert plan([], share=0.5).stretch == 1.0


def test_webhook_checks_of_the_last_hour_leave_polling_the_rest_of_the_share():
    # 7 apps every minute (2,100/h) fit half of 4,500 alone; 300 webhook checks (1,500
    # requests) leave polling 750/h: every interval grows 2,100 / 750 = 2.8 times.
    budget = plan([1] * 7, share=0.5, other_requests_last_hour=1500, requests_per_poll=5)
    assert budget.webhook_per_hour == 1500 and budget.allowed_per_hour == 750
    assert budget.stretch == pytest.approx(2.8) and budget.seconds(1) == 168
    assert budget.planned_per_hour + budget.webhook_per_hour == pytest.approx(2250)


def test_a_few_webhook_checks_change_nothing_while_polling_still_fits():
    assert plan([5] * 10, share=0.5, other_requests_last_hour=250).stretch == 1.0


def test_a_webhook_storm_never_stretches_polling_past_its_floor():
    # 10,000 webhook checks spent far more than the share: polling keeps its floor.
    budget = plan([1] * 7, share=0.5, other_requests_last_hour=50_000, requests_per_poll=5)
    assert budget.allowed_per_hour == pytest.approx(2250 * POLLING_FLOOR)
    assert budget.planned_per_hour == pytest.approx(2250 * POLLING_FLOOR)


@pytest.mark.parametrize("webhook_checks", [0, 100, 300, 360])  # up to the floor
def test_polling_and_webhooks_together_never_plan_more_than_the_share(webhook_checks: int):
    for count in (1, 7, 50, 300):
        budget = plan([1] * count, share=0.5, other_requests_last_hour=webhook_checks * 5)
        assert budget.planned_per_hour + budget.webhook_per_hour <= 2250 + 1e-9


def test_webhooks_may_spend_the_share_less_what_polling_keeps():
    # Half of 4,500 is 2,250 an hour; polling keeps a fifth (450): webhooks get 1,800,
    # 360 checks of 5 requests.
    assert webhooks_may_check(0, share=0.5)
    assert webhooks_may_check(359 * 5, share=0.5)
    assert not webhooks_may_check(360 * 5, share=0.5)
    assert not webhooks_may_check(50_000, share=0.5)
