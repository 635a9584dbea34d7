"""Rounds that cost what changed (SPEC §13): an app whose snapshot did not move costs no
database write of its own in a polling round (the round claims, stamps and releases its
apps in a fixed number of statements); an app watched by two monitors is read once a round
(SPEC §14: each change still posted once in each channel); and a check whose recording
itself hits a bug still counts, its third failure in a row alerting (SPEC §16)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from heroku_monitor.runtime import recording
from heroku_monitor.runtime.check import WEBHOOK
from heroku_monitor.service import Service
from heroku_monitor.store.claims import CheckClaims
from heroku_monitor.store.models import CheckClaim
from heroku_monitor.web import create_app
from tests.support.web import NO_INTERVAL_POLLS, wait_until
from tests.support.world import APP, World

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
TROUBLE = "🔥 *Monitoring Trouble* 🔥"
RECOVERED = "🩹 *Monitoring Recovered* 🩹"
WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def statements(service: Service) -> Iterator[Counter[str]]:
    """The SQL statements the service's database runs meanwhile, by their first word."""
    seen: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split(None, 2)
        first = words[0].upper()
        if first == "BEGIN" and len(words) > 1:  # SQLite: BEGIN IMMEDIATE, a writer's
            first = f"BEGIN {words[1].upper()}"
        seen[first] += 1

    engine = service.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def watching(world: World, names: list[str], **settings: Any) -> tuple[Service, set[int]]:
    """A service watching new apps `names` in #alerts (not the world's app), and the ids of
    their monitors; nothing checked yet."""
    for name in names:
        world.sim.create_app(name)
    service = world.service(monitored_app_name=None, **settings)
    try:
        now = service.clock()
        return service, {service.monitors.add(name, "#alerts", 1, now) for name in names}
    except BaseException:
        service.stop()
        raise


def steady_round_writes(world: World, apps: int) -> tuple[int, int, Service]:
    """The write statements and write transactions (on SQLite) of a steady round of
    `apps` apps (and the service, whose first two rounds ran)."""
    service, ids = watching(world, [f"steady-{apps}-{i:02d}" for i in range(apps)])
    service.scheduler.run_round(ids)  # the baseline: every app is written
    service.scheduler.run_round(ids)
    with statements(service) as seen:
        service.scheduler.run_round(ids)
    return sum(seen[w] for w in WRITES), seen["BEGIN IMMEDIATE"], service


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_unchanged_app_costs_no_database_write(
    world: World, backend: str, request: pytest.FixtureRequest
):
    if backend == "postgres":
        world.database_url = str(request.getfixturevalue("postgres_url"))
    few, few_transactions, small = steady_round_writes(world, 2)
    small.stop()
    many, many_transactions, service = steady_round_writes(world, 12)
    try:
        assert many == few, (few, many)  # the round's own statements, not one an app
        assert many_transactions == few_transactions
        # Still a truthful last check for every app, and nothing failing.
        before = {m.id: m.last_check_at for m in service.monitors.all()}
        service.scheduler.run_round(set(before))
        after = service.monitors.all()
        for m in after:
            was = before[m.id]
            assert was is not None and m.last_check_at is not None and m.last_check_at > was
            assert m.last_ok and m.failures == 0
            # /heroku-status and the dashboard say when the app was last seen so.
            assert m.snapshot is not None and m.snapshot.taken_at == m.last_check_at
            found = service.monitors.latest_snapshot(m.app_name)
            assert found is not None and found[0].taken_at == m.last_check_at
        health = create_app(service).test_client().get("/healthz")
        assert health.json is not None and health.json["apps_in_trouble"] == []
        assert health.json["last_check_ok"] is True
        # A change is still seen and recorded.
        world.sim.crash_dyno("steady-12-03", "web.1")
        service.scheduler.run_round(set(before))
        (crash,) = world.slack.wait_for_messages(1)
        assert crash["text"].startswith(CRASH) and "steady-12-03" in crash["text"]
    finally:
        service.stop()


def test_a_steady_round_still_counts_failed_checks_and_names_the_app(world: World):
    """Heroku failing for one app of a steady round: three rounds are monitoring trouble,
    /healthz names the app; the others stay steady."""
    world.sim.create_app("flaky-app")
    service = world.service()
    try:
        service.monitors.add("flaky-app", "#alerts", 1, service.clock())
        ids = {m.id for m in service.monitors.all()}
        service.scheduler.run_round(ids)
        world.sim.inject_fault("flaky-app", status=500, count=1000)
        for _ in range(3):
            service.scheduler.run_round(ids)
        by_app = {m.app_name: m for m in service.monitors.all()}
        assert by_app["flaky-app"].failures == 3 and by_app[APP].failures == 0
        (alert,) = world.slack.wait_for_messages(1)
        assert alert["text"].startswith(TROUBLE) and "flaky-app" in alert["text"]
        health = create_app(service).test_client().get("/healthz")
        assert health.json is not None and health.json["apps_in_trouble"] == ["flaky-app"]
    finally:
        service.stop()


