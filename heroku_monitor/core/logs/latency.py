"""Response times (SPEC section 15, "Slow responses"): the router's `service=NNNms` per app
and minute, as counts in FIXED histogram buckets, so that the counts of several processes
add up (bucket by bucket) and memory and storage do not grow with traffic: one row of
`len(BOUNDS) + 1` counts per app and minute, however many requests. Pure.

Bucket i holds the times from BOUNDS[i - 1] (0 for the first) up to, not including,
BOUNDS[i]; the last one what is 30 s or more. The bounds are roughly log-spaced (each 1.5-2
times the one before) from 25 ms to Heroku's 30-second router timeout (H12): a quantile read
from them is off by at most its bucket's width, and for a threshold that is a bound (the
default, 3,000 ms, is) "p95 at or over it" is decided exactly.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

# Where each bucket ends (ms, not included) and the next begins; one more bucket from 30 s.
BOUNDS: tuple[int, ...] = (
    25,
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    7500,
    10000,
    20000,
    30000,
)
BUCKETS = len(BOUNDS) + 1

Histogram = tuple[int, ...]  # BUCKETS counts, or () for none


def bucket(ms: int) -> int:
    """The bucket of a response time (ms)."""
    return bisect_right(BOUNDS, ms)


def add(*histograms: Sequence[int]) -> Histogram:
    """Histograms summed bucket by bucket (an empty one adds nothing)."""
    total = [0] * BUCKETS
    for h in histograms:
        for i, n in enumerate(h):
            total[i] += n
    return tuple(total) if any(total) else ()


def total(histogram: Sequence[int]) -> int:
    return sum(histogram)


def quantile(histogram: Sequence[int], q: float) -> int | None:
    """The q-quantile (0 < q ≤ 1) of the response times, in whole ms: within the bucket
    that holds it, by linear interpolation (as Prometheus's `histogram_quantile`), and
    below the bucket's end (so it is at or over a bound only when that many requests
    were); in the last bucket, which has no end, 30,000. None without data."""
    n = sum(histogram)
    if n == 0:
        return None
    rank = q * n
    seen = 0
    for i, count in enumerate(histogram):
        if count and seen + count >= rank:
            if i >= len(BOUNDS):
                return BOUNDS[-1]
            low = BOUNDS[i - 1] if i else 0
            high = BOUNDS[i]
            return min(high - 1, int(low + (high - low) * (rank - seen) / count))
        seen += count
    return BOUNDS[-1]


def of(times: Iterable[int]) -> Histogram:
    """The histogram of some response times (for tests and the simulator)."""
    counts = [0] * BUCKETS
    for ms in times:
        counts[bucket(ms)] += 1
    return tuple(counts) if any(counts) else ()
