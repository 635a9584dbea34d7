"""Bulk polling (SPEC §13), the pure part: what one polling round must read of each app,
and the snapshot it makes of what it read. No I/O, no clock: times come in.

A round reads the app list once (`GET /apps`, or a team's), the account's add-ons and
add-on attachments once, and each app's dynos. An app's releases and config vars cost two
more requests, so they are read only when the list says something moved (`released_at`,
which every release that goes live moves, or `updated_at`), while a release of the last
snapshot is still pending (it may fail without going live), on the app's first check,
when the digest key changed, and as a rare safety net; in between, the last snapshot's
are carried. At steady state that is one request per app per round, plus the lists.

An app watched by several monitors (its own and a team watch's) is read once a round for
all of them (`needs_details` of any of them). And a round decides each app against the
state it loaded for the round: an app whose read `changes_nothing` costs no write of its
own (its check's time is stamped with the round's other unchanged ones, at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from heroku_monitor.core import builds, detect
from heroku_monitor.core.snapshot import Addon, AppSnapshot, Build, Dyno, ListedApp, Release

# However quiet an app, its releases and config vars are read again this often.
SAFETY_NET = timedelta(hours=1)
# Heroku's times are to the second: another release in the second the details were read
# would leave `released_at` as it was. Details read this soon after the app's last change
# (by the list's times; our clock may be a little off Heroku's) are read once more.
SAME_SECOND_MARGIN = timedelta(seconds=10)


@dataclass(frozen=True)
class RoundListing:
    """What the round's lists said: every app they showed (by name), each app's add-ons
    (by app id: its own and those attached to it), and each watched team's apps; or why
    they could not be read."""

    apps: Mapping[str, ListedApp] = field(default_factory=dict)
    addons: Mapping[str, tuple[Addon, ...]] = field(default_factory=dict)
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    error: str | None = None
    # Requests the lists took (the round's overhead, shared by its apps).
    requests: int = 0
    # Apps (by id) with an add-on attached from an app the lists do not show: a round
    # reads their add-ons with their dynos.
    addons_unlisted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Details:
    """An app's newest releases and its config var digests, as read this round."""

    releases: tuple[Release, ...]
    config: dict[str, str]
    config_key_id: str


def needs_details(
    previous: AppSnapshot | None,
    listed: ListedApp,
    now: datetime,
    *,
    key_id: str,
    safety_net: timedelta = SAFETY_NET,
) -> bool:
    """Whether this round must read the app's releases and config vars."""
    if previous is None or previous.app != listed.name or previous.details_at is None:
        return True
    read_at = previous.details_at
    if previous.config_key_id != key_id:
        return True
    if (previous.released_at, previous.app_updated_at) != (listed.released_at, listed.updated_at):
        return True
    if any(r.status == "pending" for r in previous.releases):
        return True
    for moved_at in (listed.released_at, listed.updated_at):
        if moved_at is not None and read_at - moved_at < SAME_SECOND_MARGIN:
            return True
    return now - read_at >= safety_net


def any_needs_details(
    kept: Sequence[AppSnapshot | None], listed: ListedApp, now: datetime, *, key_id: str
) -> bool:
    """Whether this round must read the app's releases and config vars for one of the
    monitors watching it (`kept`: what each of them holds); one read feeds them all."""
    return not kept or any(needs_details(p, listed, now, key_id=key_id) for p in kept)


@dataclass(frozen=True)
class PartRead:
    """What a round read of one app: its line in the lists, its dynos and add-ons, and its
    releases and config vars when `needs_details` said so."""

    listed: ListedApp
    dynos: tuple[Dyno, ...]
    addons: tuple[Addon, ...]
    details: Details | None
    # The app's builds when this round read them (SPEC §14), else None: carried.
    builds: tuple[Build, ...] | None = None


def assemble(part: PartRead, *, now: datetime, previous: AppSnapshot | None) -> AppSnapshot | None:
    """The app's snapshot from what the round read; without details, the releases and
    config vars are the previous snapshot's (nothing moved). Made under the monitor's state
    lock, so `previous` is the newest any process kept. None when there is no previous
    snapshot to carry them from (the monitor was reset meanwhile: the round's read is stale).
    """
    if part.details is not None:
        return whole(part, part.details, now=now, details_at=now)
    if previous is None or previous.app != part.listed.name:
        return None
    kept = Details(previous.releases, dict(previous.config), previous.config_key_id)
    return whole(part, kept, now=now, details_at=previous.details_at)