# -- an app watched twice (SPEC §14) ---------------------------------------------------------


@pytest.fixture
def acme(world: World) -> World:
    world.sim.create_team("acme")
    world.sim.create_app("demo-app", team="acme")
    for channel in ("heroku-alerts", "team-alerts"):
        world.slack.add_channel(channel)
    return world


def rounds(service: Service, n: int) -> None:
    for _ in range(n):
        service.scheduler.run_round({m.id for m in service.monitors.all()})


def firsts(world: World, channel: str) -> list[str]:
    return [
        m["text"].split("\n")[0]
        for m in world.slack.messages
        if m["channel_name"] == channel.lstrip("#")
    ]


def test_an_app_watched_twice_is_read_once_a_round(acme: World):
    """Its own monitor in #heroku-alerts and its team's in #team-alerts: one read of its
    dynos a round, and each channel gets the crash once."""
    service = acme.service(monitored_app_name="demo-app", slack_channel="#heroku-alerts")
    try:
        service.teams.add("acme", "#team-alerts", 1, service.clock())
        rounds(service, 1)  # the team watch's monitor of demo-app joins: both baselines
        assert sorted(m.slack_channel for m in service.monitors.all()) == [
            "#heroku-alerts",
            "#team-alerts",
        ]
        acme.sim.reset_counters()
        rounds(service, 1)
        assert acme.sim.requests_by_path["/apps/demo-app/dynos"] == 1
        acme.sim.crash_dyno("demo-app", "web.1")
        acme.sim.reset_counters()
        rounds(service, 1)
        assert acme.sim.requests_by_path["/apps/demo-app/dynos"] == 1
        acme.slack.wait_for_messages(2)
        rounds(service, 2)
        assert firsts(acme, "#heroku-alerts") == [CRASH]
        assert firsts(acme, "#team-alerts") == [CRASH]
    finally:
        service.stop()


# -- a bug in recording itself (SPEC §16) ---------------------------------------------------


def a_bug(*args: Any, **kwargs: Any) -> Any:
    return 1 / 0


@pytest.mark.parametrize(
    ("how", "broken"),
    [("a check", "decide"), ("a round", "decide"), ("a check", "decide and incidents")],
)
def test_a_bug_in_recording_still_alerts_monitoring_trouble(
    world: World, monkeypatch: pytest.MonkeyPatch, how: str, broken: str
):
    service, mid = world.baseline()
    try:
        monkeypatch.setattr(recording.detect, "decide", a_bug)  # nothing can be decided
        if "incidents" in broken:  # nor can the app's incidents: the alert goes alone
            monkeypatch.setattr(recording.incidents, "apply", a_bug)
        for _ in range(4):
            if how == "a check":
                service.checker.check(mid)
            else:
                service.scheduler.run_round({mid})
        (alert,) = world.slack.wait_for_messages(1)
        assert alert["text"].startswith(TROUBLE)
        assert "3 checks in a row failed: internal error: ZeroDivisionError" in alert["text"]
        view = service.monitors.get(mid)
        assert view is not None and view.failures == 4
        monkeypatch.undo()
        service.checker.check(mid)
        world.slack.wait_for_messages(2)
        assert [t.split("\n")[0] for t in world.texts()] == [TROUBLE, RECOVERED]
    finally:
        service.stop()


# -- the round's claims (SPEC §13: one app is never checked by two processes at once) -------


def held_by(service: Service) -> set[int]:
    """The monitors whose check the service's process holds now, as the database says."""
    owner = f"{service.checker.claims.owner}:"
    with service.db.reading() as s:
        rows = s.execute(select(CheckClaim.monitor_id, CheckClaim.holder)).all()
    return {int(i) for i, holder in rows if holder and holder.startswith(owner)}


def slow_apps(n: int) -> list[str]:
    """Names of `n` apps to watch (slow-00, slow-01, …)."""
    return [f"slow-{i:02d}" for i in range(n)]


def claimed_round(service: Service, ids: set[int]) -> threading.Thread:
    """A polling round of `ids` in a thread, once it has read the lists and claimed them."""
    round_ = threading.Thread(target=service.scheduler.run_round, args=(ids,))
    round_.start()
    wait_until(lambda: held_by(service) == ids)
    return round_


