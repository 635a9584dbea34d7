"""Certificates (SPEC §15), end to end: the simulator's domains and SNI endpoints read by the
certificate check, its incidents in the fake Slack, and what the reads cost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from heroku_monitor import service as service_module
from heroku_monitor.runtime.certificates import SOURCE, CertificateChecks
from heroku_monitor.service import Service
from heroku_monitor.store.certificates import CertificateReads
from tests.support.simulator import FakeClock
from tests.support.world import APP, QUICK, World, clocked_world, first_monitor

WWW = f"www.{APP}.example.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def moved(sqlite_url: str, clock: FakeClock) -> Iterator[World]:
    with clocked_world(sqlite_url, clock) as world:
        yield world


def build(world: World, clock: FakeClock) -> tuple[Service, CertificateChecks]:
    service = service_module.build(world.settings(), clock=clock, patience=QUICK)
    checks = CertificateChecks(
        service.monitors,
        service.outbox,
        service.checker.incident_store,
        service.heroku,
        CertificateReads(service.db),
        clock,
        deliver=service.delivery.run,
    )
    return service, checks


def paths(world: World) -> dict[str, int]:
    return {path: n["requests"] for path, n in world.sim.stats()["by_path"].items()}


def test_a_certificate_expiring_soon_is_one_thread_with_replies_at_7_3_1_ended_by_renewal(
    moved: World, clock: FakeClock
):
    service, checks = build(moved, clock)
    moved.sim.certs.expire_soon(APP, days=13)
    assert checks.run() == 1
    (opening,) = moved.slack.wait_for_messages(1)
    expires = clock.now + timedelta(days=13)
    assert opening["text"].startswith(
        f"🔒 *Certificate Expires Soon* 🔒\nApp: {APP}\nDomains: {WWW}\n"
        f"Expires: {expires:%Y-%m-%d %H:%M} UTC (in 13 days)"
    )
    for advance, left in ((6, 7), (4, 3), (2, 1)):
        clock.advance(days=advance)
        checks.run()
        reply = moved.slack.messages[-1]
        assert reply["thread_ts"] == opening["ts"] and not reply["reply_broadcast"]
        assert f"({'in 1 day' if left == 1 else f'in {left} days'})" in reply["text"]
    assert len(moved.slack.messages) == 4  # the opening and three reminders, nothing else
    clock.advance(hours=6)
    moved.sim.certs.renew(APP)
    checks.run()
    ended = moved.slack.messages[-1]
    assert ended["thread_ts"] == opening["ts"] and ended["reply_broadcast"]
    assert ended["text"].startswith(f"🔒 *Certificate Renewed* 🔒\nApp: {APP}\nDomains: {WWW}")
    assert "✅ Resolved after" in moved.slack.updates[-1]["text"]
    clock.advance(hours=6)
    checks.run()
    assert len(moved.slack.messages) == 5
    service.stop()


def test_acm_failed_opens_an_incident_naming_the_domain_and_the_reason(
    moved: World, clock: FakeClock
):
    service, checks = build(moved, clock)
    moved.sim.certs.fail_acm(APP, "CAA record blocks Let's Encrypt")
    checks.run()
    (opening,) = moved.slack.wait_for_messages(1)
    assert opening["text"].startswith(
        f"🔒 *Automated Certificate Management Failed* 🔒\nApp: {APP}\nDomain: {WWW}\n"
        "Reason: CAA record blocks Let's Encrypt"
    )
    clock.advance(hours=6)
    checks.run()  # still failed: the same incident, nothing new
    assert len(moved.slack.messages) == 1
    moved.sim.certs.fix_acm(APP)
    clock.advance(hours=6)
    checks.run()
    ended = moved.slack.messages[-1]
    assert ended["thread_ts"] == opening["ts"] and ended["reply_broadcast"]
    service.stop()


def test_an_app_is_read_at_most_every_six_hours_and_the_reads_count_in_the_budget(
    moved: World, clock: FakeClock
):
    service, checks = build(moved, clock)
    before = paths(moved)
    assert checks.run() == 1
    clock.advance(hours=5, minutes=59)
    assert checks.run() == 0
    clock.advance(minutes=1)
    assert checks.run() == 1
    after = paths(moved)
    for path in (f"/apps/{APP}/domains", f"/apps/{APP}/sni-endpoints"):
        assert after.get(path, 0) - before.get(path, 0) == 2
    service.checker.flush_spend()
    assert service.checker.spend.since(clock.now - timedelta(hours=1)).get(SOURCE) == 4
    assert moved.slack.messages == []  # a certificate far from expiry says nothing
    service.stop()


def test_a_failed_read_posts_nothing_says_so_once_and_waits_its_six_hours(
    moved: World, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    service, checks = build(moved, clock)
    moved.sim.certs.fail_acm(APP)
    moved.sim.inject_fault(APP, status=503, count=100)
    checks.run()
    clock.advance(hours=6)
    checks.run()
    assert moved.slack.messages == []
    said = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(said) == 1
    clock.advance(hours=1)
    assert checks.run() == 0  # its time was kept: no retry every ten minutes
    moved.sim.clear_faults()
    clock.advance(hours=5)
    checks.run()
    assert moved.slack.wait_for_messages(1)[0]["text"].startswith("🔒 *Automated Certificate")
    service.stop()


def test_two_monitors_of_one_app_share_one_read(moved: World, clock: FakeClock):
    service, checks = build(moved, clock)
    moved.slack.add_channel("ops")
    service.monitors.add(APP, "#ops", 5, clock.now)
    before = paths(moved).get(f"/apps/{APP}/domains", 0)
    moved.sim.certs.expire_soon(APP, days=2)
    checks.run()
    assert paths(moved)[f"/apps/{APP}/domains"] - before == 1
    channels = sorted(m["channel_name"] for m in moved.slack.wait_for_messages(2))
    assert channels == ["alerts", "ops"]
    assert first_monitor(service)
    service.stop()