def whole(
    part: PartRead, details: Details, *, now: datetime, details_at: datetime | None
) -> AppSnapshot:
    """The app's snapshot: its line in a list (or its own record), dynos and add-ons, and
    its releases (newest first) and config var digests, read at `details_at`."""
    listed = part.listed
    return AppSnapshot(
        app=listed.name,
        taken_at=now,
        maintenance=listed.maintenance,
        app_updated_at=listed.updated_at,
        web_url=listed.web_url,
        dynos=part.dynos,
        releases=tuple(sorted(details.releases, key=lambda r: r.version, reverse=True)),
        addons=part.addons,
        config=dict(details.config),
        config_key_id=details.config_key_id,
        released_at=listed.released_at,
        details_at=details_at,
        builds=part.builds or (),
        builds_at=now if part.builds is not None else None,
    )


def changes_nothing(
    app: str, state: detect.CheckState, seen: AppSnapshot | PartRead, now: datetime
) -> bool:
    """Whether a round's read of `app`, decided against `state` (what the round loaded),
    changes nothing worth a write: the check succeeds after one that did, no event, and the
    snapshot it would keep is the kept one but for when it was taken (the dynos, releases,
    config, add-ons and every mark as they were). Such a check only moves its time."""
    previous = state.snapshot
    if previous is None or state.failures:
        return False
    if isinstance(seen, PartRead):
        assembled = assemble(seen, now=now, previous=previous)
        if assembled is None:
            return False
        seen = assembled
    decision = detect.decide(app, state, seen, now)
    if decision is None or decision.events or decision.error is not None:
        return False
    kept = decision.state.snapshot
    # (Builds read again move their time: kept, one write in `builds.rounds_between` rounds.)
    return kept is not None and replace(kept, taken_at=previous.taken_at) == previous


def builds_due(
    app_id: str, kept: Sequence[AppSnapshot | None], now: datetime, interval_minutes: int
) -> bool:
    """Whether a round reads the app's builds (SPEC §14: a failed build makes no release).
    A first check reads them (a round's too: it reads the app whole). After it, once
    `builds.rounds_between` of the app's rounds have passed since the last read, a round
    counted as the time between its checks, never less than its interval (a stretched
    interval stretches it too; a round right after a read never reads). Builds never read
    (Heroku shows none to this token, or a snapshot from before builds were kept): one
    round in `BUILDS_EVERY`."""
    known = [k for k in kept if k is not None]
    if len(known) < len(kept) or not known:
        return True
    read = [k.builds_at for k in known]
    if any(at is None for at in read):
        return builds.builds_due(app_id, builds.round_of(now, interval_minutes))
    gap = max(now - max(k.taken_at for k in known), timedelta(minutes=interval_minutes))
    since = now - min(at for at in read if at is not None)
    return since >= gap * builds.rounds_between(app_id)


@dataclass(frozen=True)
class TeamChange:
    """How a team watch's monitors must change: apps to start watching, and monitors
    (id, app) to drop because their app is not in the team's listing (left the team, was
    deleted, or, for a round, missing: `absence` says which to drop now)."""

    add: tuple[str, ...] = ()
    drop: tuple[tuple[int, str], ...] = ()


# A team app missing from this many listings in a row is dropped, even without Heroku's
# word that it is gone (SPEC §16: one listing that lacks it is a blip, not a departure).
MISSING_ROUNDS = 3


@dataclass(frozen=True)
class Absence:
    """What becomes of the monitors whose app a team's listing lacked: dropped now, or
    kept, with the rounds in a row their app has been missing."""

    drop: tuple[tuple[int, str], ...] = ()
    kept: tuple[tuple[int, int], ...] = ()  # (monitor id, rounds missing)


def absence(
    missing: Iterable[tuple[int, str]],
    rounds_missing: Mapping[int, int],
    gone: Iterable[str],
    *,
    patience: int = MISSING_ROUNDS,
) -> Absence:
    """Of the monitors (id, app) a listing lacked, the ones to drop: Heroku confirmed
    their app `gone` from the team (404, or it is another team's now), or it has been
    missing `patience` rounds in a row with this one (`rounds_missing`: before it)."""
    confirmed = set(gone)
    drop: list[tuple[int, str]] = []
    kept: list[tuple[int, int]] = []
    for monitor_id, app in missing:
        count = rounds_missing.get(monitor_id, 0) + 1
        if app in confirmed or count >= patience:
            drop.append((monitor_id, app))
        else:
            kept.append((monitor_id, count))
    return Absence(tuple(drop), tuple(kept))


def team_change(team_apps: Iterable[str], watched: Mapping[int, str]) -> TeamChange:
    """Compare the team's apps with the monitors its watch made (monitor id -> app)."""
    apps = set(team_apps)
    have = set(watched.values())
    return TeamChange(
        add=tuple(sorted(apps - have)),
        drop=tuple(sorted((mid, app) for mid, app in watched.items() if app not in apps)),
    )
