"""Delivering the outbox: one channel's trouble never holds up another's, Slack's
Retry-After is kept to the second, and nothing waits forever."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from heroku_monitor.core.outbound import Receipt
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.slack.notifier import UNKNOWN_ERROR_PATIENCE, DeliveryError
from heroku_monitor.store.outbox import FAILED, PENDING
from tests.support.builders import CRASHED, T0, snap
from tests.support.storage import Storage
from tests.support.world import APP, World, first_monitor


class Slack:
    """A stand-in for Slack: each channel answers with its scripted error, or takes the post."""

    def __init__(self, **errors: DeliveryError) -> None:
        self.errors = errors
        self.posted: list[tuple[str, str]] = []
        self.tries = 0

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
    ) -> Receipt:
        self.tries += 1
        error = self.errors.get(channel.lstrip("#"))
        if error is not None:
            raise error
        self.posted.append((channel, text))
        return Receipt(f"1.{len(self.posted)}", "C0" + channel.lstrip("#").upper())

    def update(self, channel_id: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> Receipt:
        raise AssertionError("no edits here")


def crash_in(storage: Storage, channel: str, app: str) -> None:
    """A monitor of `app` alerting to `channel`, with a crash waiting in the outbox."""
    mid = storage.monitors.add(app, channel, 5, T0)
    storage.success(mid, snap(app=app), T0)
    storage.success(mid, snap(app=app, dynos=CRASHED.dynos, minutes=5), T0)


def test_a_retry_for_one_channel_never_holds_up_another_channels_alerts(sqlite_url: str):
    storage = Storage(sqlite_url)
    crash_in(storage, "#busy", "app-one")
    crash_in(storage, "#quiet", "app-two")
    slack = Slack(busy=DeliveryError("ratelimited", permanent=False, retry_after=30))
    woken: list = []
    delivery = Delivery(storage.outbox, storage.monitors, slack, lambda: T0)
    delivery.wake_at = woken.append
    assert delivery.run() == 1
    assert [channel for channel, _ in slack.posted] == ["#quiet"]
    assert woken == [T0 + timedelta(seconds=30)]  # the retry is woken when it is due
    (waiting,) = storage.outbox.recent(status=PENDING)
    assert waiting.channel == "#busy" and waiting.next_attempt_at == T0 + timedelta(seconds=30)


def test_an_error_slack_does_not_document_is_retried_for_an_hour_then_failed_and_shown(
    sqlite_url: str,
):
    storage = Storage(sqlite_url)
    crash_in(storage, "#alerts", "my-app")
    slack = Slack(alerts=DeliveryError("brand_new_error", permanent=False, known=False))
    start = T0 + timedelta(hours=2)  # the alert waited on other trouble before: no matter
    now = [start]
    delivery = Delivery(storage.outbox, storage.monitors, slack, lambda: now[0])
    tries = 0
    while storage.outbox.count(PENDING) and tries < 100:
        (item,) = storage.outbox.recent(status=PENDING)
        now[0] = max(now[0], item.next_attempt_at)  # wait for each retry as it falls due
        delivery.run()
        tries += 1
    assert 1 < tries < 20  # backed off, not hammered
    (failed,) = storage.outbox.recent(status=FAILED)
    assert (now[0] - start).total_seconds() >= UNKNOWN_ERROR_PATIENCE
    assert (now[0] - start).total_seconds() < UNKNOWN_ERROR_PATIENCE + 900
    assert failed.last_error == "brand_new_error"
    view = storage.monitors.get(failed.monitor_id or 0)
    assert view is not None and view.delivery_error == "#alerts: brand_new_error"


def test_a_documented_passing_error_is_retried_for_as_long_as_it_lasts(sqlite_url: str):
    storage = Storage(sqlite_url)
    crash_in(storage, "#alerts", "my-app")
    slack = Slack(alerts=DeliveryError("internal_error", permanent=False))
    delivery = Delivery(storage.outbox, storage.monitors, slack, lambda: T0 + timedelta(days=2))
    delivery.run()
    assert storage.outbox.count(PENDING) == 1 and storage.outbox.count(FAILED) == 0


def test_an_alert_goes_again_when_slacks_retry_after_expires(world: World):
    service = world.service()
    mid = first_monitor(service)
    service.checker.check(mid)
    service.scheduler.start()
    try:
        world.slack.fail_next(2, status=429, retry_after=1)
        world.sim.crash_dyno(APP, "web.1")
        started = time.monotonic()
        service.checker.check(mid)
        (message,) = world.slack.wait_for_messages(1, timeout=10)
        delay = time.monotonic() - started
    finally:
        service.stop()
    assert "Dyno Crash Detected" in message["text"]
    assert 2.0 <= delay < 4.0, f"{delay:.1f} s after two 429s with Retry-After: 1"


def test_a_claim_whose_sender_died_is_taken_again_when_its_lease_ends(sqlite_url: str):
    storage = Storage(sqlite_url)
    crash_in(storage, "#alerts", "my-app")
    died = storage.outbox.claim_next(T0, lease=20)  # killed before it could settle
    assert died is not None
    slack = Slack()
    restarted = Delivery(storage.outbox, storage.monitors, slack, lambda: T0, lease=20)
    woken: list = []
    restarted.wake_at = woken.append
    assert restarted.run() == 0 and woken == [T0 + timedelta(seconds=20)]
    restarted.clock = lambda: T0 + timedelta(seconds=20, microseconds=1)
    assert restarted.run() == 1


def test_a_channels_alerts_wait_behind_its_retry_and_go_out_in_order(sqlite_url: str):
    storage = Storage(sqlite_url)
    crash_in(storage, "#alerts", "app-one")
    crash_in(storage, "#alerts", "app-two")  # a second alert behind it, to the same channel
    slack = Slack(alerts=DeliveryError("ratelimited", permanent=False, retry_after=30))
    now = [T0]
    delivery = Delivery(storage.outbox, storage.monitors, slack, lambda: now[0])
    woken: list = []
    delivery.wake_at = woken.append
    assert delivery.run() == 0
    now[0] = T0 + timedelta(seconds=1)  # another run inside the Retry-After: nothing is tried
    assert delivery.run() == 0 and slack.tries == 1
    assert woken[-1] == T0 + timedelta(seconds=30)
    del slack.errors["alerts"]
    now[0] = T0 + timedelta(seconds=30)
    assert delivery.run() == 2
    assert ["app-one" in text for _, text in slack.posted] == [True, False]


def test_an_alert_queued_while_a_run_is_finishing_goes_out_before_that_run_returns(
    sqlite_url: str,
):
    storage = Storage(sqlite_url)
    crash_in(storage, "#alerts", "app-one")
    slack = Slack()
    delivery = Delivery(storage.outbox, storage.monitors, slack, lambda: T0)
    finishing, go_on = threading.Event(), threading.Event()
    next_due = storage.outbox.next_due

    def slow_next_due(now: Any) -> Any:  # the run has sent what it found, still holds the lock
        finishing.set()
        go_on.wait(10)
        return next_due(now)

    storage.outbox.next_due = slow_next_due  # type: ignore[method-assign]
    first = threading.Thread(target=delivery.run)
    first.start()
    assert finishing.wait(10)
    crash_in(storage, "#other", "app-two")  # a check queues an alert meanwhile...
    assert delivery.run() == 0  # ... and its run leaves it to the one going
    go_on.set()
    first.join(10)
    assert [channel for channel, _ in slack.posted] == ["#alerts", "#other"]
