"""What the simulator knows of SPEC §15: each app's domains and SNI endpoints, and Heroku's
status API.

Domains and SNI endpoints follow the Platform API's schema (heroku/platform-api,
schema.json, `domain` and `sni-endpoint`): a domain has `acm_status` ("cert issued",
"pending", "failed", …; null for the app's herokuapp.com domain), `acm_status_reason`,
`hostname`, `kind` ("heroku" or "custom"), `cname`, `status` and `sni_endpoint` ({id, name}
or null); an endpoint has `certificate_chain`, `domains` (domain ids), `ssl_cert`
{`cert_domains`, `expires_at`, `starts_at`, `issuer`, `subject`, …}. An app gets them the
first time they are asked for: its herokuapp.com domain, and `www.{app}.example.com` served
by an endpoint whose ACM certificate expires in 60 days.

The status API is `GET /api/v4/current-status` as status.heroku.com answers it (the shape
`heroku status` reads: heroku/cli, packages/cli/src/commands/status.ts): `status` [{system,
status}] for Apps, Data and Tools, `incidents` (the unresolved ones) [{id, title,
created_at, updated_at, full_url, resolved, updates [{id, incident_id, update_type,
contents, created_at, updated_at}]}], `scheduled` [].
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]
STATUS_PATH = "/api/v4/current-status"
SYSTEMS = ("Apps", "Data", "Tools")
STATUS_COLOURS = ("green", "yellow", "red")
FIRST_EXPIRY = timedelta(days=60)
ACM_REASON = "Failing CCA check"  # the schema's example of `acm_status_reason`
ISSUER = "/C=US/O=Let's Encrypt/CN=R3"
CHAIN = "-----BEGIN CERTIFICATE-----\n(simulated)\n-----END CERTIFICATE-----\n"
# How long a resolved incident stays in the current status, with its `resolved` update.
# Not documented by Heroku: the monitor also ends an incident that is simply gone.
RESOLVED_SHOWN = timedelta(minutes=15)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Domain:
    id: str
    hostname: str
    kind: str
    created_at: str
    updated_at: str
    acm_status: str | None = None
    acm_status_reason: str | None = None
    sni_endpoint_id: str | None = None


@dataclass
class _Endpoint:
    id: str
    name: str
    created_at: str
    updated_at: str
    starts_at: datetime
    expires_at: datetime
    hostnames: list[str] = field(default_factory=list)


@dataclass
class _AppCerts:
    domains: list[_Domain] = field(default_factory=list)
    endpoints: list[_Endpoint] = field(default_factory=list)


class Certificates:
    """Each simulated app's domains and SNI endpoints. `app_ref(name)` is the app's
    {id, name} (raising the simulator's UnknownAppError), `now` the simulator's clock,
    `new_id` a fresh UUID; `lock` the simulator's."""

    def __init__(
        self,
        *,
        app_ref: Callable[[str], Json],
        now: Callable[[], datetime],
        new_id: Callable[[], str],
        lock: threading.RLock,
    ) -> None:
        self._app_ref = app_ref
        self._now = now
        self._new_id = new_id
        self._lock = lock
        self._apps: dict[str, _AppCerts] = {}

    def _of(self, app: str) -> tuple[Json, _AppCerts]:
        ref = self._app_ref(app)
        name = str(ref["name"])
        if name not in self._apps:
            self._apps[name] = self._seed(name)
        return ref, self._apps[name]

    def _seed(self, app: str) -> _AppCerts:
        now = self._now()
        stamp = _ts(now - timedelta(days=30))
        endpoint = _Endpoint(
            self._new_id(),
            f"{app[:20]}-sni",
            stamp,
            stamp,
            now - timedelta(days=30),
            now + FIRST_EXPIRY,
            [f"www.{app}.example.com"],
        )
        domains = [
            _Domain(self._new_id(), f"{app}.herokuapp.com", "heroku", stamp, stamp),
            _Domain(
                self._new_id(),
                f"www.{app}.example.com",
                "custom",
                stamp,
                stamp,
                "cert issued",
                None,
                endpoint.id,
            ),
        ]
        return _AppCerts(domains, [endpoint])

    def forget(self, app: str) -> None:
        with self._lock:
            self._apps.pop(app, None)

    # -- the Platform API's answers ------------------------------------------------------

    def domains_json(self, app: str) -> list[Json]:
        with self._lock:
            ref, certs = self._of(app)
            names = {e.id: e.name for e in certs.endpoints}
            return [self._domain_json(ref, d, names) for d in certs.domains]

    @staticmethod
    def _domain_json(ref: Json, d: _Domain, endpoints: Mapping[str, str]) -> Json:
        custom = d.kind == "custom"
        endpoint = (
            {"id": d.sni_endpoint_id, "name": endpoints.get(d.sni_endpoint_id, "")}
            if d.sni_endpoint_id
            else None
        )
        return {
            "acm_status": d.acm_status,
            "acm_status_reason": d.acm_status_reason,
            "app": dict(ref),
            "cname": f"{d.hostname}.herokudns.com" if custom else None,
            "created_at": d.created_at,
            "hostname": d.hostname,
            "id": d.id,
            "kind": d.kind,
            "updated_at": d.updated_at,
            "status": "succeeded",
            "sni_endpoint": endpoint,
        }

    def sni_endpoints_json(self, app: str) -> list[Json]:
        with self._lock:
            ref, certs = self._of(app)
            return [self._endpoint_json(ref, e, certs.domains) for e in certs.endpoints]

    @staticmethod
    def _endpoint_json(ref: Json, e: _Endpoint, domains: list[_Domain]) -> Json:
        return {
            "certificate_chain": CHAIN,
            "created_at": e.created_at,
            "id": e.id,
            "name": e.name,
            "updated_at": e.updated_at,
            "display_name": None,
            "domains": [d.id for d in domains if d.sni_endpoint_id == e.id],
            "app": dict(ref),
            "ssl_cert": {
                "ca_signed?": True,
                "cert_domains": list(e.hostnames),
                "expires_at": _ts(e.expires_at),
                "issuer": ISSUER,
                "self_signed?": False,
                "starts_at": _ts(e.starts_at),
                "subject": f"/CN={e.hostnames[0] if e.hostnames else ''}",
                "id": e.id,
            },
        }

    # -- what a person or a test makes happen ------------------------------------------

    def expire_soon(self, app: str, days: float = 10) -> str:
        """The app's first certificate now expires in `days`; returns its expiry (Heroku's
        time format)."""
        with self._lock:
            _, certs = self._of(app)
            endpoint = certs.endpoints[0]
            endpoint.expires_at = self._now() + timedelta(days=days)
            endpoint.updated_at = _ts(self._now())
            return _ts(endpoint.expires_at)

    def renew(self, app: str, days: float = 90) -> str:
        """The app's certificates renewed: each now expires in `days` (ACM's 90)."""
        with self._lock:
            _, certs = self._of(app)
            now = self._now()
            for endpoint in certs.endpoints:
                endpoint.starts_at, endpoint.expires_at = now, now + timedelta(days=days)
                endpoint.updated_at = _ts(now)
            return _ts(now + timedelta(days=days))

    def fail_acm(self, app: str, reason: str = ACM_REASON) -> str:
        """ACM fails for the app's custom domain; returns its hostname."""
        return self._set_acm(app, "failed", reason)

    def fix_acm(self, app: str) -> str:
        """ACM works again for the app's custom domain ("cert issued")."""
        return self._set_acm(app, "cert issued", None)

    def _set_acm(self, app: str, status: str, reason: str | None) -> str:
        with self._lock:
            _, certs = self._of(app)
            domain = next(d for d in certs.domains if d.kind == "custom")
            domain.acm_status, domain.acm_status_reason = status, reason
            domain.updated_at = _ts(self._now())
            return domain.hostname


@dataclass
class _Update:
    id: int
    update_type: str
    contents: str
    created_at: str


@dataclass
class _Incident:
    id: int
    title: str
    created_at: str
    updated_at: str
    systems: dict[str, str]
    updates: list[_Update] = field(default_factory=list)
    resolved_at: datetime | None = None

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None


class StatusPage:
    """Heroku's status API: its systems' colours and its incidents. Thread-safe."""

    URL = "https://status.heroku.com/incidents/"

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._incidents: list[_Incident] = []
        self._ids = 2000  # Heroku's incident and update ids are integers

    def _next(self) -> int:
        self._ids += 1
        return self._ids

    def start_incident(
        self,
        title: str,
        *,
        systems: Mapping[str, str] | None = None,
        contents: str = "We are investigating reports of errors.",
    ) -> int:
        """A new incident, its first update of type `issue`; `systems` the colours it gives
        (default: Apps red). Returns its id."""
        colours = dict(systems or {"Apps": "red"})
        for system, colour in colours.items():
            if system not in SYSTEMS or colour not in STATUS_COLOURS:
                raise ValueError(f"systems are {SYSTEMS} and colours {STATUS_COLOURS}")
        with self._lock:
            stamp = _ts(self._now())
            incident = _Incident(self._next(), title, stamp, stamp, colours)
            incident.updates.append(_Update(self._next(), "issue", contents, stamp))
            self._incidents.append(incident)
            return incident.id

    def add_update(self, incident_id: int, contents: str, update_type: str = "update") -> int:
        """An update of the incident (`resolved` ends it); returns the update's id."""
        with self._lock:
            incident = self._incident(incident_id)
            stamp = _ts(self._now())
            update = _Update(self._next(), update_type, contents, stamp)
            incident.updates.append(update)
            incident.updated_at = stamp
            if update_type == "resolved":
                incident.resolved_at = self._now()
            return update.id

    def resolve(self, incident_id: int, contents: str = "This incident has been resolved.") -> int:
        return self.add_update(incident_id, contents, "resolved")

    def _incident(self, incident_id: int) -> _Incident:
        for incident in self._incidents:
            if incident.id == incident_id:
                return incident
        raise KeyError(f"no status incident {incident_id}")

    def open_incidents(self) -> list[int]:
        with self._lock:
            return [i.id for i in self._incidents if not i.resolved]

    def current_status_json(self) -> Json:
        """`GET /api/v4/current-status`: the unresolved incidents, and those resolved in the
        last `RESOLVED_SHOWN` (with their `resolved` update), newest update first."""
        with self._lock:
            now = self._now()
            listed = [
                i
                for i in self._incidents
                if i.resolved_at is None or now - i.resolved_at < RESOLVED_SHOWN
            ]
            live = [i for i in listed if not i.resolved]
            colours = dict.fromkeys(SYSTEMS, "green")
            for incident in live:
                for system, colour in incident.systems.items():
                    if STATUS_COLOURS.index(colour) > STATUS_COLOURS.index(colours[system]):
                        colours[system] = colour
            return {
                "status": [{"system": s, "status": c} for s, c in colours.items()],
                "incidents": [self._incident_json(i) for i in listed],
                "scheduled": [],
            }

    def _incident_json(self, incident: _Incident) -> Json:
        return {
            "id": incident.id,
            "title": incident.title,
            "created_at": incident.created_at,
            "updated_at": incident.updated_at,
            "full_url": f"{self.URL}{incident.id}",
            "resolved": incident.resolved,
            "updates": [
                {
                    "id": u.id,
                    "incident_id": incident.id,
                    "update_type": u.update_type,
                    "contents": u.contents,
                    "created_at": u.created_at,
                    "updated_at": u.created_at,
                }
                for u in reversed(incident.updates)
            ],
        }
