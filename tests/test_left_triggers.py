"""A webhook's trigger left by a process killed mid-check, which never led: the leader's
minute job checks it once that process's liveness expired, not once its claim did."""

from __future__ import annotations

from datetime import timedelta

from tests.support.web import wait_until
from tests.support.webhooks import SECRET
from tests.support.world import World

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"


def test_a_trigger_left_by_a_follower_killed_mid_check_is_checked_at_the_leaders_next_minute(
    world: World,
):
    leader = world.service(heroku_webhook_secret=SECRET, leader_lease_seconds=2)
    leader.scheduler.start()  # it leads, and its first round is the baseline
    try:
        wait_until(lambda: leader.scheduler.rounds >= 1)
        world.sim.crash_dyno("my-app", "web.1")
        # A process that did not lead answered the crash's delivery and was killed in the
        # middle of its check, 5 s ago: its claim holds for over a minute more, but it last
        # renewed its liveness then, for a lease of 2 s.
        follower = world.service(heroku_webhook_secret=SECRET, leader_lease_seconds=2)
        (monitor,) = follower.monitors.all()
        then = follower.clock() - timedelta(seconds=5)
        follower.leadership.clock = lambda: then
        assert follower.leadership.tend() == (False, None)
        follower.checker.claims.webhook_window(monitor.id, then, 1.0)
        assert follower.checker.claims.claim(monitor.id, then, ask_again=False)
        follower.db.engine.dispose()
        leader.scheduler._reconcile()  # its minute job
        world.slack.wait_for_messages(1, timeout=10)
    finally:
        leader.scheduler.shutdown()
    assert world.slack.messages[0]["text"].startswith(CRASH)
