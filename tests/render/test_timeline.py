"""The dashboard's timeline (SPEC section 11): an app's last 7 days drawn as SVG, on the server."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heroku_monitor.core import detect, incidents
from heroku_monitor.core.incidents import Incident
from heroku_monitor.render import timeline, timeline_looks, timescale
from heroku_monitor.render.timeline import Marker
from heroku_monitor.render.timescale import TimeScale
from heroku_monitor.store.models import Alert
from heroku_monitor.web.timeline import render_timeline

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2025, 3, 10, 15, 30, tzinfo=UTC)  # a Monday afternoon
APP = "my-app"


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def incident(
    id: str, opened: datetime, resolved: datetime | None = None, family: str = "dynos", **kw
) -> Incident:
    return Incident(
        id=id,
        app=APP,
        family=family,
        opened_at=opened,
        last_seen=resolved or opened,
        opening=(),
        resolved_at=resolved,
        **kw,
    )


def draw(
    incs: list[Incident] = [],  # noqa: B006 (never mutated)
    marks: list[Marker] = [],  # noqa: B006
    app: str = APP,
    now: datetime = NOW,
    days: int = 7,
) -> str:
    return str(render_timeline(app, incs, marks, now, days=days))


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars(root: ET.Element) -> dict[str, ET.Element]:
    """Each incident's group, by incident id."""
    return {g.get("data-incident", ""): g for g in root.iter(f"{SVG}g") if g.get("data-incident")}


def marks(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "timeline-mark"]


def rect_of(group: ET.Element) -> ET.Element:
    rect = group.find(f"{SVG}rect")
    assert rect is not None
    return rect


def title_of(group: ET.Element) -> str:
    title = group.find(f"{SVG}title")
    assert title is not None and title.text is not None
    return title.text


def span_of(rect: ET.Element) -> tuple[float, float]:
    x = float(rect.get("x", "nan"))
    return x, x + float(rect.get("width", "nan"))


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def scale() -> TimeScale:
    return TimeScale.window(NOW, 7)


# -- bars ------------------------------------------------------------------------------------


def test_bars_span_opened_to_resolved():
    opened, resolved = ago(days=3), ago(days=2, hours=12)
    root = parse(draw([incident("i1", opened, resolved)]))

    x0, x1 = span_of(rect_of(bars(root)["i1"]))

    assert x0 == pytest.approx(scale().x(opened), abs=0.01)
    assert x1 == pytest.approx(scale().x(resolved), abs=0.02)
    assert "timeline-open" not in (bars(root)["i1"].get("class") or "")


def test_an_open_incident_runs_to_now():
    root = parse(draw([incident("i1", ago(hours=5))]))

    group = bars(root)["i1"]
    x0, x1 = span_of(rect_of(group))

    assert x0 == pytest.approx(scale().x(ago(hours=5)), abs=0.01)
    assert x1 == pytest.approx(scale().x(NOW), abs=0.02) == pytest.approx(timescale.RIGHT)
    assert "timeline-open" in (group.get("class") or "")
    assert "open for 5 h" in title_of(group)


def test_a_short_incident_still_shows():
    root = parse(draw([incident("i1", ago(hours=2), ago(hours=2, minutes=-1))]))

    x0, x1 = span_of(rect_of(bars(root)["i1"]))

    assert x1 - x0 >= timeline.MIN_BAR


def test_incident_tooltip_tells_crashes_duration_and_who_acknowledged():
    opened = ago(days=1)
    loop = incident(
        "i1",
        opened,
        opened + timedelta(minutes=14),
        crashes=5,
        escalated=True,
        acknowledged_by="ann",
    )

    title = title_of(bars(parse(draw([loop])))["i1"])

    assert title.startswith("Crash loop: 5 crashes, 14 min, acknowledged by ann")
    assert "Sun 9 15:30 UTC" in title


def test_each_family_has_its_colour_and_a_legend_entry():
    incs = [
        incident("d", ago(days=6), ago(days=5), family=incidents.DYNOS),
        incident("r", ago(days=4), ago(days=3), family=incidents.RELEASE),
        incident("m", ago(days=3), ago(days=2), family=incidents.MONITORING),
        incident("l", ago(days=1), ago(hours=20), family="log_router_error"),
    ]
    root = parse(draw(incs))

    fills = {i: rect_of(g).get("fill") for i, g in bars(root).items()}

    assert fills == {
        "d": timeline_looks.RUST,
        "r": timeline_looks.AMBER,
        "m": timeline_looks.DUST,
        "l": timeline_looks.COPPER,
    }
    assert {"Dynos", "Release", "Monitoring", "Log errors"} <= set(texts(root))


