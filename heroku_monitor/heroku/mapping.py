"""Heroku's JSON as core values: apps, dynos, releases, add-ons, config var digests, and
the parts a polling round reads. Heroku's times are parsed here, once: the core sees
timezone-aware datetimes, never an ISO string.

A field Heroku left out, or of the wrong type, is `Unavailable` ("missing fields").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from heroku_monitor.core import rounds
from heroku_monitor.core.rounds import Details, PartRead, RoundListing
from heroku_monitor.core.snapshot import Addon, AppSnapshot, Build, Dyno, ListedApp, Release
from heroku_monitor.heroku.errors import Unavailable


def config_digests(config: dict[str, Any], key: bytes) -> dict[str, str]:
    """Name -> keyed digest of each value. The values go no further than this function."""
    return {
        str(name): hmac.new(key, f"{name}\0{value}".encode(), hashlib.sha256).hexdigest()[:32]
        for name, value in config.items()
    }


def key_id(key: bytes) -> str:
    """A short name for a digest key, kept with the digests it made."""
    return hashlib.sha256(b"key-id\0" + key).hexdigest()[:12]


@contextmanager
def missing_fields(what: str) -> Iterator[None]:
    """Turn a field Heroku left out (or sent of another type) into `Unavailable`: "`what`
    missing fields (…)"."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Unavailable(f"{what} missing fields ({exc}).") from exc


def config_object(data: Any) -> dict[str, Any]:
    """The body of `GET /apps/{app}/config-vars` (name -> value)."""
    if not isinstance(data, dict):
        raise Unavailable("Heroku answered config-vars with something other than an object.")
    return data


def moment(value: Any) -> datetime | None:
    """A time Heroku gave (ISO 8601 in UTC, `2026-11-27T11:00:00Z`) in UTC, or None when
    there is none or it is not one (no zone, not a time)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def listed_app(a: dict[str, Any]) -> ListedApp:
    team = a.get("team") or {}
    return ListedApp(
        name=str(a["name"]),
        id=str(a.get("id") or ""),
        released_at=moment(a.get("released_at")),
        updated_at=moment(a.get("updated_at")),
        maintenance=bool(a.get("maintenance", False)),
        web_url=str(a.get("web_url") or ""),
        team=str(team["name"]) if isinstance(team, dict) and team.get("name") else None,
    )


def dyno(d: dict[str, Any]) -> Dyno:
    return Dyno(
        name=str(d["name"]),
        type=str(d["type"]),
        state=str(d["state"]),
        updated_at=moment(d.get("updated_at")),
        size=str(d.get("size") or ""),
    )


def release(r: dict[str, Any]) -> Release:
    user = r.get("user") or {}
    slug = r.get("slug") or {}
    return Release(
        version=int(r["version"]),
        status=str(r["status"]),
        description=str(r.get("description") or ""),
        user=str(user.get("email") or ""),
        created_at=moment(r.get("created_at")),
        slug_id=slug.get("id"),
        current=bool(r.get("current", False)),
        image_id=oci_image_id(r),
    )


# The artifact type of a Fir release's OCI image (the schema's example names only "slug").
OCI_TYPES = ("oci-image", "oci_image", "oci")


def oci_image_id(r: dict[str, Any]) -> str | None:
    """The OCI image a Fir release runs (its `artifacts`), or None (a Cedar release runs
    its `slug`)."""
    for artifact in r.get("artifacts") or ():
        if isinstance(artifact, dict) and str(artifact.get("type") or "") in OCI_TYPES:
            found = artifact.get("id")
            return str(found) if found else None
    return None


def build(b: dict[str, Any]) -> Build:
    """One build of `GET /apps/{app}/builds` (SPEC §14), without its output."""
    user = b.get("user") or {}
    blob = b.get("source_blob") or {}
    release = b.get("release") or {}
    return Build(
        id=str(b["id"]),
        status=str(b["status"]),
        created_at=moment(b.get("created_at")),
        updated_at=moment(b.get("updated_at")),
        user=str(user.get("email") or ""),
        commit=str(blob.get("version") or ""),
        commit_description=str(blob.get("version_description") or ""),
        release_id=str(release["id"]) if isinstance(release, dict) and release.get("id") else None,
    )


def builds(data: Any, where: str) -> list[Build]:
    """The builds of `GET {where}/builds`."""
    if not isinstance(data, list):
        raise Unavailable(f"Heroku answered {where}/builds with something other than a list.")
    with missing_fields(f"Heroku's builds at {where} are"):
        return [build(b) for b in data]


def commit_of(data: Any, where: str) -> tuple[str, str]:
    """(`commit`, `commit_description`) of a slug or an OCI image (`GET {where}`), "" for
    what Heroku left null."""
    if not isinstance(data, dict):
        raise Unavailable(f"Heroku answered {where} with something other than an object.")
    return str(data.get("commit") or ""), str(data.get("commit_description") or "")


def addon(a: dict[str, Any]) -> Addon:
    return Addon(
        id=str(a["id"]),
        name=str(a["name"]),
        service=str((a.get("addon_service") or {}).get("name") or ""),
        plan=str((a.get("plan") or {}).get("name") or ""),
        state=str(a["state"]),
    )


def releases(data: Any, where: str) -> list[Release]:
    """The releases of `GET {where}/releases`."""
    if not isinstance(data, list):
        raise Unavailable(f"Heroku answered {where}/releases with something other than a list.")
    with missing_fields(f"Heroku's releases at {where} are"):
        return [release(r) for r in data]


def snapshot(
    app: str,
    info: Any,
    dynos: Sequence[Any],
    addons: Sequence[Any],
    found: Sequence[Release],
    *,
    config: dict[str, str] | None,
    digest_key: bytes,
    now: datetime,
) -> AppSnapshot:
    """The snapshot of one app read whole at `now`; without `config` (not read), neither
    its config var digests nor the time its details were read."""
    with missing_fields(f"Heroku's answer for {app!r} is"):
        part = PartRead(listed_app(info), tuple(map(dyno, dynos)), tuple(map(addon, addons)), None)
    if config is None:
        return rounds.whole(part, Details(tuple(found), {}, ""), now=now, details_at=None)
    details = Details(tuple(found), config, key_id(digest_key))
    return rounds.whole(part, details, now=now, details_at=now)


def listing(
    addons: list[Any],
    attachments: list[Any],
    apps: list[Any] | None,
    teams: Sequence[str],
    team_apps: Sequence[list[Any] | None],
    *,
    requests: int,
) -> RoundListing:
    """The round's lists: the account's apps (`apps`, None when not read), each team's
    (None: Heroku does not show that team), the account's add-ons and attachments."""
    with missing_fields("Heroku's lists of apps and add-ons are"):
        listed: dict[str, ListedApp] = {}
        by_team: dict[str, tuple[str, ...]] = {}
        if apps is not None:
            listed.update((a.name, a) for a in map(listed_app, apps))
        for team, found in zip(teams, team_apps, strict=True):
            if found is None:
                continue
            members = [listed_app(a) for a in found]
            listed.update((a.name, a) for a in members)
            by_team[team] = tuple(a.name for a in members)
        by_app, unlisted = addons_by_app(addons, attachments)
    return RoundListing(
        apps=listed,
        addons=by_app,
        teams=by_team,
        requests=requests,
        addons_unlisted=unlisted,
    )


