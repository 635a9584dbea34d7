"""Bulk polling rounds, team watches and one polling leader among several processes
(SPEC section 13), run as the service runs them, against the simulator and a fake Slack."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from heroku_monitor.core.rounds import RoundListing
from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from heroku_sim import Simulator, SimulatorServer
from tests.support.web import NO_INTERVAL_POLLS, wait_until
from tests.support.webhooks import SECRET, Hook, fresh
from tests.support.world import APP, World, first_monitor

CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"


def firsts(world: World) -> list[str]:
    return [t.split("\n")[0] for t in world.texts()]


def watch(service: Service, *apps: str) -> set[int]:
    """Monitors for `apps` (besides the world's own), each at 1 minute; all their ids."""
    now = service.clock()
    for app in apps:
        service.monitors.add(app, "#alerts", 1, now)
    return {m.id for m in service.monitors.all()}


@pytest.fixture
def fleet(world: World) -> Iterator[tuple[Service, set[int]]]:
    """A service watching ten apps, whose first round has run (the baseline)."""
    names = [f"app-{i:02d}" for i in range(9)]
    for name in names:
        world.sim.create_app(name)
    service = world.service()
    ids = watch(service, *names)
    service.scheduler.run_round(ids)
    yield service, ids
    service.stop()


def test_a_steady_round_costs_one_request_per_app_and_the_lists_once(world: World, fleet):
    service, ids = fleet
    world.sim.reset_counters()
    service.scheduler.run_round(ids)
    by_path = world.sim.requests_by_path
    assert by_path == {"/apps": 1, "/addons": 1, "/addon-attachments": 1} | {
        f"/apps/{m.app_name}/dynos": 1 for m in service.monitors.all()
    }
    assert world.sim.request_count == 13  # 1.3 per app; 1.03 with 100 apps


def test_one_app_in_a_big_account_is_read_app_by_app_when_the_lists_cost_more(world: World):
    for i in range(250):  # /apps and /addons: two pages each
        world.sim.create_app(f"other-{i:03d}", releases=1)
    service = world.service()
    try:
        mid = first_monitor(service)
        service.scheduler.run_round({mid})
        world.sim.reset_counters()
        service.scheduler.run_round({mid})
        assert world.sim.requests_by_path == {
            f"/apps/{APP}": 1,
            f"/apps/{APP}/addons": 1,
            f"/apps/{APP}/dynos": 1,
        }  # 3 requests, not 4 pages of lists and the dynos (nor 5 for a whole check)
        world.sim.add_addon(APP, "papertrail", "papertrail:choklad")
        service.scheduler.run_round({mid})
        world.slack.wait_for_messages(2)  # the add-on, and its config var
        assert any(t.startswith("🧩 *Add-on Added* 🧩") for t in world.texts())
    finally:
        service.stop()


def test_the_requests_of_one_check_and_the_checks_of_a_round_run_at_once(world: World, fleet):
    service, ids = fleet
    world.sim.set_latency(0.4)  # one after another: a check 2 s, a round of 10 apps 4.8 s
    try:
        started = time.monotonic()
        assert service.checker.check(first_monitor(service)) is not None
        alone = time.monotonic() - started
        started = time.monotonic()
        service.scheduler.run_round(ids)
        round_ = time.monotonic() - started
    finally:
        world.sim.set_latency(0)
    assert alone < 1.2 and round_ < 2.0, (alone, round_)


def test_a_first_round_reads_releases_and_config_and_alerts_only_on_crashed_dynos(world: World):
    world.sim.crash_dyno(APP, "web.1")
    service = world.service()
    try:
        service.scheduler.run_round({first_monitor(service)})
        world.slack.wait_for_messages(1)
        assert firsts(world) == [CRASH]
        paths = world.sim.requests_by_path
        assert paths[f"/apps/{APP}/releases"] == 1 and paths[f"/apps/{APP}/config-vars"] == 1
    finally:
        service.stop()


CHANGES: dict[str, tuple[Callable[..., object], str]] = {
    "crash": (lambda sim: sim.crash_dyno(APP, "web.1"), CRASH),
    "down": (lambda sim: sim.stop_dyno(APP, "worker.1"), "⚠️ *WARNING: Dynos Down* ⚠️"),
    "deploy": (lambda sim: sim.deploy(APP, "ann@example.com"), "🚀 *New Deploy Detected* 🚀"),
    "config": (lambda sim: sim.set_config(APP, {"NEW_FLAG": "1"}), "⚙️ *Config Vars Changed* ⚙️"),
    "rollback": (lambda sim: sim.rollback(APP, 2), "⏪"),
    "failed release": (lambda sim: sim.deploy(APP, status="failed"), "❌"),
    "maintenance": (lambda sim: sim.set_maintenance(APP, True), "🚧 *Maintenance Mode On* 🚧"),
    "add-on": (lambda sim: sim.add_addon(APP, "papertrail", "papertrail:choklad"), "🧩"),
    "shared add-on": (lambda sim: share_a_database(sim, APP), "🧩"),
}


def share_a_database(sim: Simulator, to_app: str, owner: str = "billing-app") -> str:
    """Attach another app's Postgres to `to_app` (`heroku addons:attach`); its id."""
    sim.create_app(owner)
    return sim.attach_addon(owner, "DATABASE", to_app)


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_round_alerts_each_change_exactly_as_a_whole_check_does(world: World, change: str):
    cause, expected = CHANGES[change]
    whole, bulk = world.service(), world.service(database_url=world.database_url + "-bulk")
    try:
        mids = first_monitor(whole), first_monitor(bulk)
        whole.checker.check(mids[0])
        bulk.scheduler.run_round({mids[1]})
        cause(world.sim)
        whole.checker.check(mids[0])
        by_whole = world.texts()
        bulk.scheduler.run_round({mids[1]})
        world.slack.wait_for_messages(2 * len(by_whole))
        by_round = world.texts()[len(by_whole) :]
        assert by_round == by_whole  # the same messages, word for word
        assert any(text.startswith(expected) for text in by_whole)
    finally:
        whole.stop()
        bulk.stop()


def test_a_pending_release_is_reported_when_it_fails_without_going_live(world: World):
    service = world.service()
    try:
        mid = first_monitor(service)
        service.scheduler.run_round({mid})
        version = world.sim.deploy(APP, status="pending")  # a release phase runs
        service.scheduler.run_round({mid})
        world.sim.finish_release(APP, version, "failed")
        service.scheduler.run_round({mid})
        world.slack.wait_for_messages(1)
        assert "Release Failed" in world.texts()[0] or "failed" in world.texts()[0].lower()
    finally:
        service.stop()


def test_an_addon_attached_from_another_app_is_seen_alike_by_rounds_and_lone_checks(
    world: World,
):
    """`GET /addons` lists a shared add-on under its owner only; the attachments put it on
    the app it is attached to, as `GET /apps/{app}/addons` does: no alert flaps between a
    round and a webhook's check of the app."""
    world.sim.create_app("app-two")
    service = world.service()
    try:
        mid = first_monitor(service)
        ids = watch(service, "app-two")  # two apps: the account's lists are the cheaper
        service.scheduler.run_round(ids)
        attachment = share_a_database(world.sim, APP)
        service.checker.check(mid)  # a webhook's check: the whole app, alone
        world.slack.wait_for_messages(2)  # the add-on, and its config var
        for _ in range(2):
            service.scheduler.run_round(ids)
            service.checker.check(mid)
        assert len(world.texts()) == 2  # each delivers before it returns: nothing flapped
        world.sim.detach_addon(APP, attachment)
        service.scheduler.run_round(ids)
        service.checker.check(mid)
        world.slack.wait_for_messages(4)
        said = [t.split("\n")[0] for t in world.texts()]
        config = "⚙️ *Config Vars Changed* ⚙️"
        assert sorted(said[:2]) == sorted([config, "🧩 *Add-on Added* 🧩"])
        assert sorted(said[2:]) == sorted([config, "🗑️ *Add-on Removed* 🗑️"])
    finally:
        service.stop()


def test_an_app_with_an_addon_the_lists_do_not_show_has_its_addons_read_alone(
    world: World, monkeypatch
):
    world.sim.create_app("app-two")
    service = world.service()
    try:
        ids = watch(service, "app-two")  # two apps: the account's lists are the cheaper
        service.scheduler.run_round(ids)
        heroku = service.checker.heroku
        listing = heroku.listing

        def unlisted(**kwargs) -> RoundListing:  # its owner is an app this token cannot see
            found = listing(**kwargs)
            return RoundListing(
                apps=found.apps,
                addons={},
                requests=found.requests,
                addons_unlisted=frozenset(a.id for a in found.apps.values()),
            )

        monkeypatch.setattr(heroku, "listing", unlisted)
        world.sim.reset_counters()
        service.scheduler.run_round(ids)
        paths = world.sim.requests_by_path
        for app in (APP, "app-two"):  # its add-ons besides its dynos: not a whole check
            assert paths[f"/apps/{app}/addons"] == 1 and f"/apps/{app}/releases" not in paths
        assert world.texts() == []  # its add-ons, read alone, are what they were
    finally:
        service.stop()


def test_a_release_in_the_second_a_round_read_the_app_is_seen_by_the_next_round(world: World):
    """Heroku's times are to the second: a deploy later in the second a round read the
    app's releases leaves `released_at` where it was. The next round reads them again."""
    second = datetime.now(UTC).replace(microsecond=0)
    sim = Simulator(seed=7, clock=lambda: second)  # every change in this one second
    sim.create_app(APP)
    with SimulatorServer(sim) as heroku:
        frozen = replace(world, sim=sim, heroku=heroku)
        service = frozen.service()
        try:
            mid = first_monitor(service)
            sim.deploy(APP, "ann@example.com")
            service.scheduler.run_round({mid})  # the baseline: released_at is this second
            sim.deploy(APP, "bob@example.com")  # released_at does not move
            service.scheduler.run_round({mid})
            frozen.slack.wait_for_messages(1)
            assert firsts(frozen) == ["🚀 *New Deploy Detected* 🚀"]
            assert "bob@example.com" in frozen.texts()[0]
        finally:
            service.stop()


def test_an_app_missing_from_the_list_is_read_alone_and_a_404_says_why(world: World):
    service = world.service()
    try:
        mid = service.monitors.add("no-such-app", "#alerts", 1, service.clock())
        for _ in range(3):
            service.scheduler.run_round({mid})
        world.slack.wait_for_messages(1)
        assert "not found" in world.texts()[0]
    finally:
        service.stop()


# -- team watches ------------------------------------------------------------------------


@pytest.fixture
def team(world: World) -> Iterator[Service]:
    world.sim.create_team("acme")
    for name in ("acme-api", "acme-web"):
        world.sim.create_app(name, team="acme")
    service = world.service(monitored_app_name=None)
    service.teams.add("acme", "#alerts", 1, service.clock())
    yield service
    service.stop()


def team_apps(service: Service) -> list[str]:
    return sorted(m.app_name for m in service.monitors.all() if m.team_watch_id is not None)


def test_a_team_watch_watches_every_app_of_the_team_from_its_first_round(world: World, team):
    team.scheduler.run_round(set())
    assert team_apps(team) == ["acme-api", "acme-web"]
    assert world.sim.requests_by_path["/teams/acme/apps"] == 1
    assert world.slack.messages == []  # a first check is a baseline
    assert all(m.last_ok for m in team.monitors.all())  # and it ran in that same round


def test_an_app_created_in_the_team_is_picked_up_within_one_round(world: World, team):
    team.scheduler.run_round(set())
    world.sim.create_app("acme-new", team="acme")
    world.sim.crash_dyno("acme-new", "web.1")
    team.scheduler.run_round(set())
    assert team_apps(team) == ["acme-api", "acme-new", "acme-web"]
    (message,) = world.slack.wait_for_messages(1)
    assert message["text"].startswith(CRASH) and "acme-new" in message["text"]


@pytest.mark.parametrize("how", ["deleted", "moved out"])
def test_an_app_that_leaves_the_team_is_dropped_with_one_note(world: World, team, how: str):
    team.scheduler.run_round(set())
    if how == "deleted":
        world.sim.delete_app("acme-web")
    else:
        world.sim.move_app("acme-web", None)
    ids = {m.id for m in team.monitors.all()}
    team.scheduler.run_round(ids)
    team.scheduler.run_round(ids)
    assert team_apps(team) == ["acme-api"]
    (note,) = world.slack.wait_for_messages(1)
    assert note["text"].startswith("👋 *No Longer Watched* 👋\nApp: acme-web")


def test_an_unknown_team_changes_nothing_and_the_watch_says_why(world: World, team):
    team.teams.add("nobody", "#alerts", 1, team.clock())
    team.scheduler.run_round(set())
    (acme, nobody) = sorted(team.teams.all(), key=lambda w: w.team)
    assert acme.apps == ("acme-api", "acme-web") and nobody.apps == ()
    assert nobody.last_error is not None and "nobody" in nobody.last_error


def test_monitored_team_seeds_a_team_watch_once(world: World):
    world.sim.create_team("acme")
    service = world.service(monitored_team="acme")
    try:
        assert [w.team for w in service.teams.all()] == ["acme"]
        again = world.service(monitored_team="acme")
        again.stop()
        assert len(service.teams.all()) == 1
    finally:
        service.stop()


# -- several processes on one database ---------------------------------------------------


def count_webhook_checks(service: Service, counts: dict[str, int], lock: threading.Lock) -> None:
    """Count the webhook checks `service` schedules ("scheduled": a storm's first, and its
    trailing one) and those that have run to their end ("done")."""
    scheduler, triggers = service.scheduler, service.scheduler.triggers
    check_soon, webhook_check = scheduler.check_soon, triggers._webhook_check

    def counted_soon(monitor_id: int) -> bool:
        scheduled = check_soon(monitor_id)
        with lock:
            counts["scheduled"] += scheduled
        return scheduled

    def counted_check(monitor_id: int, window_ended: datetime | None = None) -> None:
        try:
            webhook_check(monitor_id, window_ended)
        finally:
            with lock:
                counts["done"] += 1

    scheduler.check_soon = counted_soon
    triggers._webhook_check = counted_check  # type: ignore[method-assign]


def requests_per_round(world: World, services: list[Service], rounds: int = 5) -> list[int]:
    """The Heroku requests of each of `rounds` polling rounds, past the first two (the
    first checks), while `services` share one database, each scheduler started with a
    minute of 0.015 s (the app's interval of 5 minutes polls about every 0.1 s); and no process
    but the leader polls."""
    costs: list[int] = []

    def measured(run: Callable[[set[int]], None]) -> Callable[[set[int]], None]:
        def run_round(monitor_ids: set[int]) -> None:  # a process's rounds go one at a time
            before = world.sim.request_count
            run(monitor_ids)
            costs.append(world.sim.request_count - before)

        return run_round

    for service in services:
        scheduler = service.scheduler
        # What the round job runs:
        scheduler.polling.run_round = measured(scheduler.polling.run_round)  # type: ignore[method-assign,assignment]
        scheduler.minute = 0.015
        scheduler.start()
    wait_until(lambda: len(costs) >= 2 + rounds, timeout=30)
    (leader,) = [s for s in services if s.leadership.leads()]
    assert all(s.scheduler.rounds == 0 for s in services if s is not leader)
    return costs[2 : 2 + rounds]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_or_three_processes_poll_for_the_cost_of_one(
    world: World, backend: str, request: pytest.FixtureRequest
):
    if backend == "postgres":
        world.database_url = str(request.getfixturevalue("migrated_postgres_url"))
    cost = {}
    for count in (1, 2, 3):  # on one database: the monitors' state carries over
        services = [world.service() for _ in range(count)]
        try:
            cost[count] = requests_per_round(world, services)
        finally:
            for service in services:
                service.stop()  # the leader resigns: the next run's first service leads
    # The lists and the app's dynos, each round: the same for one process or three.
    assert cost == {1: [3] * 5, 2: [3] * 5, 3: [3] * 5}


def test_a_leader_that_dies_is_replaced_within_two_lease_periods(world: World):
    lease = 3  # seconds
    services = [world.service(leader_lease_seconds=lease) for _ in range(2)]
    try:
        for service in services:
            service.scheduler.minute = 0.1
            service.scheduler.start()
        leader = next(s for s in services if s.leadership.leads())
        other = next(s for s in services if s is not leader)
        # It dies without a word (kill -9): no more renewals, no resignation.
        leader.scheduler.stop_jobs(wait=False)
        died = time.monotonic()
        wait_until(lambda: other.leadership.leads(), timeout=10)
        assert time.monotonic() - died <= 2 * lease
        before = other.scheduler.rounds
        wait_until(lambda: other.scheduler.rounds > before, timeout=10)  # it polls now
    finally:
        for service in services:
            service.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_webhook_storm_hitting_every_process_costs_at_most_two_checks(
    world: World, backend: str, request: pytest.FixtureRequest
):
    if backend == "postgres":
        world.database_url = str(request.getfixturevalue("migrated_postgres_url"))
    services = [world.service(heroku_webhook_secret=SECRET) for _ in range(3)]
    hooks = [Hook(s, create_app(s).test_client()) for s in services]
    counts, lock = {"scheduled": 0, "done": 0}, threading.Lock()
    try:
        for service in services:
            count_webhook_checks(service, counts, lock)
            service.scheduler.debounce = 2.0  # the storm takes 0.6 s here, more on a busy CI
            service.scheduler.minute = NO_INTERVAL_POLLS  # the checks counted are webhooks'
            service.scheduler.start()
        wait_until(lambda: any(s.checker.last_check.ok for s in services), timeout=20)
        world.sim.reset_counters()
        threads = []
        for n in range(50):
            if n == 49:
                world.sim.crash_dyno(APP, "web.1")  # the storm's last change
            hook = hooks[n % 3]
            thread = threading.Thread(target=hook.deliver, args=(fresh("api-dyno-create"),))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(10)
        (message,) = world.slack.wait_for_messages(1, timeout=15)
        assert message["text"].startswith(CRASH)
        # Every check the storm scheduled (its first, a trailing one at its window's end) has
        # run to its end, in any of the processes.
        wait_until(
            lambda: (
                counts["done"] == counts["scheduled"]
                and all(not s.scheduler.triggers.checking for s in services)
                and world.sim.requests_by_path.get(f"/apps/{APP}", 0) >= 1
            ),
            timeout=15,
        )
        assert 1 <= counts["scheduled"] <= 2, counts
        assert 1 <= world.sim.requests_by_path.get(f"/apps/{APP}", 0) <= 2
    finally:
        for service in services:
            service.stop()