def test_a_round_longer_than_a_claim_keeps_its_claims(world: World):
    """The round claims its apps at its start: a round slower than a claim's lifetime
    renews them, so no other process may take one while the round still has it to check."""
    service, ids = watching(world, slow_apps(12), max_concurrent_checks=2)
    try:
        service.scheduler.run_round(ids)
        # Renewed every ttl/3: over a second of slack for a busy machine (CI) to renew in.
        service.checker.claims.ttl = timedelta(seconds=2.0)
        other = CheckClaims(service.db, ttl=2.0)  # another process, sharing the database
        taken: list[int] = []
        world.sim.set_latency(0.6)  # 12 apps, 2 at a time: ~3.6 s, longer than a claim
        releasing = threading.Event()
        release = service.checker.claims.release_round

        def released(*args: Any, **kwargs: Any) -> set[int]:
            releasing.set()  # the round's checks are done: it lets go of its apps
            return release(*args, **kwargs)

        service.checker.claims.release_round = released  # type: ignore[method-assign]
        round_ = claimed_round(service, ids)
        while not releasing.wait(0.25):  # tries now and then, not a stream of writes
            for monitor_id in sorted(ids):
                if other.claim(monitor_id, service.clock(), ask_again=False) is not None:
                    taken.append(monitor_id)
        round_.join()
        assert taken == []
        # Released at its end: the other process may check them now.
        assert all(other.claim(i, service.clock(), ask_again=False) for i in ids)
    finally:
        world.sim.set_latency(0)
        service.stop()


def test_a_check_asked_for_during_a_round_runs_once_the_round_has_read_its_app(world: World):
    """A webhook in another process asks for a check of an app a long round holds: the
    round lets go of that app once it has checked it, and the webhook's check runs then,
    not at the round's end."""
    service, ids = watching(world, slow_apps(12), max_concurrent_checks=2)
    try:
        service.scheduler.run_round(ids)
        first = min(ids)  # the round's first app (slow-00)
        releases: list[set[int]] = []
        whole_checks: list[int] = []  # of slow-00, when each release began
        release = service.checker.claims.release_round

        def released(s: Any, token: str, monitor_ids: Any, **kwargs: Any) -> set[int]:
            releases.append(set(monitor_ids))
            whole_checks.append(world.sim.requests_by_path.get("/apps/slow-00", 0))
            return release(s, token, monitor_ids, **kwargs)

        service.checker.claims.release_round = released  # type: ignore[method-assign]
        world.sim.reset_counters()
        world.sim.set_latency(0.2)  # 12 apps, 2 at a time: over a second
        round_ = claimed_round(service, ids)
        other = CheckClaims(service.db)  # another process, which a webhook reached
        assert other.claim(first, service.clock(), ask_again=True) is None  # busy: again
        round_.join(30)
        assert releases == [{first}, ids - {first}]
        # slow-00's whole check (the webhook's) ran before the round let go of the rest.
        wait_until(lambda: world.sim.requests_by_path.get("/apps/slow-00", 0) == 1)
        assert whole_checks == [0, 1]
    finally:
        world.sim.set_latency(0)
        service.stop()


def test_a_webhook_here_during_a_round_is_checked_once_the_round_has_read_its_app(
    world: World,
):
    """The same, for a webhook that reached this process: its check waits for the round's
    check of that app only, not for the whole round."""
    service, ids = watching(world, slow_apps(16), max_concurrent_checks=2)
    try:
        service.scheduler.minute = NO_INTERVAL_POLLS
        service.scheduler.start()  # its first round: every app's baseline
        wait_until(lambda: service.scheduler.rounds == 1, timeout=20)
        first = min(ids)
        whole_checks: list[int] = []  # of slow-00, when each release began
        release = service.checker.claims.release_round

        def released(*args: Any, **kwargs: Any) -> set[int]:
            whole_checks.append(world.sim.requests_by_path.get("/apps/slow-00", 0))
            return release(*args, **kwargs)

        service.checker.claims.release_round = released  # type: ignore[method-assign]
        world.sim.reset_counters()
        world.sim.set_latency(0.2)  # 16 apps, 2 at a time: over a second and a half
        round_ = claimed_round(service, ids)
        service.scheduler.triggers.check(first, False, WEBHOOK)  # waits for the round's
        round_.join(30)
        assert whole_checks == [0, 1]  # its check ran before the round let go of the rest
    finally:
        world.sim.set_latency(0)
        service.stop()