def listing_alone(answers: Sequence[tuple[Any, Any]], *, requests: int) -> RoundListing:
    """The round's lists from a few apps read one by one: (app, its add-ons) each, None
    for an app Heroku does not show."""
    with missing_fields("Heroku's answer for an app is"):
        listed: dict[str, ListedApp] = {}
        by_app: dict[str, tuple[Addon, ...]] = {}
        for info, addons in answers:
            if info is None or addons is None:
                continue
            app = listed_app(info)
            listed[app.name] = app
            by_app[app.id] = tuple(addon(a) for a in addons)
    return RoundListing(apps=listed, addons=by_app, requests=requests)


def addons_by_app(
    addons: list[Any], attachments: list[Any]
) -> tuple[dict[str, tuple[Addon, ...]], frozenset[str]]:
    """Each app's add-ons (by app id) from the account's add-ons and attachments: those it
    owns, and those of other apps attached to it. Also the apps with an attachment to an
    add-on the account's list does not show (an app this token cannot see owns it)."""
    known: dict[str, Addon] = {}
    by_app: dict[str, dict[str, Addon]] = {}
    for item in addons:
        found = known[str(item["id"])] = addon(item)
        by_app.setdefault(str(item["app"]["id"]), {})[found.id] = found
    unlisted: set[str] = set()
    for item in attachments:
        app_id, addon_id = str(item["app"]["id"]), str(item["addon"]["id"])
        if addon_id in known:
            by_app.setdefault(app_id, {}).setdefault(addon_id, known[addon_id])
        else:
            unlisted.add(app_id)
    return {app: tuple(found.values()) for app, found in by_app.items()}, frozenset(unlisted)