def test_the_legend_names_only_what_is_drawn():
    root = parse(
        draw([incident("d", ago(days=1), ago(hours=20))], [Marker(ago(days=2), "deploy", "")])
    )

    assert {"Dynos", "Deploy"} <= set(texts(root))
    assert not {"Release", "Monitoring", "Log errors", "Rollback"} & set(texts(root))


def test_overlapping_incidents_share_the_lane_in_at_most_three_tracks():
    two = [
        incident("a", ago(days=2), ago(days=1), family=incidents.DYNOS),
        incident("b", ago(days=1, hours=12), ago(hours=1), family="log_h12"),
    ]
    root = parse(draw(two))
    ys = {i: rect_of(g).get("y") for i, g in bars(root).items()}
    assert ys["a"] != ys["b"]

    many = [incident(f"i{n}", ago(days=3, hours=n), ago(days=1)) for n in range(5)]
    root = parse(draw(many))
    assert len({rect_of(g).get("y") for g in bars(root).values()}) == timeline.MAX_TRACKS
    top, height = timeline._LANE[timeline_looks.INCIDENTS]
    for group in bars(root).values():
        rect = rect_of(group)
        y, h = float(rect.get("y", "nan")), float(rect.get("height", "nan"))
        assert top <= y and y + h <= top + height


# -- the window ------------------------------------------------------------------------------


def test_events_older_than_seven_days_are_left_out():
    incs = [
        incident("old", ago(days=9), ago(days=8)),
        incident("across", ago(days=9), ago(days=6)),
        incident("later", NOW + timedelta(minutes=5)),
    ]
    alerts = [
        Marker(ago(days=7, minutes=1), detect.DYNO_CRASHED, "too old"),
        Marker(ago(days=6), detect.DYNO_CRASHED, "kept"),
        Marker(NOW + timedelta(minutes=1), detect.DEPLOY, "not yet"),
    ]
    root = parse(draw(incs, alerts))

    assert set(bars(root)) == {"across"}
    x0, x1 = span_of(rect_of(bars(root)["across"]))
    assert x0 == pytest.approx(timescale.LEFT)
    assert x1 == pytest.approx(scale().x(ago(days=6)), abs=0.02)
    assert [title_of(m).split(" (")[0] for m in marks(root)] == ["kept"]


def test_nothing_is_drawn_outside_the_axis():
    incs = [incident("a", ago(days=10)), incident("b", ago(days=1), ago(hours=2))]
    alerts = [Marker(ago(days=7), "deploy", "edge"), Marker(NOW, "dyno_crashed", "now")]
    root = parse(draw(incs, alerts))

    for group in [*bars(root).values(), *marks(root)]:
        for el in group:
            for name in ("x", "cx", "x1", "x2"):
                if el.get(name) is not None:
                    assert timescale.LEFT <= float(el.get(name, "nan")) <= timescale.RIGHT
        if group in bars(root).values():
            assert span_of(rect_of(group))[1] <= timescale.RIGHT + 0.01


def test_the_scale_is_monotonic_and_bounded():
    s = scale()
    times = [ago(days=7) + timedelta(hours=h) for h in range(0, 7 * 24 + 1, 5)]
    xs = [s.x(t) for t in times]

    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert s.x(ago(days=7)) == pytest.approx(timescale.LEFT)
    assert s.x(NOW) == pytest.approx(timescale.RIGHT)
    assert s.x(ago(days=30)) == timescale.LEFT
    assert s.x(NOW + timedelta(days=1)) == timescale.RIGHT
    assert s.x(ago(days=3, hours=12)) == pytest.approx((timescale.LEFT + timescale.RIGHT) / 2)


def test_a_deploy_and_a_crash_land_at_their_times():
    deployed, crashed = ago(days=2, minutes=10), ago(days=2)
    alerts = [
        Marker(crashed, detect.DYNO_CRASHED, "Dyno Crashed: web.1"),
        Marker(deployed, detect.DEPLOY, "Deploy v42 by bob"),
    ]
    root = parse(draw([], alerts))
    s = scale()
    by_kind = {m.get("data-kind"): m for m in marks(root)}

    crash = by_kind[detect.DYNO_CRASHED].find(f"{SVG}circle")
    assert crash is not None
    assert float(crash.get("cx", "nan")) == pytest.approx(s.x(crashed), abs=0.01)
    triangle = by_kind[detect.DEPLOY].find(f"{SVG}polygon")
    assert triangle is not None
    apex = triangle.get("points", "").split()[0]
    assert float(apex.split(",")[0]) == pytest.approx(s.x(deployed), abs=0.01)
    assert float(by_kind[detect.DEPLOY].get("data-x", "nan")) < float(
        by_kind[detect.DYNO_CRASHED].get("data-x", "nan")
    )
    guides = [g for g in root.iter(f"{SVG}line") if g.get("class") == "timeline-guide"]
    assert [float(g.get("x1", "nan")) for g in guides] == [pytest.approx(s.x(deployed), abs=0.01)]
    # crashes in the alerts lane, deploys in the changes lane
    assert float(crash.get("cy", "nan")) < float(apex.split(",")[1]) + 10


