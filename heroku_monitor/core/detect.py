"""Decide what changed between two snapshots of an app. Pure: no I/O, no clock.

`diff(previous, current)` returns the events to alert on; `check_failed` and
`check_succeeded` turn the run of failed checks into monitoring-trouble events.
Every event carries a stable `key`: the same change seen twice (next check, a restart,
a second process, a webhook retry) gets the same key, which the store keeps unique.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime

from heroku_monitor.core.build_events import BUILD_FAILED as BUILD_FAILED
from heroku_monitor.core.build_events import BUILD_SUCCEEDED as BUILD_SUCCEEDED
from heroku_monitor.core.build_events import _build_events as _build_events
from heroku_monitor.core.build_events import without_output as without_output
from heroku_monitor.core.events import Event as Event
from heroku_monitor.core.snapshot import AppSnapshot, Release, heroku_time

DYNO_CRASHED = "dyno_crashed"
DYNOS_DOWN = "dynos_down"
DYNOS_RECOVERED = "dynos_recovered"
DEPLOY = "deploy"
ROLLBACK = "rollback"
RELEASE_FAILED = "release_failed"
CONFIG_CHANGED = "config_changed"
ADDON_ADDED = "addon_added"
ADDON_REMOVED = "addon_removed"
ADDON_CHANGED = "addon_changed"
MAINTENANCE = "maintenance"
MONITORING_TROUBLE = "monitoring_trouble"
MONITORING_RECOVERED = "monitoring_recovered"

# The order messages of one check are sent in: what is most urgent first.
KINDS = (
    DYNO_CRASHED,
    DYNOS_DOWN,
    RELEASE_FAILED,
    BUILD_FAILED,
    MONITORING_TROUBLE,
    DYNOS_RECOVERED,
    BUILD_SUCCEEDED,
    DEPLOY,
    ROLLBACK,
    CONFIG_CHANGED,
    ADDON_ADDED,
    ADDON_REMOVED,
    ADDON_CHANGED,
    MAINTENANCE,
    MONITORING_RECOVERED,
)

# Checks that must fail in a row before we say monitoring is in trouble (one blip is noise).
TROUBLE_AFTER = 3
# How the reason of a check that failed on a bug (not on Heroku) begins (SPEC §16).
INTERNAL_ERROR = "internal error: "

_ROLLBACK = re.compile(r"^Rollback to v(\d+)")
# Heroku's own descriptions for releases that change config or add-ons, not code:
# "Set FOO config vars", "Remove FOO config vars", "Attach DATABASE (@ref:…)",
# "Update DATABASE by heroku-postgresql", "Detach …".
_NOT_A_DEPLOY = re.compile(
    r"^(Set|Remove|Unset|Update) .*config vars?\b|^(Attach|Detach) |^Update \S+ by |"
    r"^(Add|Remove) .*add-?on|^Enable Logplex|^Initial release"
)


def observe(previous: AppSnapshot | None, current: AppSnapshot) -> tuple[list[Event], AppSnapshot]:
    """The events since `previous`, and `current` as it should be kept (see `carry`)."""
    kept = carry(previous, current)
    return diff(previous, kept), without_output(kept)


def diff(previous: AppSnapshot | None, current: AppSnapshot) -> list[Event]:
    """Events between two snapshots; `previous` None means this check is the baseline.

    The baseline alerts on dynos that are crashed or down right now, never on the
    existing release, config or add-ons.
    """
    events = _dyno_events(previous, current)
    if previous is None:
        return events
    events += _release_events(previous, current)
    events += _config_events(previous, current)
    events += _addon_events(previous, current)
    events += _build_events(previous, current)
    if previous.maintenance != current.maintenance:
        state = "on" if current.maintenance else "off"
        events.append(
            Event(
                MAINTENANCE,
                current.app,
                f"{current.app}:{MAINTENANCE}:{state}:{heroku_time(current.app_updated_at)}",
                maintenance=current.maintenance,
            )
        )
    return events


def carry(previous: AppSnapshot | None, current: AppSnapshot) -> AppSnapshot:
    """`current` with each dyno's `unrecovered` mark carried over from `previous`.

    Heroku brings a crashed dyno back through `starting` (and an eco dyno may be `idle`),
    so a check can see crashed, then starting, then up: the mark makes that last `up` a
    recovery even though the check before it saw `starting`.
    """
    before = {d.name: d for d in previous.dynos} if previous else {}
    dynos = []
    for dyno in current.dynos:
        was = before.get(dyno.name)
        down_before = was is not None and (was.state in ("crashed", "down") or was.unrecovered)
        unrecovered = dyno.state in ("crashed", "down") or (
            dyno.state in ("starting", "idle") and down_before
        )
        dynos.append(replace(dyno, unrecovered=unrecovered))
    current = replace(current, dynos=tuple(dynos))
    if previous is None:
        return current
    if current.builds_at is None:  # not read by this check: the last snapshot's (SPEC §14)
        current = replace(current, builds=previous.builds, builds_at=previous.builds_at)
    return replace(current, releases=_commits_carried(previous.releases, current.releases))


def _commits_carried(before: tuple[Release, ...], now: tuple[Release, ...]) -> tuple[Release, ...]:
    """`now` with the commits the last snapshot knew: a release's slug (or OCI image) is
    read once, when the release is new, so later snapshots keep what it said."""
    known: dict[str, tuple[str, str]] = {}
    for release in before:
        artifact = release.slug_id or release.image_id
        if release.commit and artifact:
            known[artifact] = (release.commit, release.commit_description)
    carried = []
    for release in now:
        artifact = release.slug_id or release.image_id
        if not release.commit and artifact in known:
            commit, description = known[artifact]
            release = replace(release, commit=commit, commit_description=description)
        carried.append(release)
    return tuple(carried)


def _dyno_events(previous: AppSnapshot | None, current: AppSnapshot) -> list[Event]:
    before = {d.name: d for d in previous.dynos} if previous else {}
    events: list[Event] = []
    for dyno in sorted(current.dynos, key=lambda d: d.name):
        was = before.get(dyno.name)
        was_state = was.state if was else None
        kind = None
        if dyno.state == "crashed" and was_state != "crashed":
            kind = DYNO_CRASHED
        elif dyno.state == "down" and was_state != "down":
            kind = DYNOS_DOWN
        elif (
            dyno.state == "up"
            and was is not None
            and (was.state in ("crashed", "down") or was.unrecovered)
        ):
            kind = DYNOS_RECOVERED
        # `starting` and `idle` (a sleeping eco dyno) are not down, and a dyno that is
        # gone was scaled away or cycled: neither is worth an alert.
        if kind:
            key = f"{current.app}:{kind}:{dyno.name}:{heroku_time(dyno.updated_at)}"
            events.append(Event(kind, current.app, key, dyno=dyno))
    return events


def classify_release(release: Release, below: Release | None) -> str:
    """`rollback`, `deploy` or `other` (a config or add-on release) for a succeeded release.

    On Heroku a config change or an add-on attachment creates a release that keeps the
    slug; only a release with new code is a deploy.
    """
    if _ROLLBACK.match(release.description):
        return ROLLBACK
    if release.description.startswith(("Deploy", "Promote")):
        return DEPLOY
    if _NOT_A_DEPLOY.search(release.description):
        return "other"
    if release.slug_id is None:
        return "other"
    if below is not None and below.slug_id is not None:
        return DEPLOY if release.slug_id != below.slug_id else "other"
    return DEPLOY


def _release_events(previous: AppSnapshot, current: AppSnapshot) -> list[Event]:
    before = {r.version: r for r in previous.releases}
    newest_before = max(before, default=0)
    ordered = sorted(current.releases, key=lambda r: r.version)
    events: list[Event] = []
    for index, release in enumerate(ordered):
        was = before.get(release.version)
        is_new = was is None and release.version > newest_before
        was_pending = was is not None and was.status == "pending"
        if not (is_new or was_pending):
            continue
        key_base = f"{current.app}:%s:v{release.version}"
        if release.status == "failed":
            events.append(
                Event(RELEASE_FAILED, current.app, key_base % RELEASE_FAILED, release=release)
            )
        elif release.status == "succeeded":
            below = ordered[index - 1] if index > 0 else None
            kind = classify_release(release, below)
            if kind == ROLLBACK:
                match = _ROLLBACK.match(release.description)
                target = int(match.group(1)) if match else None
                events.append(
                    Event(
                        ROLLBACK,
                        current.app,
                        key_base % ROLLBACK,
                        release=release,
                        rollback_to=target,
                        previous_commit=_commit_below(ordered, index),
                    )
                )
            elif kind == DEPLOY:
                events.append(
                    Event(
                        DEPLOY,
                        current.app,
                        key_base % DEPLOY,
                        release=release,
                        previous_commit=_commit_below(ordered, index),
                    )
                )
        # `pending` (release phase still running) is reported once it succeeds or fails.
    return events


def _commit_below(ordered: list[Release], index: int) -> str:
    """The commit that ran before `ordered[index]` (oldest first): the newest succeeded
    release below it, "" when unknown."""
    below = [r for r in ordered[:index] if r.status == "succeeded"]
    return below[-1].commit if below else ""


def _fingerprint(config: dict[str, str]) -> str:
    joined = "\n".join(f"{name}={digest}" for name, digest in sorted(config.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _config_events(previous: AppSnapshot, current: AppSnapshot) -> list[Event]:
    if previous.config_key_id != current.config_key_id:
        return []  # digests made with another key (SECRET_KEY changed): a new baseline
    old, new = previous.config, current.config
    added = tuple(sorted(set(new) - set(old)))
    removed = tuple(sorted(set(old) - set(new)))
    changed = tuple(sorted(n for n in set(old) & set(new) if old[n] != new[n]))
    if not (added or removed or changed):
        return []
    # The previous check's time makes a change made again later (a flag turned back on) a
    # new event, while two diffs of the same pair of snapshots still share the key.
    since = previous.taken_at.isoformat()
    key = f"{current.app}:{CONFIG_CHANGED}:{_fingerprint(old)}>{_fingerprint(new)}:{since}"
    return [Event(CONFIG_CHANGED, current.app, key, added=added, removed=removed, changed=changed)]


def _addon_events(previous: AppSnapshot, current: AppSnapshot) -> list[Event]:
    before = {a.id: a for a in previous.addons}
    now = {a.id: a for a in current.addons}
    app = current.app
    events: list[Event] = []
    for addon in sorted(current.addons, key=lambda a: a.name):
        was = before.get(addon.id)
        if was is None:
            key = f"{app}:{ADDON_ADDED}:{addon.id}"
            events.append(Event(ADDON_ADDED, app, key, addon=addon))
        elif (was.state, was.plan) != (addon.state, addon.plan):
            since = previous.taken_at.isoformat()
            key = f"{app}:{ADDON_CHANGED}:{addon.id}:{addon.state}:{addon.plan}:{since}"
            events.append(Event(ADDON_CHANGED, app, key, addon=addon, previous_addon=was))
    for addon in sorted(previous.addons, key=lambda a: a.name):
        if addon.id not in now:
            key = f"{app}:{ADDON_REMOVED}:{addon.id}"
            events.append(Event(ADDON_REMOVED, app, key, addon=addon))
    return events


def check_failed(app: str, failures_in_a_row: int, reason: str, at: datetime) -> list[Event]:
    """The trouble event, once, when a run of failed checks reaches `TROUBLE_AFTER`.

    `failures_in_a_row` counts this failure, made at `at`: the time names the run of
    trouble, so a later run alerts again (checks of one monitor take turns, so only one
    check ever sees the count reach the mark).
    """
    if failures_in_a_row != TROUBLE_AFTER:
        return []
    key = f"{app}:{MONITORING_TROUBLE}:{at.isoformat()}"
    return [Event(MONITORING_TROUBLE, app, key, reason=reason, failures=failures_in_a_row)]


def check_succeeded(app: str, failures_before: int, at: datetime) -> list[Event]:
    """The recovery event when a check at `at` succeeds after a run that raised trouble."""
    if failures_before < TROUBLE_AFTER:
        return []
    key = f"{app}:{MONITORING_RECOVERED}:{at.isoformat()}"
    return [Event(MONITORING_RECOVERED, app, key, failures=failures_before)]


@dataclass(frozen=True)
class CheckState:
    """What a monitor keeps between checks: the last snapshot (None before the first) and
    how many checks have failed in a row since."""

    snapshot: AppSnapshot | None
    failures: int = 0


@dataclass(frozen=True)
class CheckFailed:
    """A check that could not read the app from Heroku, and why (one sentence)."""

    reason: str


@dataclass(frozen=True)
class Decision:
    """What one check decided: the events to alert on, the state to keep, and why the
    check failed (None when it succeeded)."""

    events: list[Event]
    state: CheckState
    error: str | None = None


def decide(
    app: str, state: CheckState, seen: AppSnapshot | CheckFailed, at: datetime
) -> Decision | None:
    """The outcome of one check of `app` made at `at`: `seen` is the snapshot Heroku gave,
    or the reason the check failed. None when the snapshot is older than the one kept (a slower
    check of the same app landed first): it decides nothing."""
    if isinstance(seen, CheckFailed):
        failures = state.failures + 1
        events = check_failed(app, failures, seen.reason, at)
        return Decision(events, CheckState(state.snapshot, failures), seen.reason)
    previous = state.snapshot
    if previous is not None and previous.taken_at > seen.taken_at:
        return None
    found, kept = observe(previous, seen)
    events = found + check_succeeded(app, state.failures, at)
    return Decision(events, CheckState(kept, 0))
