"""An app's drain state, one row an app in `key_values` (`drain_state_key`): when its
drain last sent a batch and its lines of the last whole minute."""

from __future__ import annotations

from datetime import datetime, timedelta

MINUTE = timedelta(minutes=1)


def drain_state_key(app: str) -> str:
    """Where an app's drain state is kept: "<last batch> <minute> <its lines> <the lines of
    the minute before>" (ISO times), updated by every batch taken."""
    return f"drain_state:{app}"


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


DrainState = tuple[datetime, datetime, int, int]  # last batch, minute, its lines, before


def _advance(state: DrainState | None, lines: int, now: datetime) -> DrainState:
    """A drain state with one more batch of `lines` taken at `now`."""
    minute = _minute(now)
    if state is None:
        return (now, minute, lines, 0)
    last, at, n, before = state
    last = max(last, now)
    if minute == at:
        return (last, at, n + lines, before)
    if minute > at:
        return (last, minute, lines, n if minute == at + MINUTE else 0)
    # a late batch: the minute before counts it, an older one nothing
    return (last, at, n, before + lines if minute == at - MINUTE else before)


def _drain_state(value: str | None) -> DrainState | None:
    try:
        last, minute, lines, before = (value or "").split()
        return (
            datetime.fromisoformat(last),
            datetime.fromisoformat(minute),
            int(lines),
            int(before),
        )
    except ValueError:
        return None
