"""The Heroku Platform API client: the only module that talks to Heroku.

https://devcenter.heroku.com/articles/platform-api-reference
Every call has a timeout; 429 and 5xx are retried with back-off (urllib3's Retry);
Heroku's error bodies `{"id": ..., "message": ...}` become typed errors.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as TimeoutError_
from urllib3.util.retry import Retry

from heroku_monitor.snapshot import Addon, AppSnapshot, Dyno, Release

ACCEPT = "application/vnd.heroku+json; version=3"
USER_AGENT = "heroku-monitor/0.1 (+https://github.com/heroku-monitor)"
# Heroku lists are ordered by id (a UUID) unless asked otherwise, 200 to a page: the
# newest releases must be asked for explicitly, as the Heroku CLI does.
NEWEST_RELEASES = "version ..; order=desc, max={n}"


class HerokuError(Exception):
    """A Heroku API call failed; `str()` is one sentence for a person."""

    reason = "error"

    def __init__(self, message: str, *, status: int | None = None, error_id: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status else ""
        return f"{prefix}{self.reason}: {self.args[0]}"


class Unauthorized(HerokuError):
    reason = "invalid token"


class Forbidden(HerokuError):
    reason = "forbidden"


class NotFound(HerokuError):
    reason = "not found"


class RateLimited(HerokuError):
    reason = "rate limited"


class Unavailable(HerokuError):
    """Heroku did not answer usefully: 5xx, a timeout, no connection or malformed JSON."""

    reason = "unavailable"


_BY_STATUS: dict[int, type[HerokuError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}


class _Retry(Retry):
    """urllib3's Retry, with a server's Retry-After capped so one answer cannot stall a check."""

    MAX_RETRY_AFTER = 20.0

    def parse_retry_after(self, retry_after: str) -> float:
        # RFC 9110 allows whole seconds or a date; tolerate a fraction instead of failing.
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return float(super().parse_retry_after(retry_after))

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.MAX_RETRY_AFTER)


def config_digests(config: dict[str, Any], key: bytes) -> dict[str, str]:
    """Name -> keyed digest of each value. The values go no further than this function."""
    return {
        str(name): hmac.new(key, f"{name}\0{value}".encode(), hashlib.sha256).hexdigest()[:32]
        for name, value in config.items()
    }


def key_id(key: bytes) -> str:
    """A short name for a digest key, kept with the digests it made."""
    return hashlib.sha256(b"key-id\0" + key).hexdigest()[:12]


class HerokuClient:
    """A thread-safe client for the endpoints the monitor reads."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] = (3.05, 10.0),
        retries: int = 3,
        backoff: float = 0.5,
        release_window: int = 10,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.release_window = release_window
        self.session = requests.Session()
        self.session.headers.update(
            {"Accept": ACCEPT, "Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}
        )
        retry = _Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            backoff_max=8.0,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=("GET", "HEAD"),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        # (path, range) -> (ETag, parsed body, Next-Range): conditional requests save bytes. What is
        # cached is what the caller kept (config vars as digests), never a raw body.
        self._cache: dict[tuple[str, str], tuple[str, Any, str | None]] = {}
        self.rate_limit_remaining: int | None = None

    # -- transport ---------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: Any = None
    ) -> requests.Response:
        url = self.base_url + path
        try:
            response = self.session.request(
                method, url, headers=headers, json=body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            # After urllib3's retries a read timeout arrives wrapped in a ConnectionError.
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            # (urllib3's NewConnectionError is a TimeoutError subclass: a refusal is not slow.)
            timed_out = isinstance(exc, requests.Timeout) or isinstance(reason, TimeoutError_)
            if timed_out and not isinstance(reason, NewConnectionError):
                raise Unavailable(f"Heroku did not answer {path} in time.") from exc
            raise Unavailable(f"could not reach the Heroku API at {self.base_url}.") from exc
        remaining = response.headers.get("RateLimit-Remaining")
        if remaining and remaining.isdigit():
            self.rate_limit_remaining = int(remaining)
        if response.status_code >= 400:
            raise self._error(response, path)
        return response

    @staticmethod
    def _error(response: requests.Response, path: str) -> HerokuError:
        try:
            data = response.json()
            error_id = str(data.get("id", ""))
            message = str(data.get("message", "")).strip() or response.reason
        except ValueError:
            error_id, message = "", response.reason or "no message"
        message = message.replace("\n", " ")
        status = response.status_code
        if status == 404 and path.startswith("/apps/"):
            message = (
                f"app {path.split('/')[2]!r} not found, or this token cannot see it ({message})"
            )
        cls = _BY_STATUS.get(status, Unavailable if status >= 500 else HerokuError)
        return cls(message, status=status, error_id=error_id)

    @staticmethod
    def _json(response: requests.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise Unavailable(f"Heroku answered {path} with malformed JSON.") from exc

    def get(
        self,
        path: str,
        *,
        range_header: str = "",
        transform: Callable[[Any], Any] = lambda data: data,
        conditional: bool = False,
    ) -> tuple[Any, str | None]:
        """(transform(body), Next-Range or None) of one GET.

        With `conditional`, the answer is cached with its ETag and asked for again with
        If-None-Match. Only for single resources: a list's ETag has been seen to stay the
        same after the list changed (https://github.com/heroku/platform-api/issues/73), and a
        304 for a stale dyno list would hide a crash. Lists are always read in full.
        """
        cache_key = (path, range_header)
        headers = {"Range": range_header} if range_header else {}
        with self._lock:
            cached = self._cache.get(cache_key) if conditional else None
        if cached:
            headers["If-None-Match"] = cached[0]
        response = self._request("GET", path, headers=headers)
        if response.status_code == 304 and cached:
            # A 304 page stands for the page cached with its ETag, Next-Range included.
            return cached[1], cached[2]
        next_range = response.headers.get("Next-Range") if response.status_code == 206 else None
        value = transform(self._json(response, path))
        etag = response.headers.get("ETag")
        if etag and conditional:
            with self._lock:
                self._cache[cache_key] = (etag, value, next_range)
        return value, next_range

    def get_all(self, path: str) -> list[Any]:
        """Every item of a list, following 206 Partial Content pages via Next-Range."""
        items: list[Any] = []
        range_header = ""
        for _ in range(100):  # 100 pages of 200 is far more than any app has
            page, next_range = self.get(path, range_header=range_header)
            if not isinstance(page, list):
                raise Unavailable(f"Heroku answered {path} with something other than a list.")
            items.extend(page)
            if not next_range:
                break
            range_header = next_range
        return items

    # -- endpoints ---------------------------------------------------------------------

    def snapshot(
        self, app: str, *, now: datetime, digest_key: bytes, include_config: bool = True
    ) -> AppSnapshot:
        """Read the app, its dynos, newest releases, add-ons and config var digests.

        `include_config=False` skips the config vars (a status answer needs none of them).
        """
        quoted = quote(app, safe="")
        base = f"/apps/{quoted}"
        info, _ = self.get(base, conditional=True)
        dynos = self.get_all(f"{base}/dynos")
        releases, _ = self.get(
            f"{base}/releases", range_header=NEWEST_RELEASES.format(n=self.release_window)
        )
        addons = self.get_all(f"{base}/addons")
        config: dict[str, str] = {}
        if include_config:
            config, _ = self.get(
                f"{base}/config-vars",
                transform=lambda data: config_digests(_mapping(data), digest_key),
                conditional=True,
            )
        try:
            return AppSnapshot(
                app=str(info["name"]),
                taken_at=now,
                maintenance=bool(info.get("maintenance", False)),
                app_updated_at=str(info.get("updated_at") or ""),
                web_url=str(info.get("web_url") or ""),
                dynos=tuple(_dyno(d) for d in dynos),
                releases=tuple(
                    sorted((_release(r) for r in releases), key=lambda r: r.version, reverse=True)
                ),
                addons=tuple(_addon(a) for a in addons),
                config=dict(config),
                config_key_id=key_id(digest_key) if include_config else "",
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise Unavailable(f"Heroku's answer for {app!r} is missing fields ({exc}).") from exc

    def rate_limits(self) -> int:
        """Requests left for this token; this call itself is free."""
        data, _ = self.get("/account/rate-limits")
        return int(data["remaining"])

    def webhooks(self, app: str) -> list[dict[str, Any]]:
        """The app's webhook subscriptions (`GET /apps/{app}/webhooks`; no secrets)."""
        hooks = self.get_all(f"/apps/{quote(app, safe='')}/webhooks")
        return [h for h in hooks if isinstance(h, dict)]

    def create_webhook(self, app: str, *, url: str, secret: str, include: list[str]) -> Any:
        """Subscribe `url` to the app's webhook events (the monitor's writes are this and
        `update_webhook`, both from `register-webhook`)."""
        body = {"include": include, "level": "sync", "url": url, "secret": secret}
        path = f"/apps/{quote(app, safe='')}/webhooks"
        return self._json(self._request("POST", path, body=body), path)

    def log_drains(self, app: str) -> list[dict[str, Any]]:
        """The app's log drains (`GET /apps/{app}/log-drains`), each with its token."""
        drains = self.get_all(f"/apps/{quote(app, safe='')}/log-drains")
        return [d for d in drains if isinstance(d, dict)]

    def create_log_drain(self, app: str, url: str) -> Any:
        """Add a log drain to the app (the one write of `register-drain`)."""
        path = f"/apps/{quote(app, safe='')}/log-drains"
        return self._json(self._request("POST", path, body={"url": url}), path)

    def delete_log_drain(self, app: str, drain_id: str) -> Any:
        """Remove one of the app's log drains (one `register-drain` made before)."""
        path = f"/apps/{quote(app, safe='')}/log-drains/{quote(drain_id, safe='')}"
        return self._json(self._request("DELETE", path), path)

    def update_webhook(
        self, app: str, webhook_id: str, *, url: str, secret: str, include: list[str]
    ) -> Any:
        """Point an existing subscription at `url`, signed with `secret`, for `include`."""
        body = {"include": include, "level": "sync", "url": url, "secret": secret}
        path = f"/apps/{quote(app, safe='')}/webhooks/{quote(webhook_id, safe='')}"
        return self._json(self._request("PATCH", path, body=body), path)


def _mapping(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Unavailable("Heroku answered config-vars with something other than an object.")
    return data


def _dyno(d: dict[str, Any]) -> Dyno:
    return Dyno(
        name=str(d["name"]),
        type=str(d["type"]),
        state=str(d["state"]),
        updated_at=str(d.get("updated_at") or ""),
        size=str(d.get("size") or ""),
    )


def _release(r: dict[str, Any]) -> Release:
    user = r.get("user") or {}
    slug = r.get("slug") or {}
    return Release(
        version=int(r["version"]),
        status=str(r["status"]),
        description=str(r.get("description") or ""),
        user=str(user.get("email") or ""),
        created_at=str(r.get("created_at") or ""),
        slug_id=slug.get("id"),
        current=bool(r.get("current", False)),
    )


def _addon(a: dict[str, Any]) -> Addon:
    return Addon(
        id=str(a["id"]),
        name=str(a["name"]),
        service=str((a.get("addon_service") or {}).get("name") or ""),
        plan=str((a.get("plan") or {}).get("name") or ""),
        state=str(a["state"]),
    )
