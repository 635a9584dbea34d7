"""The one table of alert rules (core/thresholds.py): each rule switched off alerts nothing,
each on alerts as before, and every text kept so far reads back the same."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from heroku_monitor.core import thresholds as rule_table
from heroku_monitor.core.logs import rules
from heroku_monitor.core.logs.count import CodeCount, MinuteCounts
from heroku_monitor.core.logs.latency import of

NOW = datetime(2026, 12, 8, 12, 0, 30, tzinfo=UTC)
MINUTE = NOW.replace(second=0)

# One minute that trips every rule at the defaults: 10 H12 lines, 60 % 5xx of 200 requests
# timed at 5 s each, an R14 and an R10 line.
STORM = MinuteCounts(
    MINUTE,
    200,
    120,
    {
        "H12": CodeCount(10, (("/", 10),), (("web.1", 10),)),
        "R14": CodeCount(1, (), (("web.1", 1),)),
        "R10": CodeCount(1, (), (("web.2", 1),)),
    },
    latency=of([5000] * 200),
)
KINDS = {
    "router": rules.LOG_ROUTER_ERROR,
    "rate_5xx": rules.LOG_5XX_RATE,
    "slow": rules.LOG_SLOW_RESPONSES,
    "memory": rules.LOG_MEMORY,
    "boot": rules.LOG_BOOT_TIMEOUT,
}


def all_on() -> dict[str, str]:
    setting = rule_table.setting_of(rules.Thresholds())
    return {**setting.values, **{f"on_{r.key}": "on" for r in rule_table.RULES}}


def kinds(thresholds: rules.Thresholds) -> set[str]:
    return {a.kind for a in rules.alerts("my-app", [STORM], NOW, thresholds=thresholds)}


def test_every_rule_of_the_table_alerts_at_its_defaults():
    assert set(KINDS) == {r.key for r in rule_table.RULES}
    thresholds, errors = rule_table.from_form(all_on())
    assert errors == {} and thresholds == rules.Thresholds()
    assert kinds(thresholds) == set(KINDS.values())


@pytest.mark.parametrize("rule", list(KINDS))
def test_a_rule_switched_off_alerts_nothing_and_the_others_still_do(rule: str):
    form = all_on()
    del form[f"on_{rule}"]
    thresholds, errors = rule_table.from_form(form)
    assert errors == {} and thresholds is not None
    assert kinds(thresholds) == set(KINDS.values()) - {KINDS[rule]}
    text = rule_table.text_of(thresholds)
    assert len(text) <= 40  # the column's size
    again, error = rule_table.parse(text)
    assert error is None and again == thresholds


@pytest.mark.parametrize(
    "kept", ["5/5/100", "20/5/100", "5/5/100/5000", "5/5/100/off", " 7 / 10 / 50 "]
)
def test_every_text_kept_by_earlier_versions_reads_back_the_same(kept: str):
    assert rule_table.parse(kept) == rules.parse_thresholds(kept)
    thresholds, _ = rule_table.parse(kept)
    assert thresholds is not None and rule_table.text_of(thresholds) == thresholds.text


def test_the_longest_text_fits_the_column_and_reads_back():
    form = {f.key: str(f.high) for r in rule_table.RULES for f in r.fields} | {
        f.key: str(f.high) for f in rule_table.SHARED
    }
    form |= {"on_router": "on", "on_rate_5xx": "on", "on_slow": "on"}
    thresholds, errors = rule_table.from_form(form)
    assert errors == {} and thresholds is not None
    text = rule_table.text_of(thresholds)
    assert text == "10000/100/1000000/30000/off/off" and len(text) <= 40
    assert rule_table.parse(text) == (thresholds, None)


@pytest.mark.parametrize("given", ["off/5/100/off/on", "5/5/100/3000/maybe/on", "a/b/c/d/e/f"])
def test_an_odd_text_is_one_clear_sentence(given: str):
    thresholds, error = rule_table.parse(given)
    assert thresholds is None and error is not None and error.endswith(".")


def test_each_wrong_field_gets_its_own_sentence():
    form = {**all_on(), "code_lines": "0", "slow_ms": "99"}
    thresholds, errors = rule_table.from_form(form)
    assert thresholds is None and set(errors) == {"code_lines", "slow_ms"}
    assert errors["slow_ms"] == (
        "p95 response time at least is a whole number from 100 to 30,000 ms, like 3,000."
    )
