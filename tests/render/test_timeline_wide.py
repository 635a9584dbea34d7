"""An app's page draws its timeline wider in viewBox units, so that at a desktop's full width
its text is as big as the page's small print, not three times it (the 400-unit picture is for
a phone's 390 px)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from heroku_monitor.render import timeline

NOW = datetime(2026, 12, 8, 12, tzinfo=UTC)


def test_a_wide_timeline_spreads_its_days_and_keeps_its_text_size():
    narrow = timeline.layout("my-app", [], [], NOW)
    wide = timeline.layout("my-app", [], [], NOW, width=timeline.WIDE)
    assert (narrow.width, wide.width) == (timeline.WIDTH, timeline.WIDE)
    assert wide.font_size == narrow.font_size
    assert wide.right == narrow.right + (timeline.WIDE - timeline.WIDTH)
    assert wide.right < wide.width and wide.left == narrow.left
    assert len(wide.days) >= len(narrow.days)  # the partial days at the edges fit a name too
    assert wide.days[-1].x > narrow.days[-1].x * 2  # the week spans the wide picture
    assert wide.quiet is not None and wide.quiet.x == (wide.left + wide.right) / 2


def test_a_timeline_narrower_than_a_phones_is_refused():
    with pytest.raises(ValueError, match="at least 400 units"):
        timeline.layout("my-app", [], [], NOW, width=300)
