"""Certificates (SPEC section 15): when an app's domains and SNI endpoints are read, and what
a read says. Pure: no I/O, no clock (`now` is passed in).

Heroku reads cost rate-limit tokens, and a certificate changes over weeks, not minutes: an
app is read at most every `READ_EVERY` (6 hours: `GET /apps/{app}/domains` and
`GET /apps/{app}/sni-endpoints`, 2 requests, about 0.33 an app an hour), the apps due read
oldest first, a few each run of the leader's job (`reads_per_run`), so a big account's first
reads spread over a few hours instead of one burst.

What a read says, as events for the incident machine (`core/incidents`):
- a certificate that expires within `EXPIRES_WITHIN` days: `cert_expiring`, keyed by the
  certificate, its expiry and the reminder mark reached (14, then 7, 3 and 1 days left), so
  the first opens the app's certificate incident and each later mark is one reply in its
  thread;
- none of the app's certificates expiring within the window any more, where the last read
  had one (a renewal: a later `expires_at`, or the endpoint replaced): `cert_renewed`, which
  resolves that incident;
- a domain whose `acm_status` is `failed`: `acm_failed`, keyed by the hostname and when the
  failure was first seen, opening the app's ACM incident; no domain failing any more where
  the last read had one: `acm_recovered`, which resolves it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from heroku_monitor.core.detect import Event

CERT_EXPIRING = "cert_expiring"
CERT_RENEWED = "cert_renewed"
ACM_FAILED = "acm_failed"
ACM_RECOVERED = "acm_recovered"
KINDS = (CERT_EXPIRING, ACM_FAILED, CERT_RENEWED, ACM_RECOVERED)
# The incident families they open (one incident per app and family, SPEC section 11).
CERTIFICATE = "certificate"
ACM = "acm"
OPENS = {CERT_EXPIRING: CERTIFICATE, ACM_FAILED: ACM}
CLOSES = {CERT_RENEWED: CERTIFICATE, ACM_RECOVERED: ACM}
FAMILIES = (CERTIFICATE, ACM)

READ_EVERY = timedelta(hours=6)  # SPEC §15: at most every 6 hours per app
JOB_EVERY = timedelta(minutes=10)  # how often the leader's job looks for apps due
EXPIRES_WITHIN = 14  # days
REMINDERS = (14, 7, 3, 1)  # days left: the opening, then a reply at each
FAILED = "failed"  # the `acm_status` that opens an incident


@dataclass(frozen=True)
class Certificate:
    """One SNI endpoint's certificate: `hostnames` are the domains it names
    (`ssl_cert.cert_domains`)."""

    id: str
    name: str
    hostnames: tuple[str, ...]
    expires_at: datetime | None


@dataclass(frozen=True)
class Domain:
    """One of the app's domains; `sni_endpoint` the id of the endpoint serving it."""

    hostname: str
    kind: str = "custom"
    acm_status: str | None = None
    acm_status_reason: str | None = None
    sni_endpoint: str | None = None


@dataclass(frozen=True)
class CertificateRead:
    """What one read of an app's domains and SNI endpoints found."""

    app: str
    certificates: tuple[Certificate, ...] = ()
    domains: tuple[Domain, ...] = ()


@dataclass(frozen=True)
class CertificateState:
    """What is kept of an app's last read: when it was, the certificates that were within
    the window then (id -> expiry), the hostnames whose ACM had failed (hostname -> since),
    and for people, each certificate's hostnames and expiry (the app's page)."""

    read_at: datetime | None = None
    expiring: tuple[tuple[str, datetime], ...] = ()
    failed: tuple[tuple[str, datetime], ...] = ()
    certificates: tuple[tuple[str, datetime | None], ...] = ()  # (hostnames joined, expiry)


@dataclass(frozen=True)
class CertificateDecision:
    events: tuple[Event, ...]
    state: CertificateState


def certs_due(last_read_at: datetime | None, now: datetime, every: timedelta = READ_EVERY) -> bool:
    """Whether an app last read at `last_read_at` (None: never) may be read again at `now`."""
    return last_read_at is None or now - last_read_at >= every


def reads_per_run(apps: int) -> int:
    """How many apps one run of the job may read: twice the steady rate (every app once per
    `READ_EVERY`), so the first reads of a big account end within half of it."""
    if apps <= 0:
        return 0
    return max(1, math.ceil(2 * apps * (JOB_EVERY / READ_EVERY)))


