"""Every rule of SPEC section 4 as a test of the pure core."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from heroku_monitor.core import detect
from heroku_monitor.core.detect import diff
from tests.support.builders import T0, addon, dyno, release, snap

BASE_RELEASES = (release(3), release(2), release(1, "Initial release"))


def kinds(events: list[detect.Event]) -> list[str]:
    return [e.kind for e in events]


def test_first_check_is_a_baseline_that_alerts_on_crashed_and_down_dynos_only():
    current = snap(dynos=(dyno("web.1", "crashed"), dyno("web.2", "down"), dyno("worker.1")))
    events = diff(None, current)
    assert kinds(events) == [detect.DYNO_CRASHED, detect.DYNOS_DOWN]
    assert [e.dyno.name for e in events if e.dyno] == ["web.1", "web.2"]


def test_baseline_never_alerts_on_existing_release_config_or_addons():
    assert diff(None, snap()) == []


def test_nothing_changed_means_no_event():
    assert diff(snap(), snap(minutes=5)) == []


def test_dyno_that_crashes_is_alerted():
    events = diff(snap(), snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1")), minutes=5))
    assert kinds(events) == [detect.DYNO_CRASHED]


def test_dyno_still_crashed_on_the_next_check_is_not_alerted_again():
    crashed = (dyno("web.1", "crashed"), dyno("worker.1"))
    assert diff(snap(dynos=crashed), snap(dynos=crashed, minutes=5)) == []


def test_dyno_that_goes_down_is_alerted():
    events = diff(snap(), snap(dynos=(dyno("web.1"), dyno("worker.1", "down")), minutes=5))
    assert kinds(events) == [detect.DYNOS_DOWN]


@pytest.mark.parametrize("state", ["starting", "idle"])
def test_starting_and_idle_dynos_are_not_down(state: str):
    assert diff(snap(), snap(dynos=(dyno("web.1", state), dyno("worker.1")), minutes=5)) == []


def test_dyno_scaled_away_is_not_down():
    assert diff(snap(), snap(dynos=(dyno("web.1"),), minutes=5)) == []


def test_daily_dyno_cycling_raises_nothing():
    cycled = (dyno("web.1", "starting", "2026-11-28T11:00:00Z"), dyno("worker.1"))
    up_again = (dyno("web.1", "up", "2026-11-28T11:00:05Z"), dyno("worker.1"))
    first = snap()
    second = snap(dynos=cycled, minutes=5)
    third = snap(dynos=up_again, minutes=10)
    assert diff(first, second) == [] and diff(second, third) == []


def test_crashed_dyno_that_is_up_again_is_reported_recovered():
    crashed = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1")))
    events = diff(crashed, snap(minutes=5))
    assert kinds(events) == [detect.DYNOS_RECOVERED]


def test_new_deploy_is_detected_with_version_and_user():
    current = snap(releases=(release(4, user="ann@example.com"), *BASE_RELEASES), minutes=5)
    events = diff(snap(), current)
    assert kinds(events) == [detect.DEPLOY]
    assert events[0].release and events[0].release.version == 4


def test_pending_release_is_reported_when_it_succeeds():
    pending = snap(releases=(release(4, status="pending"), *BASE_RELEASES), minutes=5)
    done = snap(releases=(release(4), *BASE_RELEASES), minutes=10)
    assert diff(snap(), pending) == []
    assert kinds(diff(pending, done)) == [detect.DEPLOY]


def test_pending_release_that_fails_is_reported_as_failed():
    pending = snap(releases=(release(4, status="pending"), *BASE_RELEASES), minutes=5)
    failed = snap(releases=(release(4, status="failed"), *BASE_RELEASES), minutes=10)
    assert kinds(diff(pending, failed)) == [detect.RELEASE_FAILED]


def test_several_new_releases_between_checks_are_all_reported():
    current = snap(releases=(release(6), release(5), release(4), *BASE_RELEASES), minutes=5)
    events = diff(snap(), current)
    assert [e.release.version for e in events if e.release] == [4, 5, 6]


@pytest.mark.parametrize(
    "description",
    [
        "Set FEATURE_FLAG config vars",
        "Remove OLD_KEY config vars",
        "Attach DATABASE (@ref:postgresql-round-12345)",
        "Update DATABASE by heroku-postgresql",
        "Detach REDIS",
    ],
)
def test_config_and_addon_releases_are_not_deploys(description: str):
    current = snap(releases=(release(4, description, slug="slug-3"), *BASE_RELEASES), minutes=5)
    assert detect.DEPLOY not in kinds(diff(snap(), current))


def test_release_keeping_the_slug_with_custom_description_is_not_a_deploy():
    current = snap(releases=(release(4, "tweak", slug="slug-3"), *BASE_RELEASES), minutes=5)
    assert diff(snap(), current) == []


def test_config_change_release_is_reported_as_config_change_only():
    old = snap()
    new = snap(
        releases=(release(4, "Set TZ config vars", slug="slug-3"), *BASE_RELEASES),
        config={"DATABASE_URL": "postgres://secret", "TZ": "Europe/Paris"},
        minutes=5,
    )
    assert kinds(diff(old, new)) == [detect.CONFIG_CHANGED]


def test_rollback_is_reported_as_rollback_not_deploy():
    current = snap(
        releases=(release(4, "Rollback to v2", slug="slug-2"), *BASE_RELEASES), minutes=5
    )
    events = diff(snap(), current)
    assert kinds(events) == [detect.ROLLBACK]
    assert events[0].rollback_to == 2


def test_config_change_reports_added_removed_and_changed_names():
    old = snap(config={"A": "1", "B": "2", "C": "3"})
    new = snap(config={"A": "1", "B": "20", "D": "4"}, minutes=5)
    (event,) = diff(old, new)
    assert (event.added, event.removed, event.changed) == (("D",), ("C",), ("B",))


def test_addon_added_removed_and_state_changes_are_reported():
    redis = addon("redis-1", "heroku-redis", "heroku-redis:mini", "provisioning")
    old = snap(addons=(addon(), redis))
    new = snap(
        addons=(
            addon("redis-1", "heroku-redis", "heroku-redis:mini", "provisioned"),
            addon("papertrail-2", "papertrail", "papertrail:choklad"),
        ),
        minutes=5,
    )
    events = diff(old, new)
    assert sorted(kinds(events)) == sorted(
        [detect.ADDON_ADDED, detect.ADDON_CHANGED, detect.ADDON_REMOVED]
    )
    changed = next(e for e in events if e.kind == detect.ADDON_CHANGED)
    assert changed.previous_addon and changed.previous_addon.state == "provisioning"


def test_maintenance_mode_switch_is_reported():
    events = diff(snap(), snap(maintenance=True, minutes=5, app_updated_at="later"))
    assert kinds(events) == [detect.MAINTENANCE] and events[0].maintenance is True


def test_monitoring_trouble_is_raised_once_on_the_third_failure_in_a_row():
    raised = [detect.check_failed("my-app", n, "401 invalid token: bad", T0) for n in range(1, 6)]
    assert [len(r) for r in raised] == [0, 0, 1, 0, 0]
    assert raised[2][0].reason == "401 invalid token: bad"


def test_monitoring_recovery_is_reported_only_after_trouble():
    assert detect.check_succeeded("my-app", 2, T0) == []
    assert kinds(detect.check_succeeded("my-app", 3, T0)) == [detect.MONITORING_RECOVERED]


def test_a_later_run_of_trouble_has_a_new_key():
    later = T0 + timedelta(hours=1)
    first = detect.check_failed("my-app", 3, "500", T0)
    second = detect.check_failed("my-app", 3, "500", later)
    assert first[0].key != second[0].key


def test_the_same_change_seen_twice_has_the_same_key():
    old = snap()
    new = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1")), minutes=5)
    later = snap(dynos=(dyno("web.1", "crashed"), dyno("worker.1")), minutes=6)
    assert [e.key for e in diff(old, new)] == [e.key for e in diff(old, later)]


def test_a_new_crash_of_the_same_dyno_has_a_new_key():
    first = diff(snap(), snap(dynos=(dyno("web.1", "crashed", "t1"), dyno("worker.1"))))
    second = diff(snap(), snap(dynos=(dyno("web.1", "crashed", "t2"), dyno("worker.1"))))
    assert first[0].key != second[0].key


def observe_all(*snapshots):
    """Run checks over `snapshots` in turn, keeping what each check keeps."""
    previous, seen = None, []
    for current in snapshots:
        events, previous = detect.observe(previous, current)
        seen.append(kinds(events))
    return seen


def test_a_crashed_dyno_that_comes_back_through_starting_is_reported_recovered():
    seen = observe_all(
        snap(),
        snap(dynos=(dyno("web.1", "crashed", "t1"), dyno("worker.1")), minutes=1),
        snap(dynos=(dyno("web.1", "starting", "t2"), dyno("worker.1")), minutes=2),
        snap(dynos=(dyno("web.1", "up", "t3"), dyno("worker.1")), minutes=3),
        snap(dynos=(dyno("web.1", "up", "t3"), dyno("worker.1")), minutes=4),
    )
    assert seen == [[], [detect.DYNO_CRASHED], [], [detect.DYNOS_RECOVERED], []]


def test_a_dyno_cycling_through_starting_without_a_crash_is_not_a_recovery():
    seen = observe_all(
        snap(),
        snap(dynos=(dyno("web.1", "starting", "t2"), dyno("worker.1")), minutes=1),
        snap(dynos=(dyno("web.1", "up", "t3"), dyno("worker.1")), minutes=2),
    )
    assert seen == [[], [], []]


def test_a_dyno_that_crashes_again_after_starting_is_a_new_crash():
    seen = observe_all(
        snap(),
        snap(dynos=(dyno("web.1", "crashed", "t1"), dyno("worker.1")), minutes=1),
        snap(dynos=(dyno("web.1", "starting", "t2"), dyno("worker.1")), minutes=2),
        snap(dynos=(dyno("web.1", "crashed", "t3"), dyno("worker.1")), minutes=3),
    )
    assert seen == [[], [detect.DYNO_CRASHED], [], [detect.DYNO_CRASHED]]


def test_a_config_change_made_again_later_is_alerted_again():
    on, off = {"FLAG": "on"}, {"FLAG": "off"}
    flips = [snap(config=on if i % 2 == 0 else off, minutes=i) for i in range(5)]
    keys = [
        e.key for previous, current in itertools.pairwise(flips) for e in diff(previous, current)
    ]
    assert len(keys) == 4 and len(set(keys)) == 4


def test_digests_made_with_another_key_are_a_config_baseline_not_a_change():
    from dataclasses import replace

    old = snap(config={"A": "1"})
    rekeyed = replace(
        snap(config={"A": "1"}, minutes=5), config={"A": "other"}, config_key_id="new"
    )
    assert diff(old, rekeyed) == []
