"""The transport to the Heroku Platform API: one HTTP session, timeouts and retries,
conditional requests (ETags), Range paging, and the count of requests each kind of check
spent.

https://devcenter.heroku.com/articles/platform-api-reference
Every call has a timeout; 429 and 5xx are retried with back-off (urllib3's Retry);
Heroku's error bodies `{"id": ..., "message": ...}` become typed errors (`errors.py`).
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as TimeoutError_
from urllib3.util.retry import Retry

from heroku_monitor.heroku.errors import BY_STATUS, HerokuError, Unavailable

ACCEPT = "application/vnd.heroku+json; version=3"
USER_AGENT = "heroku-monitor/0.1 (+https://github.com/heroku-monitor)"
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


class Transport:
    """A thread-safe session with the Heroku API: GETs (conditional, paged) and writes."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] = (3.05, 10.0),
        retries: int = 3,
        backoff: float = 0.5,
        concurrency: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
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
        same source); their results in order, or the first call's error that failed.

        The first call runs on the caller's thread while the pool runs the others: a
        steady round's check (one request) then takes no pool thread at all, and a whole
        check one fewer (each thread costs memory: its stack, a malloc arena)."""
        if not calls:
            return []
        futures = [self._pool.submit(contextvars.copy_context().run, call) for call in calls[1:]]
        first = calls[0]()
        return [first, *(future.result() for future in futures)]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.session.close()

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
        cls = BY_STATUS.get(status, Unavailable if status >= 500 else HerokuError)
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