def due_apps(last_reads: Mapping[str, datetime | None], now: datetime, *, limit: int) -> list[str]:
    """The apps due at `now`, never-read first, then the longest unread; at most `limit`."""
    due = [app for app, at in last_reads.items() if certs_due(at, now)]
    due.sort(key=lambda app: (last_reads[app] is not None, last_reads[app] or now, app))
    return due[: max(0, limit)]


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until `expires_at`, rounded up (an hour left is 1; expired: 0 or less)."""
    return math.ceil((expires_at - now) / timedelta(days=1))


def reminder(days: int) -> int | None:
    """The reminder mark `days` left has reached (14, 7, 3 or 1), or None (more than 14)."""
    marks = [m for m in REMINDERS if days <= m]
    return min(marks) if marks else None


def hostnames_of(cert: Certificate, domains: tuple[Domain, ...]) -> tuple[str, ...]:
    """The app's domains the endpoint serves, else the names in its certificate."""
    served = tuple(sorted(d.hostname for d in domains if d.sni_endpoint == cert.id))
    return served or tuple(sorted(cert.hostnames))


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]


def decide(
    previous: CertificateState | None, read: CertificateRead, now: datetime
) -> CertificateDecision:
    """The events of a read of `read.app` made at `now`, and the state to keep."""
    app = read.app
    before = previous or CertificateState()
    events: list[Event] = []
    expiring: list[tuple[str, datetime]] = []
    for cert in sorted(read.certificates, key=lambda c: c.id):
        if cert.expires_at is None:
            continue
        days = days_left(cert.expires_at, now)
        mark = reminder(days)
        if mark is None:
            continue
        expiring.append((cert.id, cert.expires_at))
        key = f"{app}:{CERT_EXPIRING}:{cert.id}:{cert.expires_at.isoformat()}:{mark}"
        events.append(
            Event(
                CERT_EXPIRING,
                app,
                key,
                hostnames=hostnames_of(cert, read.domains),
                expires_at=cert.expires_at,
                days_left=days,
            )
        )
    if before.expiring and not expiring:
        events.append(_renewed(app, before, read, now))
    failed_before = dict(before.failed)
    failed: list[tuple[str, datetime]] = []
    for domain in sorted(read.domains, key=lambda d: d.hostname):
        if domain.acm_status != FAILED:
            continue
        since = failed_before.get(domain.hostname, now)
        failed.append((domain.hostname, since))
        events.append(
            Event(
                ACM_FAILED,
                app,
                f"{app}:{ACM_FAILED}:{domain.hostname}:{since.isoformat()}",
                hostnames=(domain.hostname,),
                reason=domain.acm_status_reason or "",
            )
        )
    if failed_before and not failed:
        statuses = {d.hostname: d.acm_status or "" for d in read.domains}
        names = tuple(sorted(failed_before))
        episode = _digest([f"{h}@{t.isoformat()}" for h, t in before.failed])
        events.append(
            Event(
                ACM_RECOVERED,
                app,
                f"{app}:{ACM_RECOVERED}:{episode}",
                hostnames=names,
                reason=", ".join(f"{h}: {statuses.get(h) or 'removed'}" for h in names),
            )
        )
    shown = tuple(
        sorted((", ".join(hostnames_of(c, read.domains)), c.expires_at) for c in read.certificates)
    )
    state = CertificateState(now, tuple(expiring), tuple(failed), shown)
    return CertificateDecision(tuple(events), state)


def _renewed(app: str, before: CertificateState, read: CertificateRead, now: datetime) -> Event:
    """The renewal of what `before` had expiring: the certificate now serving (the same
    endpoint, or one naming the same hosts) and its new expiry."""
    ids = {cert_id for cert_id, _ in before.expiring}
    current = [c for c in read.certificates if c.id in ids] or list(read.certificates)
    latest = max(
        (c for c in current if c.expires_at is not None),
        key=lambda c: c.expires_at or now,
        default=None,
    )
    episode = _digest([f"{i}@{t.isoformat()}" for i, t in before.expiring])
    hostnames = hostnames_of(latest, read.domains) if latest is not None else ()
    return Event(
        CERT_RENEWED,
        app,
        f"{app}:{CERT_RENEWED}:{episode}",
        hostnames=hostnames,
        expires_at=latest.expires_at if latest is not None else None,
        days_left=days_left(latest.expires_at, now) if latest and latest.expires_at else 0,
    )


def days_text(days: int) -> str:
    """`in 12 days`, `in 1 day`, `today`, `3 days ago`."""
    if days > 1:
        return f"in {days} days"
    if days == 1:
        return "in 1 day"
    if days == 0:
        return "today"
    return f"{-days} day{'s' if days != -1 else ''} ago"
