"""The builds' part of `core/detect` (SPEC §14): the build events between two snapshots,
and the kept snapshot stripped of the build and release output read for alerts. Pure: no
I/O, no clock."""

from __future__ import annotations

from dataclasses import replace

from heroku_monitor.core.events import Event
from heroku_monitor.core.snapshot import AppSnapshot, Build

# SPEC §14: a build that failed opens the app's build incident; the next one that succeeds
# ends it (and says nothing when none is open).
BUILD_FAILED = "build_failed"
BUILD_SUCCEEDED = "build_succeeded"


def without_output(snapshot: AppSnapshot) -> AppSnapshot:
    """`snapshot` as it is kept: without the build and release output read for alerts
    (output is the team's own, and may print anything: it goes to the channel, not to the
    database's snapshots)."""
    if not any(b.output or b.output_error for b in snapshot.builds) and not any(
        r.output or r.output_error for r in snapshot.releases
    ):
        return snapshot
    return replace(
        snapshot,
        builds=tuple(replace(b, output=(), output_error="") for b in snapshot.builds),
        releases=tuple(replace(r, output=(), output_error="") for r in snapshot.releases),
    )


def _build_events(previous: AppSnapshot, current: AppSnapshot) -> list[Event]:
    """SPEC §14: a build that failed since the last read, and the newest finished build when
    it succeeded (it ends the app's build incident). The first read of an app's builds is a
    baseline for them, but for those that ended since the last snapshot was taken."""
    if current.builds_at is None or current.builds_at == previous.builds_at:
        return []  # not read by this check: carried
    before = {b.id: b for b in previous.builds}
    if previous.builds_at is not None:
        known = [b.created_at for b in previous.builds if b.created_at is not None]
        since = max(known, default=None)
    else:
        since = previous.taken_at
    # Newest first as Heroku listed them: the list's order settles builds of one second.
    place = {b.id: i for i, b in enumerate(current.builds)}

    def order(build: Build) -> tuple[float, int]:
        made = build.created_at
        return (made.timestamp() if made is not None else 0.0, -place[build.id])

    done = [b for b in current.builds if b.status in ("succeeded", "failed")]
    newest_done = max(done, key=order, default=None)
    events: list[Event] = []
    for build in sorted(current.builds, key=order):
        was = before.get(build.id)
        if was is None:
            moment = build.created_at if previous.builds_at is not None else build.updated_at
            news = since is None or (moment is not None and moment >= since)
        else:
            news = was.status == "pending"
        if not news:
            continue
        if build.status == "failed":
            key = f"{current.app}:{BUILD_FAILED}:{build.id}"
            events.append(Event(BUILD_FAILED, current.app, key, build=build))
        elif build.status == "succeeded" and build is newest_done:
            key = f"{current.app}:{BUILD_SUCCEEDED}:{build.id}"
            events.append(Event(BUILD_SUCCEEDED, current.app, key, build=build))
    return events
