"""SPEC §15, slow responses: the router's `service=` times per minute in fixed histogram
buckets (they add up across processes), and the rule: a p95 at or over the monitor's
threshold (default 3,000 ms) over 5 minutes with at least 100 requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from heroku_monitor.core.logs import latency
from heroku_monitor.core.logs.count import MinuteCounts, count_logplex
from heroku_monitor.core.logs.parse import parse_router, service_ms
from heroku_monitor.core.logs.rules import (
    LOG_SLOW_RESPONSES,
    Thresholds,
    alerts,
    parse_thresholds,
)
from heroku_monitor.render import messages
from tests.support.logplex import H12, OK, body, frame

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=4, seconds=30)  # the window: 12:00-12:05


def at(ms: int) -> str:
    return OK.replace("service=6ms", f"service={ms}ms")


def minutes(*per_minute: list[int]) -> list[MinuteCounts]:
    """Minutes from T0 on, each with its requests' response times."""
    return [
        MinuteCounts(T0 + timedelta(minutes=i), len(times), latency=latency.of(times))
        for i, times in enumerate(per_minute)
    ]


def slow(found: list) -> list:
    return [a for a in found if a.kind == LOG_SLOW_RESPONSES]


@pytest.mark.parametrize(
    ("name", "per_minute", "thresholds", "p95"),
    [
        ("fast: no alert", [[80] * 40] * 5, "5/5/100", None),
        ("6 % at 5 s: p95 over 3 s", [[80] * 94 + [5000] * 6], "5/5/100", 5416),
        ("exactly 5 % at 5 s: p95 under 3 s", [[80] * 95 + [5000] * 5], "5/5/100", None),
        ("all at the threshold itself", [[3000] * 100], "5/5/100", 4900),
        ("slow but 99 requests: too few", [[5000] * 99], "5/5/100", None),
        ("slow, fewer requests allowed", [[5000] * 99], "5/5/50", 7375),
        ("spread over the window", [[100] * 30 + [9000] * 10] * 3, "5/5/100", 9500),
        ("over 3 s, under the monitor's 10 s", [[5000] * 200], "5/5/100/10000", None),
        ("switched off", [[20_000] * 200], "5/5/100/off", None),
        ("H12 timeouts count at 30 s", [[30_000] * 150], "5/5/100", 30_000),
    ],
)
def test_slow_responses_alert_on_the_p95_of_the_window(name, per_minute, thresholds, p95):
    parsed, error = parse_thresholds(thresholds)
    assert error is None and parsed is not None
    found = slow(alerts("my-app", minutes(*per_minute), NOW, thresholds=parsed))
    assert [a.p95_ms for a in found] == ([] if p95 is None else [p95]), name


def test_minutes_out_of_the_window_do_not_count():
    history = minutes([5000] * 500, *([[80] * 10] * 10))  # slow 10 minutes ago
    assert slow(alerts("my-app", history, T0 + timedelta(minutes=10, seconds=30))) == []


def test_a_slow_storm_keeps_its_key_within_a_window_and_a_new_one_after_quiet():
    history = minutes(*([[5000] * 50] * 5))
    (first,) = slow(alerts("my-app", history, NOW))
    (again,) = slow(alerts("my-app", history, NOW + timedelta(seconds=20)))
    assert first.key == again.key == "my-app:log:slow:2026-11-27T12:00:0"
    later = minutes(*([[5000] * 50] * 5), *([[]] * 11), *([[5000] * 50] * 5))  # 11 quiet
    (new,) = slow(alerts("my-app", later, T0 + timedelta(minutes=20, seconds=30)))
    assert new.key == "my-app:log:slow:2026-11-27T12:16:0"


def test_the_alert_reads_slow_responses_with_the_p95_in_its_header():
    (alert,) = slow(alerts("my-app", minutes([80] * 94 + [5000] * 6), NOW))
    (message,) = messages.build([alert.event()], NOW)
    assert message.text.startswith("🐢 *Slow Responses: p95 5416 ms* 🐢\nApp: my-app\n")
    assert "100 requests in 12:00–12:05 UTC (threshold 3000 ms)" in message.text


@pytest.mark.parametrize(
    ("given", "slow_ms", "text"),
    [
        ("5/5/100", 3000, "5/5/100"),
        ("5/5/100/3000", 3000, "5/5/100"),
        ("5/5/100/5000", 5000, "5/5/100/5000"),
        (" 5 / 5 / 100 / OFF ", None, "5/5/100/off"),
    ],
)
def test_the_slow_threshold_is_the_fourth_log_threshold(given, slow_ms, text):
    thresholds, error = parse_thresholds(given)
    assert error is None and thresholds is not None
    assert (thresholds.slow_ms, thresholds.text) == (slow_ms, text)
    assert Thresholds().slow_ms == 3000


@pytest.mark.parametrize("given", ["5/5/100/99", "5/5/100/30001", "5/5/100/fast", "5/5/100/"])
def test_an_odd_slow_threshold_is_one_clear_sentence(given):
    thresholds, error = parse_thresholds(given)
    assert thresholds is None and error and "p95" in error and "lines/percent/requests" in error


@pytest.mark.parametrize(
    ("message", "ms"),
    [(OK, 6), (H12, 30000), ("at=info method=GET path=/ service=ms", None), ("status=200", None)],
)
def test_the_router_service_time_is_read_from_its_line(message, ms):
    assert service_ms(message) == ms
    router = parse_router(message)
    assert router is None or router.service_ms == ms


def test_a_batchs_response_times_are_counted_in_fixed_buckets_that_add_up():
    data = body(*(frame(at(ms), T0) for ms in (5, 24, 25, 2999, 3000, 30_000, 45_000)))
    (minute,) = count_logplex(data).counts.rows()
    assert minute.latency == latency.of([5, 24, 25, 2999, 3000, 30_000, 45_000])
    assert len(minute.latency) == len(latency.BOUNDS) + 1 == latency.BUCKETS
    assert [i for i, n in enumerate(minute.latency) for _ in range(n)] == [0, 0, 1, 10, 11, 16, 16]
    halves = minutes([5, 24, 25])[0].merge(minutes([2999, 3000, 30_000, 45_000])[0])
    assert halves.latency == minute.latency


def test_the_buckets_are_log_spaced_up_to_the_router_timeout():
    bounds = latency.BOUNDS
    assert bounds == tuple(sorted(bounds)) and bounds[-1] == 30_000 and 3000 in bounds
    assert all(1.3 <= b / a <= 2.5 for a, b in pairwise(bounds))
