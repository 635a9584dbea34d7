"""The polling lease and the check claims (SPEC section 13), as every process sharing one
database sees them: on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import OperationalError

from heroku_monitor.store.claims import CheckClaims
from heroku_monitor.store.database import Database
from heroku_monitor.store.leader import Leadership
from heroku_monitor.store.monitors import Monitors
from tests.support.builders import T0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_one_process_leads_and_another_takes_over_once_its_lease_expired(database_url: str):
    clock = Clock()
    db = Database(database_url)
    first = Leadership(db, lease_seconds=30, clock=clock, label="web.1")
    second = Leadership(db, lease_seconds=30, clock=clock, label="web.2")
    assert first.tend() == (True, None) and second.tend() == (False, None)
    lease = second.current()
    assert lease is not None and lease.label == "web.1"
    clock.advance(25)
    assert first.tend() == (True, None)  # renewed in time: still the leader
    clock.advance(29)
    assert second.tend() == (False, None)
    clock.advance(2)  # 31 s without a renewal: web.1 is taken for dead
    assert second.tend() == (True, first.holder)
    assert not first.leads() and first.tend() == (False, None)
    lease = second.current()
    assert lease is not None and lease.label == "web.2"


def test_a_leader_that_stops_cleanly_hands_over_at_once(database_url: str):
    clock = Clock()
    db = Database(database_url)
    first, second = (Leadership(db, lease_seconds=30, clock=clock) for _ in range(2))
    first.tend()
    first.resign()
    assert not first.leads() and second.tend()[0]


def test_a_leader_that_cannot_reach_the_database_steps_down(database_url: str, monkeypatch):
    clock = Clock()
    db = Database(database_url)
    leader = Leadership(db, lease_seconds=30, clock=clock)
    assert leader.tend()[0]

    def unreachable():
        raise OperationalError("BEGIN", {}, Exception("connection refused"))

    monkeypatch.setattr(db, "transaction", unreachable)
    assert leader.tend() == (False, None) and not leader.leads()  # it cannot prove it leads


def test_one_check_of_an_app_at_a_time_and_a_webhook_asks_the_running_one_again(
    database_url: str,
):
    db = Database(database_url)
    mid = Monitors(db).add("my-app", "#alerts", 5, T0)
    here, there = CheckClaims(db, owner="a"), CheckClaims(db, owner="b")
    token = here.claim(mid, T0, ask_again=False)
    assert token is not None
    assert there.claim(mid, T0, ask_again=False) is None  # a poll skips it
    assert there.claim(mid, T0, ask_again=True) is None  # a webhook asks for once more
    assert here.release(mid, token) is True
    again = there.claim(mid, T0, ask_again=False)
    assert again is not None and there.release(mid, again) is False


def test_a_claim_whose_holder_died_expires_or_is_freed_by_the_next_leader(database_url: str):
    db = Database(database_url)
    monitors = Monitors(db)
    one, two = (monitors.add(app, "#alerts", 5, T0) for app in ("app-one", "app-two"))
    dead, live, leader = (CheckClaims(db, ttl=120, owner=o) for o in ("dead", "live", "new"))
    assert dead.claim(one, T0, ask_again=False) and live.claim(two, T0, ask_again=False)
    assert leader.claim(one, T0 + timedelta(seconds=121), ask_again=False)  # expired
    dead.claim(two, T0, ask_again=False)  # refused: live holds it
    leader.release_of("dead")
    assert leader.claim(two, T0, ask_again=False) is None  # live's claim stands


def test_a_storm_in_every_process_opens_one_window_with_one_trailing_check(database_url: str):
    db = Database(database_url)
    mid = Monitors(db).add("my-app", "#alerts", 5, T0)
    processes = [CheckClaims(db, owner=str(n)) for n in range(3)]
    seen = [
        processes[n % 3].webhook_window(mid, T0 + timedelta(milliseconds=n), 1.0) for n in range(50)
    ]
    assert seen[0] == 0.0 and seen[1] is not None and seen[1] > 0.9
    assert seen[2:] == [None] * 48
    processes[1].trailing_starts(mid, T0 + timedelta(seconds=1), 1.0)
    assert processes[2].webhook_window(mid, T0 + timedelta(seconds=1.5), 1.0) == 0.5


def test_a_trigger_left_by_a_dead_process_is_answered_within_a_lease_and_a_minute(
    database_url: str,
):
    # Every process renews its liveness as it tends the lease (every third of it, leading
    # or not); the leader's minute job asks which webhook triggers no check will answer.
    clock = Clock()
    db = Database(database_url)
    monitors = Monitors(db)
    ids = [monitors.add(f"app-{n}", "#a", 5, T0) for n in range(4)]
    leader, dead, alive = (Leadership(db, lease_seconds=30, clock=clock) for _ in range(3))
    assert leader.tend()[0] and not dead.tend()[0] and not alive.tend()[0]
    # Two followers answered a delivery each and began its check; a third delivery waits
    # for its trailing check (no claim yet).
    for process, mid in ((dead, ids[0]), (alive, ids[1])):
        claims = CheckClaims(db, owner=process.holder)
        claims.webhook_window(mid, clock(), 1.0)
        assert claims.claim(mid, clock(), ask_again=False)
    CheckClaims(db).webhook_window(ids[2], clock(), 1.0)
    for seconds in (20, 11):  # `dead` was killed: it renews nothing; the others renew
        clock.advance(seconds)
        assert leader.tend() == (True, None) and alive.tend() == (False, None)
    # 31 s after the kill (its claim holds 120 s), its trigger is the leader's to check:
    assert leader.unanswered(stale=timedelta(seconds=60)) == ([ids[0]], {dead.holder: dead.label})
    CheckClaims(db).release_of(dead.holder)  # what the leader does with the dead's claims
    clock.advance(9)
    # A process that claimed a check a moment ago, never having tended (it starts, or runs
    # a version without liveness), is not taken for dead.
    fresh = CheckClaims(db, owner="starting")
    fresh.webhook_window(ids[3], clock(), 1.0)
    assert fresh.claim(ids[3], clock(), ask_again=False)
    clock.advance(21)
    assert leader.tend() == (True, None) and alive.tend() == (False, None)
    # The trigger no check began is stale a minute on (its process died before claiming).
    assert leader.unanswered(stale=timedelta(seconds=60)) == ([ids[0], ids[2]], {})
