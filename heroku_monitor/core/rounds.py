"""Bulk polling (SPEC §13), the pure part: what one polling round must read of each app,
and the snapshot it makes of what it read. No I/O, no clock: times come in.

A round reads the app list once (`GET /apps`, or a team's), the account's add-ons and
add-on attachments once, and each app's dynos. An app's releases and config vars cost two
more requests, so they are read only when the list says something moved (`released_at`,
which every release that goes live moves, or `updated_at`), while a release of the last
snapshot is still pending (it may fail without going live), on the app's first check,
when the digest key changed, and as a rare safety net; in between, the last snapshot's
are carried. At steady state that is one request per app per round, plus the lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from heroku_monitor.core.snapshot import Addon, AppSnapshot, Dyno, ListedApp, Release

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


@dataclass(frozen=True)
class PartRead:
    """What a round read of one app: its line in the lists, its dynos and add-ons, and its
    releases and config vars when `needs_details` said so."""

    listed: ListedApp
    dynos: tuple[Dyno, ...]
    addons: tuple[Addon, ...]
    details: Details | None


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
    )


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
