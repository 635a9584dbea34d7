"""Time on the timeline: a window of days onto the picture's x, where its days begin, and
times and spans as its tooltips write them ("Mon 1 14:05 UTC", "2 h 5 min"). Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

# The x of the window's start and end (viewBox units; the lanes' names sit left of LEFT).
LEFT = 62.0
RIGHT = 392.0


@dataclass(frozen=True)
class TimeScale:
    """Times from `start` to `end` onto x from `left` to `right`, clamped to that span.
    Days are told in `zone` (the time zone of the `now` given; naive times are UTC)."""

    start: datetime
    end: datetime
    zone: tzinfo = UTC
    left: float = LEFT
    right: float = RIGHT

    @classmethod
    def window(cls, now: datetime, days: int = 7) -> TimeScale:
        """The `days` ending at `now`."""
        if days < 1:
            raise ValueError(f"days must be at least 1, not {days}")
        end = utc(now)
        zone = now.tzinfo if now.tzinfo is not None else UTC
        return cls(end - timedelta(days=days), end, zone)

    def contains(self, at: datetime) -> bool:
        return self.start <= utc(at) <= self.end

    def x(self, at: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        share = (utc(at) - self.start).total_seconds() / span
        return self.left + min(1.0, max(0.0, share)) * (self.right - self.left)


def day_starts(scale: TimeScale) -> list[datetime]:
    """The midnights (in the scale's zone) inside the window: where the day ticks go."""
    local = scale.start.astimezone(scale.zone).date()
    starts: list[datetime] = []
    while True:
        midnight = datetime(local.year, local.month, local.day, tzinfo=scale.zone)
        if midnight > scale.end:
            return starts
        if midnight >= scale.start:
            starts.append(midnight)
        local += timedelta(days=1)


def day_label(day: datetime) -> str:
    """ "Mon 1"."""
    return f"{day:%a} {day.day}"


def utc(at: datetime) -> datetime:
    """`at` in UTC (naive: taken as UTC), so that differences and comparisons are real time."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def when(at: datetime, scale: TimeScale) -> str:
    """ "Mon 1 14:05 UTC", in the time zone of the window's end."""
    local = utc(at).astimezone(scale.zone)
    zone = local.tzname() or ""
    return f"{day_label(local)} {local:%H:%M} {zone}".strip()


def duration(span: timedelta) -> str:
    """Whole minutes, at least 1: "14 min", "2 h 5 min", "3 d 4 h"."""
    minutes = max(1, math.ceil(span.total_seconds() / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
