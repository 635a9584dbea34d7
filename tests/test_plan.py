"""The polling plan of the leader: planned at what steady rounds cost, one-offs spent once."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from heroku_monitor.runtime.plan import Plan
from heroku_monitor.store.database import Database
from heroku_monitor.store.spend import ONE_OFF, Spend
from tests.support.builders import T0


def test_a_team_pick_up_is_spent_once_then_polling_is_planned_at_the_steady_cost(sqlite_url: str):
    now = [T0]
    spend = Spend(Database(sqlite_url))
    plan = Plan(spend, rate_share=1.0, clock=lambda: now[0])
    plan.measured(1815, 500)  # the team's pick-up: every app read whole
    plan.measured(8, 0)  # the team's job alone, a minute on: its lists
    plan.measured(515, 500)  # a steady round: each app's dynos, the lists once
    assert spend.since(T0)[ONE_OFF] == 1823  # recorded for every process: a new leader too
    plan.replan([1] * 500, now[0] + timedelta(minutes=2))
    assert plan.requests_per_poll == pytest.approx(1.03)
    assert plan.budget.one_off_per_hour == 1823
    # 500 apps at a minute, 1.03 requests each a round: 30,900 an hour as configured, in
    # what the pick-up left of the hour:
    assert plan.interval_seconds(1) == math.ceil(60 * 30_900 / (4500 - 1823))
    now[0] += timedelta(minutes=61)  # the pick-up is out of the budget's hour
    plan.replan([1] * 500, now[0])
    assert plan.interval_seconds(1) == math.ceil(60 * 30_900 / 4500)  # every 6.9 min
