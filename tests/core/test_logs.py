"""SPEC section 12, log-based alerts: every rule as a test of heroku_monitor.core.logs."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from heroku_monitor.core.logs import count as counting
from heroku_monitor.core.logs import parse, rules
from heroku_monitor.core.logs.count import CodeCount, Counts, MinuteCounts, count
from heroku_monitor.core.logs.latency import of
from heroku_monitor.core.logs.parse import parse_logplex, parse_router, parse_runtime
from heroku_monitor.core.logs.rules import detect
from tests.support.logplex import H12, OK, R14, body, frame

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TOKEN = "d.73ea7440-270a-435a-a0ea-adf50b4e5f5a"
OTHER = "d.9173ea1f-6f14-4976-9cf0-7cd0dafdcdbc"

APP_500 = OK.replace("status=200", "status=500").replace('path="/"', 'path="/boom"')
R10 = "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 60 seconds of launch"


def minutes_of(*frames: bytes, token: str | None = None) -> list[MinuteCounts]:
    return count(parse_logplex(body(*frames)).lines, token).rows()


def kinds(events: list) -> list[str]:
    return [e.kind for e in events]


# ------------------------------------------------------------------------------ parse_logplex


def test_real_shaped_frames_parse_into_their_rfc5424_fields():
    # The Logplex README's example, octet count included.
    readme = (
        b"83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\n"
    )
    batch = parse_logplex(readme + frame(H12, host=TOKEN))
    assert batch.malformed == 0
    first, second = batch.lines
    assert (first.priority, first.version) == (40, 1)
    assert first.timestamp == "2012-11-30T06:45:29+00:00"
    assert (first.hostname, first.app_name, first.procid) == ("host", "app", "web.3")
    assert first.msgid == "-"
    assert first.message == "State changed from starting to up"
    assert (second.hostname, second.app_name, second.procid) == (TOKEN, "heroku", "router")
    assert second.message == H12


def test_frames_without_a_trailing_newline_parse_too():
    raw = b"<190>1 2013-03-27T20:02:24+00:00 host app web.1 - foo"
    batch = parse_logplex(b"%d %s%d %s" % (len(raw), raw, len(raw), raw))
    assert [line.message for line in batch.lines] == ["foo", "foo"]
    assert batch.malformed == 0


def test_router_error_line_gives_code_status_path_dyno_method():
    router = parse_router(H12)
    assert router is not None
    assert (router.code, router.status, router.path, router.dyno, router.method) == (
        "H12",
        503,
        "/slow",
        "web.1",
        "GET",
    )


def test_router_info_line_has_no_code():
    router = parse_router(OK)
    assert router is not None
    assert (router.code, router.status, router.dyno) == (None, 200, "web.2")


def test_router_line_without_a_dyno_gives_none():
    h10 = (
        'at=error code=H10 desc="App crashed" method=GET path="/" host=x.herokuapp.com '
        'request_id=26fbf0fe fwd="72.20.67.198" dyno= connect= service= status=503 bytes= '
        "protocol=https"
    )
    router = parse_router(h10)
    assert router is not None
    assert (router.code, router.dyno, router.status) == ("H10", None, 503)


def test_runtime_r14_line_from_heroku_web_1_gives_code_and_dyno():
    (line,) = parse_logplex(frame(R14, proc="web.1")).lines
    runtime = line.runtime()
    assert runtime is not None
    assert (runtime.code, runtime.description, runtime.dyno) == (
        "R14",
        "Memory quota exceeded",
        "web.1",
    )
    assert parse_runtime(R10, "web.2") is not None
    assert line.router() is None


def test_the_apps_own_output_is_not_a_runtime_error():
    (line,) = parse_logplex(frame(R14, app="app", proc="web.1")).lines
    assert line.runtime() is None


def test_truncated_frame_is_malformed_and_the_rest_still_count():
    whole = frame(OK)
    batch = parse_logplex(body(whole, whole, whole[:-30]))
    assert (len(batch.lines), batch.malformed) == (2, 1)


def test_frame_length_that_lies_is_malformed_and_the_next_frame_still_counts():
    good = frame(OK)
    head, rest = frame(H12).split(b" ", 1)
    too_long = str(int(head) + 20).encode() + b" " + rest
    too_short = str(int(head) - 20).encode() + b" " + rest
    for liar in (too_long, too_short):
        batch = parse_logplex(body(good, liar, good, good))
        assert (len(batch.lines), batch.malformed) == (3, 1), liar[:4]
        assert all(line.message == OK for line in batch.lines)


def test_length_that_is_not_digits_is_malformed():
    rest = frame(H12).split(b" ", 1)[1]
    batch = parse_logplex(body(frame(OK), b"8x " + rest, frame(OK)))
    assert (len(batch.lines), batch.malformed) == (2, 1)


def test_frame_that_is_not_rfc5424_is_malformed():
    raw = b"hello world\n"
    batch = parse_logplex(body(frame(OK), b"%d %s" % (len(raw), raw), frame(OK)))
    assert (len(batch.lines), batch.malformed) == (2, 1)


def test_non_utf8_bytes_are_read_as_replacement_characters_never_raised():
    raw = frame('at=info method=GET path="/caf\xe9" status=200').replace(b"\xc3\xa9", b"\xe9")
    # The length was counted before the swap: recount it.
    payload = raw.split(b" ", 1)[1]
    bad = b"%d %s" % (len(payload), payload)
    batch = parse_logplex(body(bad, frame(OK)))
    assert (len(batch.lines), batch.malformed, batch.replaced) == (2, 0, 1)
    assert "\ufffd" in batch.lines[0].message
    assert count(batch.lines).rows()[0].requests == 2


def test_empty_body_is_an_empty_batch():
    assert parse_logplex(b"") == parse.Batch()
    assert parse_logplex(b"\n  \r\n") == parse.Batch()
    assert count(()).rows() == []


def test_garbage_never_raises():
    rng = random.Random(12)
    good = body(*(frame(H12) for _ in range(20)))
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.randrange(len(data) + 1)
        batch = parse_logplex(bytes(data[:cut]))
        count(batch.lines, TOKEN)
        assert len(batch.lines) + batch.malformed <= 21


def storm_body(size: int) -> tuple[bytes, int, int]:
    """Realistic router lines (one in ten an H12) until the body holds `size` bytes."""
    frames: list[bytes] = []
    total = errors = 0
    while total < size:
        at = T0 + timedelta(seconds=len(frames) * 0.01)
        error = len(frames) % 10 == 0
        message = H12 if error else OK.replace('path="/"', f'path="/items/{len(frames) % 40}"')
        frames.append(frame(message, at, host=TOKEN))
        total += len(frames[-1])
        errors += error
    return body(*frames), len(frames), errors


def test_a_1mb_batch_of_router_lines_parses_and_counts_in_well_under_half_a_second():
    data, lines, errors = storm_body(1_000_000)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        counts = count(parse_logplex(data).lines, TOKEN)
        best = min(best, time.perf_counter() - started)
    print(f"\n1 MB ({len(data)} bytes, {lines} lines): parse + count {best * 1000:.1f} ms")
    assert best < 0.5
    rows = counts.rows()
    assert sum(m.requests for m in rows) == lines
    assert sum(m.codes["H12"].count for m in rows) == errors


# -------------------------------------------------------------------------------------- count


def test_counts_requests_5xx_and_codes_per_minute_with_top_paths_and_dynos():
    frames = (frame(OK), frame(H12), frame(H12), frame(APP_500), frame(R14, proc="web.1"))
    (minute,) = minutes_of(*frames)
    assert (minute.minute, minute.requests, minute.errors_5xx) == (T0, 4, 3)
    assert minute.codes["H12"] == CodeCount(2, (("/slow", 2),), (("web.1", 2),))
    assert minute.codes["5xx"].paths == (("/boom", 1),)
    assert minute.codes["R14"].dynos == (("web.1", 1),)


def test_top_paths_are_bounded():
    frames = [frame(H12.replace("/slow", f"/p{i}")) for i in range(50)]
    (minute,) = minutes_of(*frames)
    assert minute.codes["H12"].count == 50
    assert len(minute.codes["H12"].paths) == counting.KEPT


def test_lines_with_another_drains_token_are_ignored():
    frames = [frame(H12, host=OTHER) for _ in range(10)] + [frame(OK, host=TOKEN), frame(OK)]
    (minute,) = minutes_of(*frames, token=TOKEN)
    assert (minute.requests, minute.codes) == (2, {})
    assert detect("myapp", minutes_of(*frames, token=TOKEN), T0) == []


def test_counts_of_two_halves_of_a_storm_merge_to_the_full_count():
    storm = [frame(H12, T0 + timedelta(seconds=7 * i)) for i in range(20)]
    storm += [frame(OK, T0 + timedelta(seconds=7 * i + 1)) for i in range(20)]
    whole = count(parse_logplex(body(*storm)).lines)
    first = count(parse_logplex(body(*storm[::2])).lines)
    second = count(parse_logplex(body(*storm[1::2])).lines)
    assert first.merge(second) == whole
    assert sum(m.codes["H12"].count for m in whole.rows()) == 20
    assert sum(m.requests for m in whole.rows()) == 40


def test_rows_read_back_from_the_database_merge_with_a_new_batch():
    (stored,) = minutes_of(*(frame(H12) for _ in range(3)))
    h12 = {"H12": CodeCount(3, (("/slow", 3),), (("web.1", 3),))}
    read_back = MinuteCounts(T0, 3, 3, h12, latency=of([30000] * 3))  # service=30000ms
    assert read_back == stored
    new = count(parse_logplex(body(*(frame(H12) for _ in range(4)))).lines)
    merged = Counts({T0: read_back}).merge(new)
    assert merged.rows()[0].codes["H12"].count == 7


def test_timestamps_in_another_offset_count_in_their_utc_minute():
    raw = b"<158>1 2026-11-27T13:00:30+01:00 host heroku router - " + H12.encode()
    (minute,) = count(parse_logplex(b"%d %s" % (len(raw), raw)).lines).rows()
    assert minute.minute == T0


# ------------------------------------------------------------------------------------- detect


def test_ten_h12_lines_in_five_minutes_make_one_router_error_event():
    frames = [frame(H12, T0 + timedelta(seconds=25 * i)) for i in range(10)]
    events = detect("myapp", minutes_of(*frames), T0 + timedelta(minutes=4))
    assert kinds(events) == [rules.LOG_ROUTER_ERROR]
    (event,) = events
    assert event.app == "myapp"
    assert event.key == "myapp:log:H12:2026-11-27T12:00:0"
    assert event.lines == 10
    assert event.summary.startswith("H12 Request timeout: 10 lines in 12:00–12:05 UTC")
    assert "/slow ×10" in event.summary and "web.1 ×10" in event.summary


def test_alert_details_are_fields_of_log_alert():
    frames = [frame(H12) for _ in range(6)]
    (alert,) = rules.alerts("myapp", minutes_of(*frames), T0)
    assert (alert.code, alert.description, alert.count) == ("H12", "Request timeout", 6)
    assert (alert.since, alert.until) == (T0 - timedelta(minutes=4), T0 + timedelta(minutes=1))
    assert alert.paths == (("/slow", 6),) and alert.dynos == (("web.1", 6),)


def test_four_h12_lines_make_no_event():
    frames = [frame(H12, T0 + timedelta(minutes=i)) for i in range(4)]
    assert detect("myapp", minutes_of(*frames), T0 + timedelta(minutes=4)) == []


def test_h12_lines_older_than_the_window_do_not_count():
    frames = [frame(H12, T0 + timedelta(minutes=i)) for i in range(6)]
    # At 12:10 the window is 12:06–12:11: none of them.
    assert detect("myapp", minutes_of(*frames), T0 + timedelta(minutes=10)) == []
    # At 12:05 it is 12:01–12:06: five of them.
    assert kinds(detect("myapp", minutes_of(*frames), T0 + timedelta(minutes=5))) == [
        rules.LOG_ROUTER_ERROR
    ]


def test_5xx_rate_under_100_requests_makes_no_event():
    frames = [frame(APP_500) for _ in range(40)] + [frame(OK) for _ in range(40)]
    assert detect("myapp", minutes_of(*frames), T0) == []


def test_5xx_rate_of_5_percent_over_100_requests_makes_one_event():
    frames = [frame(APP_500) for _ in range(5)] + [frame(OK) for _ in range(95)]
    (event,) = detect("myapp", minutes_of(*frames), T0)
    assert (event.kind, event.key, event.lines) == (
        rules.LOG_5XX_RATE,
        "myapp:log:5xx:2026-11-27T12:00:0",
        5,
    )
    assert event.summary.startswith("5xx rate 5.0%: 5 of 100 requests")
    assert "/boom ×5" in event.summary


def test_5xx_rate_under_5_percent_makes_no_event():
    frames = [frame(APP_500) for _ in range(4)] + [frame(OK) for _ in range(96)]
    assert detect("myapp", minutes_of(*frames), T0) == []


def test_r14_makes_one_memory_event_at_the_first_line():
    (event,) = detect("myapp", minutes_of(frame(R14, proc="web.1")), T0)
    assert (event.kind, event.key, event.lines) == (
        rules.LOG_MEMORY,
        "myapp:log:R14:web.1:2026-11-27T12:00:0",
        1,
    )
    assert event.summary.startswith("R14 Memory quota exceeded: 1 lines")


def test_memory_events_are_per_dyno_and_per_code():
    frames = [
        frame(R14, proc="web.1"),
        frame(R14, proc="web.2"),
        frame("Error R15 (Memory quota vastly exceeded)", proc="worker.1"),
    ]
    events = detect("myapp", minutes_of(*frames), T0)
    assert sorted(e.key for e in events) == [
        "myapp:log:R14:web.1:2026-11-27T12:00:0",
        "myapp:log:R14:web.2:2026-11-27T12:00:0",
        "myapp:log:R15:worker.1:2026-11-27T12:00:0",
    ]
    assert set(kinds(events)) == {rules.LOG_MEMORY}


def test_r10_makes_a_boot_timeout_event():
    (event,) = detect("myapp", minutes_of(frame(R10, proc="web.1")), T0)
    assert event.kind == rules.LOG_BOOT_TIMEOUT
    assert event.key == "myapp:log:R10:web.1:2026-11-27T12:00:0"
    assert "Boot timeout" in event.summary


def test_a_storm_that_goes_on_keeps_its_run_and_is_said_again_once_a_window():
    frames = [frame(H12, T0 + timedelta(seconds=20 * i)) for i in range(60)]  # 20 minutes
    minutes = minutes_of(*frames)
    keys = {
        e.key for at in range(0, 20) for e in detect("myapp", minutes, T0 + timedelta(minutes=at))
    }
    # One run (its first minute), said once in each 5-minute window it lasts.
    assert keys == {f"myapp:log:H12:2026-11-27T12:00:{n}" for n in range(4)}


def test_a_storm_after_ten_quiet_minutes_gets_a_new_key():
    first = [frame(H12, T0) for _ in range(5)]
    later = T0 + timedelta(minutes=20)
    second = [frame(H12, later) for _ in range(5)]
    (event,) = detect("myapp", minutes_of(*first, *second), later)
    assert event.key == "myapp:log:H12:2026-11-27T12:20:0"


def test_the_same_storm_counted_in_two_processes_alerts_once_on_the_merged_rows():
    storm = [frame(H12) for _ in range(6)]
    half_a = count(parse_logplex(body(*storm[:3])).lines)
    half_b = count(parse_logplex(body(*storm[3:])).lines)
    assert detect("myapp", half_a.rows(), T0) == []
    (event,) = detect("myapp", half_a.merge(half_b).rows(), T0)
    assert event.lines == 6


def test_thresholds_can_be_changed():
    frames = [frame(H12) for _ in range(2)]
    strict = rules.Thresholds(code_lines=2)
    assert kinds(detect("myapp", minutes_of(*frames), T0, thresholds=strict)) == [
        rules.LOG_ROUTER_ERROR
    ]


def test_a_long_storm_is_one_incident_that_hears_of_it_each_window_and_ends_when_quiet():
    from heroku_monitor.core import incidents

    frames = [frame(H12, T0 + timedelta(seconds=20 * i)) for i in range(60)]  # 20 minutes
    minutes = minutes_of(*frames)
    open_: tuple = ()
    seen: set[str] = set()
    posts = replies = 0
    for at in range(0, 40):  # a log check every minute, for 40 minutes
        now = T0 + timedelta(minutes=at)
        fresh = [e for e in detect("myapp", minutes, now) if e.key not in seen]
        seen |= {e.key for e in fresh}
        outcome = incidents.apply(open_, fresh, now)
        open_ = tuple(i for i in outcome.incidents if i.is_open)
        posts += sum(a.kind == incidents.POST for a in outcome.actions)
        replies += sum(a.kind == incidents.REPLY for a in outcome.actions)
        if at == 25:
            assert len(open_) == 1  # still open five minutes after the storm's last line
    assert posts == 1 and replies >= 3  # one thread: a reply each later window, the end
    assert open_ == ()  # ended after 10 quiet minutes