def test_each_kind_of_mark_sits_in_its_lane():
    alerts = [
        Marker(ago(days=1), kind, kind)
        for kind in (
            detect.DYNO_CRASHED,
            detect.DYNOS_DOWN,
            "log_router_error",
            detect.DEPLOY,
            detect.ROLLBACK,
            detect.CONFIG_CHANGED,
        )
    ]
    root = parse(draw([], alerts))

    def lane(group: ET.Element) -> str:
        shape = next(iter(group[1:]))
        ys = [float(v) for k, v in shape.attrib.items() if k in ("cy", "y")] or [
            float(p.split(",")[1]) for p in shape.get("points", "").split()
        ]
        middle = sum(ys) / len(ys)
        for key, _, top, height in timeline._LANES:
            if top <= middle <= top + height:
                return key
        raise AssertionError(f"outside every lane: {middle}")

    lanes = {m.get("data-kind"): lane(m) for m in marks(root)}
    assert lanes == {
        detect.DYNO_CRASHED: timeline_looks.ALERTS,
        detect.DYNOS_DOWN: timeline_looks.ALERTS,
        "log_router_error": timeline_looks.ALERTS,
        detect.DEPLOY: timeline_looks.CHANGES,
        detect.ROLLBACK: timeline_looks.CHANGES,
        detect.CONFIG_CHANGED: timeline_looks.CHANGES,
    }


def test_edits_and_acknowledgements_are_not_drawn_again():
    alerts = [
        Marker(ago(hours=3), kind, kind)
        for kind in (incidents.STATE, incidents.RESOLVED, incidents.ACKNOWLEDGED)
    ]

    assert marks(parse(draw([], alerts))) == []


# -- the axis --------------------------------------------------------------------------------


def test_the_axis_has_a_tick_and_a_label_per_day():
    root = parse(draw())
    s = scale()

    midnights = timescale.day_starts(s)
    assert len(midnights) == 7
    assert all(m.hour == 0 and m.minute == 0 for m in midnights)
    ticks = [
        float(line.get("x1", "nan"))
        for line in root.iter(f"{SVG}line")
        if line.get("y1") == str(int(timeline.AXIS_Y)) and line.get("x1") == line.get("x2")
    ]
    assert ticks == [pytest.approx(s.x(m), abs=0.01) for m in midnights]
    days = [t.get("class") == "timeline-day" and t.text for t in root.iter(f"{SVG}text")]
    assert [d for d in days if d] == [
        "Tue 4",
        "Wed 5",
        "Thu 6",
        "Fri 7",
        "Sat 8",
        "Sun 9",
        "Mon 10",
    ]


def test_days_follow_the_time_zone_of_now():
    denver = ZoneInfo("America/Denver")
    now = datetime(2025, 3, 12, 9, 0, tzinfo=denver)  # the week of a DST change
    s = TimeScale.window(now, 7)

    midnights = timescale.day_starts(s)

    assert [m.astimezone(denver).hour for m in midnights] == [0] * 7
    assert s.x(now) == pytest.approx(timescale.RIGHT)
    assert s.end - s.start == timedelta(hours=7 * 24)  # real hours, across the change
    assert s.x(now.astimezone(UTC) - timedelta(days=7)) == pytest.approx(timescale.LEFT)
    ET.fromstring(str(render_timeline(APP, [], [], now)))


def test_a_quiet_app_draws_an_empty_axis_and_says_so():
    root = parse(draw())

    assert "Quiet on the range: nothing in 7 days" in texts(root)
    assert bars(root) == {} and marks(root) == []
    assert any(line.get("y1") == line.get("y2") for line in root.iter(f"{SVG}line"))


def test_a_busy_app_does_not_say_it_is_quiet():
    root = parse(draw([], [Marker(ago(days=1), detect.CONFIG_CHANGED, "Set FOO")]))

    assert not any("Quiet" in t for t in texts(root))


