"""Bulk polling's pure part (SPEC section 13): what a round reads of an app, and the
snapshot it makes of what it read."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from heroku_monitor.core import detect, rounds
from heroku_monitor.core.rounds import Details, PartRead
from heroku_monitor.core.snapshot import ListedApp
from heroku_monitor.heroku.mapping import key_id
from tests.support.builders import KEY, T0, addon, dyno, release, snap, when

RELEASED = "2026-11-27T11:00:00Z"


def listed(**changes: object) -> ListedApp:
    base = ListedApp(
        name="my-app",
        id="app-id",
        released_at=when(RELEASED),
        updated_at=when("2026-11-27T10:00:00Z"),
        web_url="https://my-app.herokuapp.com/",
    )
    return replace(base, **timed(changes))  # type: ignore[arg-type]


def timed(changes: dict[str, object]) -> dict[str, object]:
    """The changes, Heroku's times given as text read as the client reads them."""
    return {
        name: when(value) if name.endswith("_at") and isinstance(value, str) else value
        for name, value in changes.items()
    }


def kept(**changes: object):
    """The snapshot kept from the last round: releases and config read 10 minutes ago."""
    base = replace(
        snap(),
        released_at=when(RELEASED),
        details_at=T0 - timedelta(minutes=10),
    )
    return replace(base, **timed(changes))  # type: ignore[arg-type]


def needs(previous, app=None, minutes: int = 0) -> bool:
    now = T0 + timedelta(minutes=minutes)
    return rounds.needs_details(previous, app or listed(), now, key_id=key_id(KEY))


def test_a_first_check_reads_the_releases_and_config_vars():
    assert needs(None)


def test_a_quiet_app_costs_only_its_dynos():
    assert not needs(kept())


def test_a_release_that_went_live_moves_released_at_and_is_read():
    assert needs(kept(), listed(released_at="2026-11-27T12:01:00Z"))


def test_any_change_to_the_app_moves_updated_at_and_is_read():
    assert needs(kept(), listed(updated_at="2026-11-27T12:01:00Z"))


def test_details_read_in_the_second_of_a_change_are_read_once_more():
    """Heroku's times are to the second: a release later in the second the details were
    read leaves `released_at` unmoved. The next round reads them again; the one after not."""
    at = "2026-11-27T12:00:00Z"
    moved = listed(released_at=at, updated_at=at)
    seen = kept(released_at=at, app_updated_at=at)
    in_that_second = replace(seen, details_at=T0 + timedelta(seconds=0.5))
    assert needs(in_that_second, moved, minutes=1)
    read_again = replace(seen, details_at=T0 + timedelta(minutes=1))
    assert not needs(read_again, moved, minutes=2)


def test_a_pending_release_is_read_every_round_until_it_settles():
    pending = kept(releases=(release(4, status="pending"), release(3)))
    assert needs(pending)


def test_the_safety_net_reads_a_quiet_app_again_within_the_hour():
    assert not needs(kept(), minutes=49)
    assert needs(kept(), minutes=50)  # read 10 minutes before T0: an hour ago now


def test_digests_made_with_another_key_are_read_again():
    assert needs(kept(config_key_id="another-key"))


def test_an_app_renamed_or_replaced_is_read_whole():
    assert needs(kept(app="other-app"))
    assert needs(kept(details_at=""))


def part(details: Details | None = None, **changes: object) -> PartRead:
    app = listed(**changes)
    return PartRead(app, (dyno("web.1", "crashed"), dyno("worker.1")), (addon(),), details)


def test_a_snapshot_without_details_carries_the_kept_releases_and_config():
    previous = kept()
    made = rounds.assemble(part(), now=T0, previous=previous)
    assert made is not None
    assert made.releases == previous.releases and made.config == previous.config
    assert made.details_at == previous.details_at and made.dynos[0].state == "crashed"
    # ... so a round finds exactly what a whole check finds: the crash, nothing more.
    events, _ = detect.observe(previous, made)
    assert [e.kind for e in events] == [detect.DYNO_CRASHED]


def test_a_snapshot_with_details_takes_them_and_notes_when():
    details = Details((release(4), release(3)), {"NEW": "digest"}, "k")
    made = rounds.assemble(part(details), now=T0, previous=kept())
    assert made is not None
    assert [r.version for r in made.releases] == [4, 3] and made.config == {"NEW": "digest"}
    assert made.details_at == T0 and made.config_key_id == "k"


def test_a_partial_read_with_nothing_to_carry_from_is_stale():
    assert rounds.assemble(part(), now=T0, previous=None) is None
    assert rounds.assemble(part(), now=T0, previous=kept(app="other-app")) is None


def test_a_team_watch_adds_new_apps_and_drops_the_ones_gone():
    change = rounds.team_change(["api", "web", "new"], {1: "api", 2: "web", 3: "gone"})
    assert change.add == ("new",) and change.drop == ((3, "gone"),)
    assert rounds.team_change([], {}) == rounds.TeamChange()


def test_a_team_app_missing_from_a_listing_is_dropped_at_three_rounds_or_when_gone():
    held = rounds.absence([(1, "blip"), (2, "long"), (3, "deleted")], {2: 2}, gone={"deleted"})
    assert held.drop == ((2, "long"), (3, "deleted"))
    assert held.kept == ((1, 1),)
