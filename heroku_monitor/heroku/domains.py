"""An app's domains and SNI endpoints (SPEC §15), read on the Platform API's transport and
mapped to core values (`core/certificates`).

https://devcenter.heroku.com/articles/platform-api-reference#domain-list
https://devcenter.heroku.com/articles/platform-api-reference#sni-endpoint-list
A domain: `hostname`, `kind` ("heroku" or "custom"), `acm_status` and `acm_status_reason`
(null for a domain ACM does not manage), `sni_endpoint` ({id, name} or null). An SNI
endpoint: `id`, `name`, `ssl_cert` {`cert_domains`, `expires_at`, `starts_at`, `issuer`,
`subject`, …}. Two requests, at once; both count in the rate budget as the caller's source.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from heroku_monitor.core.certificates import Certificate, CertificateRead, Domain
from heroku_monitor.heroku.errors import Unavailable
from heroku_monitor.heroku.mapping import missing_fields, moment
from heroku_monitor.heroku.transport import Transport

REQUESTS_PER_READ = 2


def read_certificates(heroku: Transport, app: str) -> CertificateRead:
    """The app's domains and SNI endpoints, read at once; HerokuError (and `Unavailable`
    for an answer missing fields) when either cannot be read."""
    base = f"/apps/{quote(app, safe='')}"
    domains, endpoints = heroku.together(
        lambda: heroku.get_all(f"{base}/domains"),
        lambda: heroku.get_all(f"{base}/sni-endpoints"),
    )
    with missing_fields(f"Heroku's domains of {app!r} are"):
        found_domains = tuple(domain(d) for d in domains)
    with missing_fields(f"Heroku's SNI endpoints of {app!r} are"):
        found_certs = tuple(certificate(e) for e in endpoints)
    return CertificateRead(app, found_certs, found_domains)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def domain(d: dict[str, Any]) -> Domain:
    endpoint = d.get("sni_endpoint")
    # The schema's object ({id, name}); an older answer gave the id alone.
    endpoint_id = endpoint.get("id") if isinstance(endpoint, dict) else endpoint
    return Domain(
        hostname=str(d["hostname"]),
        kind=str(d.get("kind") or "custom"),
        acm_status=_text(d.get("acm_status")),
        acm_status_reason=_text(d.get("acm_status_reason")),
        sni_endpoint=_text(endpoint_id),
    )


def certificate(e: dict[str, Any]) -> Certificate:
    cert = e.get("ssl_cert") or {}
    if not isinstance(cert, dict):
        raise Unavailable("an SNI endpoint's ssl_cert is not an object.")
    names = cert.get("cert_domains") or []
    return Certificate(
        id=str(e["id"]),
        name=str(e.get("name") or e.get("display_name") or e["id"]),
        hostnames=tuple(str(n) for n in names if isinstance(n, str)),
        expires_at=moment(cert.get("expires_at")),
    )
