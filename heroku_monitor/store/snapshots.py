"""A snapshot as the database keeps it (`monitor_state.snapshot`): JSON, times as ISO 8601
text (Heroku's as Heroku writes them), read back into datetimes. Rows written before
snapshots held datetimes read the same: they held the same text."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from heroku_monitor.core.snapshot import Addon, AppSnapshot, Build, Dyno, Release, heroku_time


def to_json(snapshot: AppSnapshot) -> str:
    data = asdict(snapshot)
    data["taken_at"] = snapshot.taken_at.isoformat()
    data["app_updated_at"] = heroku_time(snapshot.app_updated_at)
    data["released_at"] = heroku_time(snapshot.released_at)
    data["details_at"] = snapshot.details_at.isoformat() if snapshot.details_at else ""
    for dyno, kept in zip(snapshot.dynos, data["dynos"], strict=True):
        kept["updated_at"] = heroku_time(dyno.updated_at)
    for release, kept in zip(snapshot.releases, data["releases"], strict=True):
        kept["created_at"] = heroku_time(release.created_at)
        kept.pop("output", None)  # a failed release's output: for the alert, never kept
        kept.pop("output_error", None)
        for name, empty in (("commit", ""), ("commit_description", ""), ("image_id", None)):
            if kept.get(name) == empty:  # unknown: the form kept before SPEC §14
                kept.pop(name)
    # SPEC §14: the newest builds, without their output (none read: the earlier form).
    data["builds_at"] = snapshot.builds_at.isoformat() if snapshot.builds_at else ""
    for build, kept in zip(snapshot.builds, data["builds"], strict=True):
        kept["created_at"] = heroku_time(build.created_at)
        kept["updated_at"] = heroku_time(build.updated_at)
        kept.pop("output", None)
        kept.pop("output_error", None)
    if not snapshot.builds and snapshot.builds_at is None:
        del data["builds"], data["builds_at"]
    return json.dumps(data, sort_keys=True)


def from_json(text: str) -> AppSnapshot:
    data: dict[str, Any] = json.loads(text)
    return AppSnapshot(
        app=data["app"],
        taken_at=datetime.fromisoformat(data["taken_at"]),
        maintenance=bool(data.get("maintenance", False)),
        app_updated_at=_time(data.get("app_updated_at")),
        web_url=data.get("web_url", ""),
        dynos=tuple(
            Dyno(**{**d, "updated_at": _time(d.get("updated_at"))}) for d in data.get("dynos", ())
        ),
        releases=tuple(
            Release(**{**r, "created_at": _time(r.get("created_at"))})
            for r in data.get("releases", ())
        ),
        addons=tuple(Addon(**a) for a in data.get("addons", ())),
        config=dict(data.get("config", {})),
        config_key_id=data.get("config_key_id", ""),
        released_at=_time(data.get("released_at")),
        details_at=_time(data.get("details_at")),
        builds=tuple(
            Build(
                **{
                    **b,
                    "created_at": _time(b.get("created_at")),
                    "updated_at": _time(b.get("updated_at")),
                }
            )
            for b in data.get("builds", ())
        ),
        builds_at=_time(data.get("builds_at")),
    )


def _time(value: Any) -> datetime | None:
    """A kept time ("" or none: there was none; one that is not a time, or has no zone,
    counts as none, as the checks that kept it read it)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