def test_days_must_be_positive():
    with pytest.raises(ValueError):
        render_timeline(APP, [], [], NOW, days=0)


# -- safe, valid, CSP-proof SVG ----------------------------------------------------------------


def busy() -> str:
    incs = [
        incident("a", ago(days=6), ago(days=5, hours=23), crashes=3, acknowledged_by="ann"),
        incident("b", ago(days=4), ago(days=3), family=incidents.RELEASE),
        incident("c", ago(days=2), ago(days=1), family=incidents.MONITORING),
        incident("d", ago(hours=3), family="log_router_error", count=4),
    ]
    kinds = [*detect.KINDS, "log_router_error", incidents.ESCALATION, incidents.FOLLOW_UP, "x"]
    alerts = [Marker(ago(hours=7 * n + 1), k, f"{k} & more") for n, k in enumerate(kinds)]
    return draw(incs, alerts)


def test_the_output_parses_as_xml():
    root = parse(busy())

    assert root.tag == f"{SVG}svg"
    assert len(bars(root)) == 4
    assert len(marks(root)) == len(detect.KINDS) + 4
    assert all(title_of(m) for m in marks(root))
    assert all(title_of(g) for g in bars(root).values())


def test_tooltips_and_names_are_escaped():
    app = "<script>alert('app')</script> & co"
    label = "<script>alert(1)</script>"
    who = '<img src=x onerror="alert(2)">'
    svg = draw(
        [incident("i1", ago(days=1), ago(hours=20), acknowledged_by=who)],
        [Marker(ago(hours=2), detect.DEPLOY, label)],
        app=app,
    )

    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    root = parse(svg)
    assert root.get("aria-label") == f"{app}: the last 7 days"
    assert title_of(root) == f"{app}: the last 7 days"
    assert title_of(marks(root)[0]).startswith(label + " (")
    assert f"acknowledged by {who}" in title_of(bars(root)["i1"])
    assert not [el for el in root.iter() if el.tag in (f"{SVG}script", f"{SVG}img", "script")]


def test_characters_xml_cannot_carry_are_dropped():
    label = "boom\x00\x1b[31m red\x07 \ud800end"

    root = parse(draw([], [Marker(ago(hours=2), "log_r14", label)]))

    assert title_of(marks(root)[0]).startswith("boom[31m red end (")


def test_no_style_attributes_or_elements():
    svg = busy()
    root = parse(svg)

    assert not [el for el in root.iter() if "style" in el.attrib]
    assert not [el for el in root.iter() if el.tag in (f"{SVG}style", "style")]
    assert " style=" not in svg and "<style" not in svg
    assert not [el for el in root.iter() if el.tag == f"{SVG}script"]
    assert re.findall(r"https?://[^\"' ]+", svg) == ["http://www.w3.org/2000/svg"]  # no CDN


def test_the_root_scales_to_a_phone_with_a_viewbox():
    root = parse(busy())

    assert root.get("width") == "100%"
    assert root.get("height") is None
    view = [float(v) for v in (root.get("viewBox") or "").split()]
    assert len(view) == 4 and view[2] > 0 and view[3] > 0
    # at 390 px wide, a viewBox unit is 390 / width px: text stays legible (>= 10 px)
    sizes = [float(el.get("font-size", "nan")) for el in root.iter() if el.get("font-size")]
    assert sizes and re.fullmatch(r"[\d.]+", root.get("font-size", "")), "no px: viewBox units"
    assert min(sizes) * 390 / view[2] >= 10
    # a thing or two in the picture, not a table
    assert len(timeline._LANES) <= 3


def test_a_marker_from_an_alert_row():
    row = Alert(
        app_name=APP,
        kind=detect.DYNO_CRASHED,
        text="🔥 *Dyno Crashed* 🔥\nApp: my_app\n<https://x.example/a|Open my_app> &lt;b&gt;",
        created_at=ago(hours=1),
    )

    marker = Marker.from_alert(row)

    assert marker == Marker(
        ago(hours=1), detect.DYNO_CRASHED, "🔥 Dyno Crashed 🔥 · App: my_app · Open my_app <b>"
    )
    root = parse(draw([], [marker]))
    assert title_of(marks(root)[0]).startswith(
        "🔥 Dyno Crashed 🔥 · App: my_app · Open my_app <b> ("
    )


def test_a_long_label_is_cut_short():
    root = parse(draw([], [Marker(ago(hours=1), detect.DEPLOY, "x" * 1000)]))

    label = title_of(marks(root)[0]).split(" (")[0]
    assert len(label) == timeline.LABEL_LIMIT and label.endswith("…")
