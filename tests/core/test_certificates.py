"""Every certificate rule of SPEC section 15 as a test of the pure core: when an app is read,
what a read says, and how the incident machine and the messages take it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from heroku_monitor.core import certificates, incidents
from heroku_monitor.core.certificates import (
    Certificate,
    CertificateRead,
    CertificateState,
    Domain,
    certs_due,
    days_left,
    decide,
    due_apps,
    reads_per_run,
    reminder,
)
from heroku_monitor.core.detect import Event
from heroku_monitor.core.incidents import Incident
from heroku_monitor.render import messages, threads
from heroku_monitor.store.certificates import state_from_json, state_to_json
from heroku_monitor.store.incidents import incident_from_json, incident_to_json
from tests.support.builders import T0

APP = "my-app"
WWW = "www.example.com"


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def cert(expires_in: float | None, cert_id: str = "sni-1") -> Certificate:
    expires = days(expires_in) if expires_in is not None else None
    return Certificate(cert_id, "tokyo-1234", (WWW, "example.com"), expires)


def read(*certs: Certificate, acm: str | None = "cert issued", reason: str | None = None):
    domains = (
        Domain("my-app.herokuapp.com", "heroku"),
        Domain(WWW, "custom", acm, reason, "sni-1"),
    )
    return CertificateRead(APP, certs, domains)


def kinds(events: tuple[Event, ...]) -> list[str]:
    return [e.kind for e in events]


# -- when an app is read ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "due"),
    [(None, True), (T0 - timedelta(hours=6), True), (T0 - timedelta(hours=5, minutes=59), False)],
)
def test_an_app_is_read_at_most_every_six_hours(last: datetime | None, due: bool):
    assert certs_due(last, T0) is due


@pytest.mark.parametrize(("apps", "per_run"), [(0, 0), (1, 1), (36, 2), (500, 28)])
def test_a_run_reads_twice_the_steady_rate_of_apps(apps: int, per_run: int):
    # 36 runs of 10 minutes in 6 hours: each app once in that time, twice as fast at first.
    assert reads_per_run(apps) == per_run


def test_the_apps_due_are_read_never_read_first_then_the_longest_unread():
    last = {
        "a": T0 - timedelta(hours=7),
        "b": None,
        "c": T0 - timedelta(hours=9),
        "d": T0 - timedelta(hours=1),
    }
    assert due_apps(last, T0, limit=10) == ["b", "c", "a"]
    assert due_apps(last, T0, limit=2) == ["b", "c"]


def test_steady_reads_cost_at_most_half_a_request_per_app_per_hour():
    requests_per_read = 2  # domains and SNI endpoints
    assert requests_per_read / (certificates.READ_EVERY / timedelta(hours=1)) <= 0.5


# -- what a read says ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in", "n", "mark"),
    [
        (30, 30, None),
        (14.5, 15, None),
        (14, 14, 14),
        (13.2, 14, 14),
        (8, 8, 14),
        (7, 7, 7),
        (4, 4, 7),
        (3, 3, 3),
        (1.5, 2, 3),
        (1, 1, 1),
        (0.01, 1, 1),
        (-2, -2, 1),
    ],
)
def test_days_left_and_the_reminder_mark_reached(expires_in: float, n: int, mark: int | None):
    assert days_left(days(expires_in), T0) == n
    assert reminder(n) == mark


@pytest.mark.parametrize("expires_in", [14, 10, 3, 0.5])
def test_a_certificate_expiring_within_14_days_is_an_event(expires_in: float):
    decision = decide(None, read(cert(expires_in)), T0)
    assert kinds(decision.events) == [certificates.CERT_EXPIRING]
    (event,) = decision.events
    assert event.hostnames == (WWW,)  # the app's domains it serves, not every name in it
    assert event.expires_at == days(expires_in)


@pytest.mark.parametrize("expires_in", [15, 90, None])
def test_a_certificate_expiring_later_or_never_says_nothing(expires_in: float | None):
    assert decide(None, read(cert(expires_in)), T0).events == ()


def test_the_same_mark_read_again_is_the_same_event_and_a_new_mark_a_new_one():
    first = decide(None, read(cert(13)), T0)
    again = decide(first.state, read(cert(13)), T0 + timedelta(hours=6))
    assert [e.key for e in again.events] == [e.key for e in first.events]
    at_seven = decide(again.state, read(cert(13)), days(6))  # 7 days left now
    assert at_seven.events[0].key != first.events[0].key
    assert at_seven.events[0].days_left == 7


def test_a_later_expiry_is_a_renewal_once():
    expiring = decide(None, read(cert(5)), T0)
    renewed = decide(expiring.state, read(cert(90)), T0 + timedelta(hours=6))
    assert kinds(renewed.events) == [certificates.CERT_RENEWED]
    assert renewed.events[0].expires_at == days(90)
    quiet = decide(renewed.state, read(cert(90)), T0 + timedelta(hours=12))
    assert quiet.events == ()


def test_no_renewal_without_a_certificate_that_was_expiring():
    assert decide(CertificateState(T0), read(cert(90)), T0).events == ()


@pytest.mark.parametrize("reason", ["Failing CCA check", None])
def test_a_domain_whose_acm_failed_is_an_event(reason: str | None):
    decision = decide(None, read(acm="failed", reason=reason), T0)
    assert kinds(decision.events) == [certificates.ACM_FAILED]
    assert decision.events[0].hostnames == (WWW,)
    assert decision.events[0].reason == (reason or "")


@pytest.mark.parametrize("status", ["pending", "cert issued", None])
def test_a_domain_whose_acm_did_not_fail_says_nothing(status: str | None):
    assert decide(None, read(acm=status), T0).events == ()


def test_an_acm_failure_keeps_its_key_while_it_lasts_and_its_end_is_an_event():
    failed = decide(None, read(acm="failed"), T0)
    still = decide(failed.state, read(acm="failed"), T0 + timedelta(hours=6))
    assert [e.key for e in still.events] == [e.key for e in failed.events]
    works = decide(still.state, read(acm="cert issued"), T0 + timedelta(hours=12))
    assert kinds(works.events) == [certificates.ACM_RECOVERED]
    again = decide(works.state, read(acm="failed"), T0 + timedelta(hours=18))
    assert again.events[0].key != failed.events[0].key  # a new failure, a new incident


def test_the_kept_state_reads_back_the_same():
    decision = decide(None, read(cert(5), acm="failed"), T0)
    assert state_from_json(state_to_json(decision.state)) == decision.state


# -- the incidents and messages -----------------------------------------------------------


def apply(known: list[Incident], events: tuple[Event, ...], now: datetime):
    return incidents.apply(known, list(events), now)


def test_the_expiry_incident_opens_with_spec_text_replies_at_7_3_1_and_ends_on_renewal():
    state: CertificateState | None = None
    known: list[Incident] = []
    texts: list[str] = []
    replies = []
    for day in (0, 0.25, 6, 10, 12, 12.5):  # 13 days left at first
        decision = decide(state, read(cert(13)), days(day))
        state = decision.state
        fresh = [e for e in decision.events if e.key not in {k for k in texts}]
        texts += [e.key for e in fresh]
        outcome = apply(known, tuple(fresh), days(day))
        known = [i for i in outcome.incidents if i.is_open]
        replies += [a for a in outcome.actions if a.what == incidents.FOLLOW_UP]
        if day == 0:
            (opened,) = [a for a in outcome.actions if a.what == incidents.OPENED]
            (message,) = threads.outbox_messages([opened], days(day))
            assert message.text.startswith(
                f"🔒 *Certificate Expires Soon* 🔒\nApp: {APP}\nDomains: {WWW}\n"
                f"Expires: {days(13):%Y-%m-%d %H:%M} UTC (in 13 days)"
            )
    # Days left at 6, 10 and 12: 7, 3 and 1 (the 0.25 and 12.5 reads reached no new mark).
    assert [a.events[0].days_left for a in replies] == [7, 3, 1]
    renewal = decide(state, read(cert(90)), days(13))
    outcome = apply(known, renewal.events, days(13))
    (resolved,) = [a for a in outcome.actions if a.what == incidents.RESOLVED]
    assert resolved.broadcast
    (reply,) = threads.outbox_messages([resolved], days(13))
    assert reply.text.startswith("🔒 *Certificate Renewed* 🔒")
    assert "✅ Resolved after" in reply.text
    assert not any(i.is_open for i in outcome.incidents)


def test_the_acm_incident_opens_with_spec_text_and_ends_when_acm_works():
    failed = decide(None, read(acm="failed", reason="Failing CCA check"), T0)
    outcome = apply([], failed.events, T0)
    (opened,) = [a for a in outcome.actions if a.what == incidents.OPENED]
    (message,) = threads.outbox_messages([opened], T0)
    assert message.text.startswith(
        f"🔒 *Automated Certificate Management Failed* 🔒\nApp: {APP}\nDomain: {WWW}\n"
        "Reason: Failing CCA check"
    )
    works = decide(failed.state, read(acm="cert issued"), T0 + timedelta(hours=6))
    after = apply(list(outcome.incidents), works.events, T0 + timedelta(hours=6))
    assert [a.what for a in after.actions if a.kind == incidents.REPLY] == [incidents.RESOLVED]


@pytest.mark.parametrize("kind", [certificates.CERT_RENEWED, certificates.ACM_RECOVERED])
def test_an_end_with_no_incident_open_posts_nothing(kind: str):
    event = Event(kind, APP, f"{APP}:{kind}:x", hostnames=(WWW,))
    assert apply([], (event,), T0).actions == ()


def test_certificate_incidents_never_close_when_quiet():
    failed = decide(None, read(acm="failed"), T0).events
    opened = apply([], failed, T0).incidents
    later = incidents.tick(opened, T0 + timedelta(days=20))
    assert all(i.is_open for i in later.incidents)


def test_a_certificate_incident_reads_back_from_the_database():
    outcome = apply([], decide(None, read(cert(5)), T0).events, T0)
    (incident,) = outcome.incidents
    assert incident_from_json(incident_to_json(incident)) == incident


@pytest.mark.parametrize("n", [13, 1, 0, -3])
def test_the_expiry_line_says_how_long_is_left(n: int):
    (event,) = decide(None, read(cert(n)), T0).events
    (message,) = messages.build([event], T0)
    said = {13: "(in 13 days)", 1: "(in 1 day)", 0: "(today)", -3: "(3 days ago)"}[n]
    assert said in message.text
