"""The Heroku Platform API client: the only module that talks to Heroku.

https://devcenter.heroku.com/articles/platform-api-reference
Every call has a timeout; 429 and 5xx are retried with back-off (urllib3's Retry);
Heroku's error bodies `{"id": ..., "message": ...}` become typed errors.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as TimeoutError_
from urllib3.util.retry import Retry

from heroku_monitor.core import rounds
from heroku_monitor.core.rounds import Details, PartRead, RoundListing
from heroku_monitor.core.snapshot import Addon, AppSnapshot, Dyno, ListedApp, Release

ACCEPT = "application/vnd.heroku+json; version=3"
USER_AGENT = "heroku-monitor/0.1 (+https://github.com/heroku-monitor)"
# Heroku lists are ordered by id (a UUID) unless asked otherwise, 200 to a page: the
# newest releases must be asked for explicitly, as the Heroku CLI does.
NEWEST_RELEASES = "version ..; order=desc, max={n}"
# Which kind of check the requests made in this context are for (the rate budget counts
# each kind: "poll", "webhook", "asked"; "other" for the rest).
_SOURCE: contextvars.ContextVar[str] = contextvars.ContextVar("heroku_source", default="other")
T = TypeVar("T")


@contextmanager
def spending(source: str) -> Iterator[None]:
    """Count the Heroku requests made inside the block as `source`'s."""
    token = _SOURCE.set(source)
    try:
        yield
    finally:
        _SOURCE.reset(token)


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
        concurrency: int = 16,
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
        # The requests of one check run together, and checks of several apps too.
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=max(16, concurrency * 4))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        # (path, range) -> (ETag, parsed body, Next-Range): conditional requests save bytes. What is
        # cached is what the caller kept (config vars as digests), never a raw body.
        self._cache: dict[tuple[str, str], tuple[str, Any, str | None]] = {}
        self.rate_limit_remaining: int | None = None
        self._spent: Counter[str] = Counter()  # requests made, per source, ever
        self._taken: Counter[str] = Counter()  # of which `take_tally` has handed out
        self._pool = ThreadPoolExecutor(
            max_workers=max(8, concurrency * 4), thread_name_prefix="heroku-request"
        )

    def take_tally(self) -> dict[str, int]:
        """The requests made since the last call, per source (the budget adds them up)."""
        with self._lock:
            tally = self._spent - self._taken
            self._taken = self._spent.copy()
        return dict(tally)

    def spent(self, source: str) -> int:
        """Requests this client made for `source` since it was made."""
        with self._lock:
            return self._spent[source]

    def together(self, *calls: Callable[[], T]) -> list[T]:
        """Run the calls concurrently (each in this context: its requests count for the
        same source); their results in order, or the first call's error that failed."""
        futures = [self._pool.submit(contextvars.copy_context().run, call) for call in calls]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.session.close()

    # -- transport ---------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: Any = None
    ) -> requests.Response:
        url = self.base_url + path
        with self._lock:
            self._spent[_SOURCE.get()] += 1
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
        return self.pages(path)[0]

    def pages(self, path: str) -> tuple[list[Any], int]:
        """Every item of a list, and how many requests (pages) it took."""
        items: list[Any] = []
        range_header, count = "", 0
        while count < 100:  # 100 pages of 200 is far more than any app has
            page, next_range = self.get(path, range_header=range_header)
            count += 1
            if not isinstance(page, list):
                raise Unavailable(f"Heroku answered {path} with something other than a list.")
            items.extend(page)
            if not next_range:
                break
            range_header = next_range
        return items, count

    # -- endpoints ---------------------------------------------------------------------

    def snapshot(
        self, app: str, *, now: datetime, digest_key: bytes, include_config: bool = True
    ) -> AppSnapshot:
        """Read the app, its dynos, newest releases, add-ons and config var digests, all at
        once (five requests in parallel).

        `include_config=False` skips the config vars (a status answer needs none of them).
        """
        base = f"/apps/{quote(app, safe='')}"
        calls: list[Callable[[], Any]] = [
            partial(self._app_info, base),
            lambda: self.get_all(f"{base}/dynos"),
            lambda: self.get_all(f"{base}/addons"),
            lambda: self._releases(base),
        ]
        if include_config:
            calls.append(lambda: self._config(base, digest_key))
        info, dynos, addons, releases, *config = self.together(*calls)
        try:
            part = PartRead(
                _listed(info), tuple(map(_dyno, dynos)), tuple(map(_addon, addons)), None
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise Unavailable(f"Heroku's answer for {app!r} is missing fields ({exc}).") from exc
        if not include_config:
            return rounds.whole(part, Details(tuple(releases), {}, ""), now=now, details_at="")
        details = Details(tuple(releases), config[0], key_id(digest_key))
        return rounds.whole(part, details, now=now, details_at=now.isoformat())

    def _releases(self, base: str) -> list[Release]:
        releases, _ = self.get(
            f"{base}/releases", range_header=NEWEST_RELEASES.format(n=self.release_window)
        )
        if not isinstance(releases, list):
            raise Unavailable(f"Heroku answered {base}/releases with something other than a list.")
        try:
            return [_release(r) for r in releases]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise Unavailable(f"Heroku's releases at {base} are missing fields ({exc}).") from exc

    def _config(self, base: str, digest_key: bytes) -> dict[str, str]:
        config, _ = self.get(
            f"{base}/config-vars",
            transform=lambda data: config_digests(_mapping(data), digest_key),
            conditional=True,
        )
        return dict(config)

    # -- a polling round (SPEC §13) ------------------------------------------------------

    def listing(self, *, apps: bool, teams: list[str]) -> RoundListing:
        """The round's lists, read at once: every app of the account (`apps`) and of each
        team, every add-on of the account, and every add-on attachment. An app's add-ons
        are its own and those of other apps attached to it (a shared database), as
        `GET /apps/{app}/addons` shows them. A team Heroku does not know, or this token
        cannot see, is left out of `teams` (its watch says why); other errors raise."""
        calls: list[Callable[[], tuple[list[Any], int] | None]] = [
            lambda: self.pages("/addons"),
            lambda: self.pages("/addon-attachments"),
        ]
        if apps:
            calls.append(lambda: self.pages("/apps"))
        calls += [partial(self._team_apps, team) for team in teams]
        answers = self.together(*calls)
        requests = sum(answer[1] for answer in answers if answer is not None)
        addons, attachments = (answer[0] if answer is not None else [] for answer in answers[:2])
        lists = [answer[0] if answer is not None else None for answer in answers[2:]]
        try:
            listed: dict[str, ListedApp] = {}
            by_team: dict[str, tuple[str, ...]] = {}
            if apps:
                listed.update((a.name, a) for a in map(_listed, lists.pop(0) or []))
            for team, found in zip(teams, lists, strict=True):
                if found is None:
                    continue
                members = [_listed(a) for a in found]
                listed.update((a.name, a) for a in members)
                by_team[team] = tuple(a.name for a in members)
            by_app, unlisted = _addons_by_app(addons, attachments)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise Unavailable(
                f"Heroku's lists of apps and add-ons are missing fields ({exc})."
            ) from exc
        return RoundListing(
            apps=listed,
            addons=by_app,
            teams=by_team,
            requests=requests,
            addons_unlisted=unlisted,
        )

    def listing_alone(self, apps: list[str]) -> RoundListing:
        """The round's lists for a few apps in a big account: each app and its add-ons,
        read app by app (two requests an app, all at once), which costs less than the
        account's lists when those run to more pages. An app Heroku does not show is left
        out (its check reads it alone, and the 404 says why)."""
        calls: list[Callable[[], Any]] = []
        for name in apps:
            base = f"/apps/{quote(name, safe='')}"
            calls += [
                partial(self._unless_missing, partial(self._app_info, base)),
                partial(self._unless_missing, partial(self.get_all, f"{base}/addons")),
            ]
        answers = self.together(*calls)
        try:
            listed: dict[str, ListedApp] = {}
            by_app: dict[str, tuple[Addon, ...]] = {}
            for info, addons in zip(answers[::2], answers[1::2], strict=True):
                if info is None or addons is None:
                    continue
                app = _listed(info)
                listed[app.name] = app
                by_app[app.id] = tuple(_addon(a) for a in addons)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise Unavailable(f"Heroku's answer for an app is missing fields ({exc}).") from exc
        return RoundListing(apps=listed, addons=by_app, requests=len(calls))

    def _app_info(self, base: str) -> Any:
        return self.get(base, conditional=True)[0]

    @staticmethod
    def _unless_missing(call: Callable[[], T]) -> T | None:
        try:
            return call()
        except NotFound:
            return None

    def _team_apps(self, team: str) -> tuple[list[Any], int] | None:
        try:
            return self.pages(f"/teams/{quote(team, safe='')}/apps")
        except (NotFound, Forbidden):
            return None

    def app_parts(
        self, app: str, *, details: bool, addons: bool = False, digest_key: bytes
    ) -> tuple[list[Dyno], Details | None, tuple[Addon, ...] | None]:
        """What a round reads of one app: its dynos; with `details` its newest releases and
        config var digests too; with `addons` its add-ons (when the round's lists could
        not tell them). All at once."""
        base = f"/apps/{quote(app, safe='')}"
        calls: list[Callable[[], Any]] = [lambda: self.get_all(f"{base}/dynos")]
        if addons:
            calls.append(lambda: self.get_all(f"{base}/addons"))
        if details:
            calls += [lambda: self._releases(base), lambda: self._config(base, digest_key)]
        dynos, *rest = self.together(*calls)
        try:
            parsed = [_dyno(d) for d in dynos]
            found = tuple(_addon(a) for a in rest.pop(0)) if addons else None
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise Unavailable(f"Heroku's answer for {app!r} is missing fields ({exc}).") from exc
        got = Details(tuple(rest[0]), rest[1], key_id(digest_key)) if details else None
        return parsed, got, found

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


def _listed(a: dict[str, Any]) -> ListedApp:
    team = a.get("team") or {}
    return ListedApp(
        name=str(a["name"]),
        id=str(a.get("id") or ""),
        released_at=str(a.get("released_at") or ""),
        updated_at=str(a.get("updated_at") or ""),
        maintenance=bool(a.get("maintenance", False)),
        web_url=str(a.get("web_url") or ""),
        team=str(team["name"]) if isinstance(team, dict) and team.get("name") else None,
    )


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


def _addons_by_app(
    addons: list[Any], attachments: list[Any]
) -> tuple[dict[str, tuple[Addon, ...]], frozenset[str]]:
    """Each app's add-ons (by app id) from the account's add-ons and attachments: those it
    owns, and those of other apps attached to it. Also the apps with an attachment to an
    add-on the account's list does not show (an app this token cannot see owns it)."""
    known: dict[str, Addon] = {}
    by_app: dict[str, dict[str, Addon]] = {}
    for item in addons:
        addon = known[str(item["id"])] = _addon(item)
        by_app.setdefault(str(item["app"]["id"]), {})[addon.id] = addon
    unlisted: set[str] = set()
    for item in attachments:
        app_id, addon_id = str(item["app"]["id"]), str(item["addon"]["id"])
        if addon_id in known:
            by_app.setdefault(app_id, {}).setdefault(addon_id, known[addon_id])
        else:
            unlisted.add(app_id)
    return {app: tuple(found.values()) for app, found in by_app.items()}, frozenset(unlisted)


def _addon(a: dict[str, Any]) -> Addon:
    return Addon(
        id=str(a["id"]),
        name=str(a["name"]),
        service=str((a.get("addon_service") or {}).get("name") or ""),
        plan=str((a.get("plan") or {}).get("name") or ""),
        state=str(a["state"]),
    )
