"""What one check of a Heroku app saw: plain, immutable values.

A snapshot never holds a config var value: `config` maps each name to a keyed digest
(see `heroku.config_digests`), so two snapshots can be compared without the values.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Dyno:
    name: str
    type: str
    state: str
    updated_at: str = ""
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
    created_at: str = ""
    slug_id: str | None = None
    current: bool = False


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
    released_at: str = ""
    updated_at: str = ""
    maintenance: bool = False
    web_url: str = ""
    team: str | None = None


@dataclass(frozen=True)
class AppSnapshot:
    """One app as seen at `taken_at` (UTC). Releases are the newest few, newest first."""

    app: str
    taken_at: datetime
    maintenance: bool = False
    app_updated_at: str = ""
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
    # something moved, SPEC §13; in between they are carried from the last snapshot).
    released_at: str = ""
    details_at: str = ""

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

    def to_json(self) -> str:
        data = asdict(self)
        data["taken_at"] = self.taken_at.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AppSnapshot:
        data: dict[str, Any] = json.loads(text)
        return cls(
            app=data["app"],
            taken_at=datetime.fromisoformat(data["taken_at"]),
            maintenance=bool(data.get("maintenance", False)),
            app_updated_at=data.get("app_updated_at", ""),
            web_url=data.get("web_url", ""),
            dynos=tuple(Dyno(**d) for d in data.get("dynos", ())),
            releases=tuple(Release(**r) for r in data.get("releases", ())),
            addons=tuple(Addon(**a) for a in data.get("addons", ())),
            config=dict(data.get("config", {})),
            config_key_id=data.get("config_key_id", ""),
            released_at=data.get("released_at", ""),
            details_at=data.get("details_at", ""),
        )
