"""What one check of a Heroku app saw: plain, immutable values.

A snapshot never holds a config var value: `config` maps each name to a keyed digest
(see `heroku.mapping.config_digests`), so two snapshots can be compared without the values.
Heroku's times are timezone-aware datetimes in UTC (None when Heroku gave none); the
store keeps a snapshot as JSON (`store/snapshots.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def heroku_time(moment: datetime | None) -> str:
    """`moment` written as Heroku writes its times (`2026-11-27T11:00:00Z`), "" for None:
    event keys name Heroku's times so, as they did when snapshots held Heroku's text."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Dyno:
    name: str
    type: str
    state: str
    updated_at: datetime | None = None
    size: str = ""
    # Set by `detect.carry`, not by Heroku: the dyno was crashed or down and has not been
    # seen `up` since (Heroku restarts it through `starting`), so `up` is a recovery.
    unrecovered: bool = False


@dataclass(frozen=True)
class Release:
    version: int
    status: str
    description: str = ""
    user: str = ""
    created_at: datetime | None = None
    slug_id: str | None = None
    current: bool = False
    # The code it runs (SPEC §14): its slug's `commit` and `commit_description` (on Fir,
    # its OCI image's, `image_id`); "" while unknown (a release's slug is read only when
    # the release is new).
    commit: str = ""
    commit_description: str = ""
    image_id: str | None = None
    # A failed release's last lines of release-phase output, ANSI codes removed: read for
    # the alert, never kept (`detect.carry` drops it); `output_error`: why it was not read.
    output: tuple[str, ...] = ()
    output_error: str = ""


@dataclass(frozen=True)
class Build:
    """One build of the app (`GET /apps/{app}/builds`), SPEC §14: `status` is `pending`,
    `succeeded` or `failed`; `commit` and `commit_description` are its source blob's
    `version` and `version_description`; `user` who started it (an email)."""

    id: str
    status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    user: str = ""
    commit: str = ""
    commit_description: str = ""
    release_id: str | None = None
    # A failed build's last lines of output, ANSI codes removed: read for the alert, never
    # kept (`detect.carry` drops it). `output_error` says why it could not be read.
    output: tuple[str, ...] = ()
    output_error: str = ""


@dataclass(frozen=True)
class Addon:
    id: str
    name: str
    service: str
    plan: str
    state: str


@dataclass(frozen=True)
class ListedApp:
    """One app as a list of apps shows it (`GET /apps`, `GET /teams/{team}/apps`, or
    `GET /apps/{app}`): what a polling round learns of every app in one request."""

    name: str
    id: str
    released_at: datetime | None = None
    updated_at: datetime | None = None
    maintenance: bool = False
    web_url: str = ""
    team: str | None = None


@dataclass(frozen=True)
class AppSnapshot:
    """One app as seen at `taken_at` (UTC). Releases are the newest few, newest first."""

    app: str
    taken_at: datetime
    maintenance: bool = False
    app_updated_at: datetime | None = None
    web_url: str = ""
    dynos: tuple[Dyno, ...] = ()
    releases: tuple[Release, ...] = ()
    addons: tuple[Addon, ...] = ()
    config: dict[str, str] = field(default_factory=dict)
    # Which digest key made `config` (a short hash of it): digests made with another key
    # cannot be compared.
    config_key_id: str = ""
    # The app's `released_at` (it moves with every release that goes live), and when the
    # releases and config vars were last read (a polling round reads them only when
    # something moved, SPEC §13; in between they are carried from the last snapshot;
    # None: not read with the config vars, as for a status answer).
    released_at: datetime | None = None
    details_at: datetime | None = None
    # The newest builds, newest first, and when they were read (None: not read by this
    # check; `detect.carry` carries the last snapshot's, SPEC §14).
    builds: tuple[Build, ...] = ()
    builds_at: datetime | None = None

    @property
    def current_release(self) -> Release | None:
        """The release Heroku marks current, else the newest succeeded one."""
        for release in self.releases:
            if release.current:
                return release
        return next((r for r in self.releases if r.status == "succeeded"), None)

    def health(self) -> str:
        """`healthy`, `degraded` (some dynos crashed or down) or `down` (all of them)."""
        bad = [d for d in self.dynos if d.state in ("crashed", "down")]
        if not bad:
            return "healthy"
        return "down" if len(bad) == len(self.dynos) else "degraded"
