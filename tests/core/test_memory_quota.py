"""SPEC §15, memory before R14: `log-runtime-metrics` samples per dyno and minute (the
minute's highest), the quota from the line's `memory_quota` or the dyno's size, and the
rule: a dyno at 90 % or more of its quota for 5 minutes opens an incident that an R14
joins. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heroku_monitor.core import incidents
from heroku_monitor.core.logs import metrics
from heroku_monitor.core.logs.limits import (
    MemoryThresholds,
    format_thresholds,
    from_form,
    parse_thresholds,
)
from heroku_monitor.core.logs.memory import (
    LOG_MEMORY_NEAR_QUOTA,
    dyno_sizes,
    near_quota,
    quota_mb,
)
from heroku_monitor.core.logs.metrics import MEMORY, MEMORY_QUOTA, Sample
from heroku_monitor.core.logs.rules import LOG_MEMORY
from heroku_monitor.core.logs.rules import alerts as log_alerts
from heroku_monitor.core.snapshot import AppSnapshot, Dyno
from heroku_monitor.render import limits as render_limits
from heroku_monitor.render import messages
from tests.support.logplex import body, frame

T0 = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SIZES = {"web.1": "Standard-1X", "web": "Standard-1X", "worker.1": "Standard-2X"}


def runtime(mb: float, dyno: str = "web.1", quota: float | None = None) -> str:
    line = (
        f"source={dyno} dyno=heroku.2808254.d97d0ea7-cf3d-411b-b453-d2943a50b456 "
        f"sample#memory_total={mb:.2f}MB sample#memory_rss={mb:.2f}MB "
        "sample#memory_cache=0.00MB sample#memory_swap=0.00MB "
        "sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages"
    )
    return line + (f" sample#memory_quota={quota:.2f}MB" if quota is not None else "")


def memory(*per_minute: float, dyno: str = "web.1", start: datetime = T0) -> list[Sample]:
    return [Sample(start + i * MIN, MEMORY, dyno, mb) for i, mb in enumerate(per_minute)]


# ------------------------------------------------------------------------------ samples


def test_runtime_metrics_lines_give_each_dyno_its_highest_memory_per_minute():
    posted = body(
        frame(runtime(400), T0 + timedelta(seconds=5), proc="web.1"),
        frame(runtime(471.5), T0 + timedelta(seconds=25), proc="web.1"),
        frame(runtime(450), T0 + timedelta(seconds=45), proc="web.1"),
        frame(runtime(300, "web.2"), T0 + timedelta(seconds=5), proc="web.2"),
        frame(runtime(310), T0 + timedelta(minutes=1, seconds=5), proc="web.1"),
    )
    assert metrics.from_logplex(posted) == [
        Sample(T0, MEMORY, "web.1", 471.5),
        Sample(T0 + MIN, MEMORY, "web.1", 310),
        Sample(T0, MEMORY, "web.2", 300),
    ]


def test_a_line_that_carries_memory_quota_gives_the_quota_too():
    posted = body(frame(runtime(100, quota=1024), T0, proc="web.1"))
    assert Sample(T0, MEMORY_QUOTA, "web.1", 1024) in metrics.from_logplex(posted)


@pytest.mark.parametrize(
    ("app", "proc", "host"),
    [
        ("app", "web.1", "host"),  # the app printing a look-alike line is not Heroku
        ("heroku", "router", "host"),
        ("heroku", "web.1", "d.other-drain"),  # another drain's line
    ],
)
def test_a_line_that_is_not_the_platforms_runtime_metrics_is_no_sample(app, proc, host):
    posted = body(frame(runtime(500), app=app, proc=proc, host=host))
    assert metrics.from_logplex(posted, token="d.ours") == []


def test_an_app_line_that_writes_a_frames_look_alike_is_no_sample():
    forged = f"123 <158>1 2026-12-08T02:00:00.000000+00:00 host heroku web.1 - {runtime(999)}"
    posted = body(frame(forged, T0, app="app", proc="web.1"), frame(runtime(100), T0, proc="web.2"))
    assert metrics.from_logplex(posted) == [Sample(T0, MEMORY, "web.2", 100)]


def test_the_lines_of_a_batch_and_the_parsed_lines_give_the_same_samples():
    from heroku_monitor.core.logs.parse import parse_logplex

    posted = body(frame(runtime(400), proc="web.1"), frame(runtime(420, quota=512), proc="web.1"))
    assert metrics.from_lines(parse_logplex(posted).lines) == metrics.from_logplex(posted)


def test_a_batch_without_samples_costs_one_search():
    assert metrics.from_logplex(b"83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - hi\n") == []


# ------------------------------------------------------------------------------ quotas


@pytest.mark.parametrize(
    ("size", "mb"),
    [
        ("eco", 512),
        ("Basic", 512),
        ("Standard-1X", 512),
        ("standard-2X", 1024),
        ("Performance-M", 2560),
        ("performance-l", 14336),
        ("Performance-L-RAM", 30720),
        ("performance-xl", 63488),
        ("performance-2xl", 129024),
        ("Private-S", 1024),
        ("shield-m", 2560),
        ("private-l-ram", 30720),
        ("Shield-2XL", 129024),
        ("1X", 512),
        ("2X", 1024),
        ("dyno-2c-4gb", 4096),  # Fir: the size names its memory
        ("dyno-1c-0.5gb", 512),
    ],
)
def test_the_quota_of_each_documented_dyno_size(size, mb):
    assert quota_mb(size) == mb


@pytest.mark.parametrize("size", ["", "performance-xxl", "huge", "dyno-2c"])
def test_a_size_heroku_does_not_document_is_not_guessed(size):
    assert quota_mb(size) is None


def test_an_unknown_size_is_named_for_the_caller_and_not_alerted():
    found = near_quota("my-app", memory(*[600] * 6), {"web.1": "Mega-9X"}, T0 + 5 * MIN)
    assert found.alerts == ()
    assert found.unknown == ("web.1 (Mega-9X)",)


def test_a_dyno_the_snapshot_does_not_know_takes_its_process_types_size():
    snapshot = AppSnapshot("my-app", T0, dynos=(Dyno("web.1", "web", "up", size="Standard-1X"),))
    sizes = dyno_sizes(snapshot)
    found = near_quota("my-app", memory(*[480] * 5, dyno="web.7"), sizes, T0 + 4 * MIN)
    assert [a.dyno for a in found.alerts] == ["web.7"]


# ------------------------------------------------------------------------------ the rule


@pytest.mark.parametrize(
    ("per_minute", "thresholds", "alerted"),
    [
        ([461] * 5, MemoryThresholds(), True),  # 90 % of 512 is 460.8: 5 minutes at or over
        ([470] * 4, MemoryThresholds(), False),  # 4 minutes only
        ([470, 470, 400, 470, 470], MemoryThresholds(), False),  # a dip ends the run
        ([460] * 5, MemoryThresholds(), False),  # just under 90 %
        ([420] * 5, MemoryThresholds(percent=80), True),  # the monitor's own threshold
        ([470] * 2, MemoryThresholds(window=2), True),  # … and window
        ([600] * 9, MemoryThresholds(on=False), False),  # switched off
    ],
)
def test_a_dyno_at_the_threshold_of_its_quota_for_the_window_is_near_quota(
    per_minute, thresholds, alerted
):
    now = T0 + (len(per_minute) - 1) * MIN + timedelta(seconds=30)
    found = near_quota("my-app", memory(*per_minute), SIZES, now, thresholds)
    assert bool(found.alerts) is alerted


def test_one_minute_without_a_sample_does_not_end_the_run_but_two_do():
    gap = memory(470, 470, start=T0) + memory(470, 470, 470, start=T0 + 3 * MIN)
    assert near_quota("my-app", gap, SIZES, T0 + 5 * MIN).alerts
    gaps = memory(470, 470, start=T0) + memory(470, 470, 470, start=T0 + 4 * MIN)
    assert not near_quota("my-app", gaps, SIZES, T0 + 6 * MIN).alerts


def test_samples_that_stopped_coming_alert_nothing():
    assert not near_quota("my-app", memory(*[500] * 5), SIZES, T0 + 8 * MIN).alerts


def test_the_quota_in_the_line_wins_over_the_sizes():
    samples = [*memory(*([950] * 5)), Sample(T0, MEMORY_QUOTA, "web.1", 1024)]
    (alert,) = near_quota("my-app", samples, SIZES, T0 + 4 * MIN).alerts
    assert (alert.quota_mb, alert.quota_from, alert.used_mb) == (1024, "line", 950)


def test_the_alert_says_used_of_quota_mb():
    (alert,) = near_quota("my-app", memory(461, 470, 480, 490, 471), SIZES, T0 + 4 * MIN).alerts
    assert alert.summary.splitlines()[0] == "490 of 512 MB"
    event = alert.event()
    assert event.kind == LOG_MEMORY_NEAR_QUOTA and event.dyno is not None
    assert event.dyno.name == "web.1"
    assert render_limits.header(event.kind, [event]) == ("📈", "Memory Near Quota: web.1")


def test_the_message_is_memory_near_quota_with_used_of_quota():
    (alert,) = near_quota("my-app", memory(*[480] * 5), SIZES, T0 + 4 * MIN).alerts
    (message,) = messages.build([alert.event()], T0)
    assert message.text.startswith("📈 *Memory Near Quota: web.1* 📈\nApp: my-app\n480 of 512 MB\n")


def test_a_run_that_goes_on_keeps_its_key_within_a_window_and_says_it_again_once_a_window():
    samples = memory(*[480] * 15)
    keys = [near_quota("my-app", samples, SIZES, T0 + m * MIN).alerts[0].key for m in range(4, 15)]
    assert len(set(keys[:5])) == 1  # minutes 4-8: the first window
    assert len(set(keys)) == 3 and all(":2026-12-08T02:00:" in k for k in keys)


# ------------------------------------------------------------------------------ incidents


def test_memory_near_quota_and_r14_are_one_incident():
    (alert,) = near_quota("my-app", memory(*[480] * 5), SIZES, T0 + 4 * MIN).alerts
    opened = incidents.apply([], [alert.event()], T0 + 4 * MIN)
    (incident,) = opened.incidents
    assert incident.family == LOG_MEMORY
    from heroku_monitor.core.logs.count import CodeCount, MinuteCounts

    r14 = MinuteCounts(T0 + 5 * MIN, codes={"R14": CodeCount(1, (), (("web.1", 1),))})
    events = [a.event() for a in log_alerts("my-app", [r14], T0 + 5 * MIN)]
    joined = incidents.apply(opened.incidents, events, T0 + 5 * MIN)
    assert [i.id for i in joined.incidents] == [incident.id]
    assert [a.what for a in joined.actions if a.kind == incidents.REPLY] == [incidents.FOLLOW_UP]


def test_an_r14_incident_is_joined_by_memory_near_quota():
    from heroku_monitor.core.logs.count import CodeCount, MinuteCounts

    r14 = MinuteCounts(T0, codes={"R14": CodeCount(1, (), (("web.1", 1),))})
    opened = incidents.apply([], [a.event() for a in log_alerts("my-app", [r14], T0)], T0)
    (alert,) = near_quota("my-app", memory(*[480] * 5), SIZES, T0 + 4 * MIN).alerts
    joined = incidents.apply(opened.incidents, [alert.event()], T0 + 4 * MIN)
    assert len(joined.incidents) == 1 and joined.incidents[0].count == 2


# ------------------------------------------------------------------------------ thresholds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", MemoryThresholds()),
        ("off", MemoryThresholds(on=False)),
        ("percent=85", MemoryThresholds(percent=85)),
        ("percent=95 window=10", MemoryThresholds(percent=95, window=10)),
    ],
)
def test_memory_thresholds_are_read_from_their_stored_text_and_written_back(text, expected):
    parsed = parse_thresholds(MemoryThresholds, text)
    assert parsed.thresholds == expected and parsed.errors == {}
    assert format_thresholds(expected) == text


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"percent": "40", "window": "5"}, "percent"),
        ({"percent": "90", "window": "0"}, "window"),
        ({"percent": "ninety", "window": "5"}, "percent"),
        ({"percent": "", "window": "5"}, "percent"),
    ],
)
def test_a_wrong_memory_threshold_gets_one_sentence_for_its_field(form, field):
    parsed = from_form(MemoryThresholds, form)
    assert parsed.thresholds is None and list(parsed.errors) == [field]
    assert parsed.errors[field].endswith(".")
