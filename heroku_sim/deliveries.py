"""Delivery of app webhook notifications the way Heroku sends them.

The model (`model.py`) turns each change into an event and hands one `Notification` per
subscription to a `Dispatcher`, whose single daemon thread POSTs them. The thread starts
with the first notification, so a `Simulator` without webhooks never starts one; it never
takes the model's lock, so no network I/O happens while the model is locked.

What a receiver sees, after Heroku's documentation
(https://github.com/heroku/webhooks-docs README.md "Receiving webhooks" and
devcenter/app-webhooks.md; https://devcenter.heroku.com/articles/app-webhooks):
- `POST <url>` with a JSON body: action, actor, created_at, id (the event id), data,
  previous_data, published_at, resource, sequence, updated_at, version and
  webhook_metadata {attempt {id}, delivery {id}, event {id, include}, webhook {id}};
- `Heroku-Webhook-Hmac-SHA256`: base64 of the HMAC-SHA256 of the raw body keyed with the
  subscription's `secret` (left out when it has none); `Authorization`: the subscription's
  `authorization` value, when it has one; `Content-Type: application/json`.
  Heroku documents no other header (no delivery-id or event-type header, no User-Agent);
  the simulator names itself in `User-Agent` so nobody mistakes it for Heroku;
- a 2xx answer is a success, anything else (or no answer) a failure;
- level `notify`: one fire-and-forget attempt; level `sync`: retried "until successful or
  timed out": the delay grows exponentially up to an hour, then retries come hourly
  (180 retries over about seven days in the original docs; since 31 January 2023 an event
  is tried for up to 72 hours, https://devcenter.heroku.com/changelog-items/2525).
  `HEROKU_SYNC_RETRY_DELAYS` is that schedule starting at 1 s (the first delay is not
  documented); tests pass short delays instead;
- deliveries to one subscription are ordered: while one is being retried the later ones
  for that subscription wait (the docs say so); other subscriptions are not held up.

Retry delays run on the real (monotonic) clock, not the simulator's injectable one, which
tests often freeze.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

Json = dict[str, Any]

SIGNATURE_HEADER = "Heroku-Webhook-Hmac-SHA256"
USER_AGENT = "heroku-monitor-simulator (webhook delivery)"
EVENT_VERSION = "application/vnd.heroku+json; version=3"
DEFAULT_TIMEOUT = 3.0
# Heroku keeps trying a sync delivery for 72 hours after the event (changelog 2525).
SYNC_WINDOW_SECONDS = 72 * 3600


def _heroku_retry_delays() -> tuple[float, ...]:
    """1, 2, 4 ... 2048 s, then hourly, as long as the total stays within 72 hours."""
    delays: list[float] = []
    delay = 1.0
    while delay < 3600 and sum(delays) + delay <= SYNC_WINDOW_SECONDS:
        delays.append(delay)
        delay *= 2
    while sum(delays) + 3600 <= SYNC_WINDOW_SECONDS:
        delays.append(3600.0)
    return tuple(delays)


HEROKU_SYNC_RETRY_DELAYS: tuple[float, ...] = _heroku_retry_delays()


def webhook_signature(secret: str, body: bytes) -> str:
    """What Heroku puts in `Heroku-Webhook-Hmac-SHA256`: base64(HMAC-SHA256(secret, body))."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Notification:
    """One event for one subscription: one delivery, made of one or more attempts."""

    delivery_id: str
    webhook_id: str
    url: str
    level: str
    secret: str | None
    authorization: str | None
    entity: str
    event: Json  # the envelope without webhook_metadata
    failures: int = 0
    attempts: int = 0
    duplicated: bool = False
    next_at: float = 0.0
    seq: int = 0


@dataclass
class _Worker:
    """One dispatcher thread and the token that stops it (a closed worker never resumes)."""

    stop: threading.Event
    thread: threading.Thread


class Dispatcher:
    """Queues notifications per subscription and POSTs them from one daemon thread.

    `retry_delays`: the waits before each retry of a failed `sync` delivery (its length
    is the number of retries). `duplicate`: send every successful delivery a second time
    (same event and delivery id, new attempt id), as an at-least-once sender may.
    `stamp` gives the time written in each delivery record.
    """

    def __init__(
        self,
        *,
        retry_delays: Sequence[float] = HEROKU_SYNC_RETRY_DELAYS,
        duplicate: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        stamp: Callable[[], str],
    ) -> None:
        if any(d < 0 for d in retry_delays):
            raise ValueError("Retry delays cannot be negative.")
        if timeout <= 0:
            raise ValueError("The delivery timeout must be positive.")
        self.retry_delays = tuple(float(d) for d in retry_delays)
        self.duplicate = duplicate
        self.timeout = timeout
        self._stamp = stamp
        self._cond = threading.Condition()
        self._queues: dict[str, deque[Notification]] = {}
        self._records: list[Json] = []
        self._paused = False
        self._seq = 0
        self._worker: _Worker | None = None

    # -- called by the model (with its lock held: nothing here blocks) ---------------------

    def submit(self, notes: Iterable[Notification]) -> None:
        """Queue notifications in order; starts the delivery thread if it is not running."""
        with self._cond:
            now = time.monotonic()
            for note in notes:
                self._seq += 1
                note.seq, note.next_at = self._seq, now
                self._queues.setdefault(note.webhook_id, deque()).append(note)
            if self._worker is None or not self._worker.thread.is_alive():
                stop = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(stop,), name="heroku-simulator-webhooks", daemon=True
                )
                self._worker = _Worker(stop, thread)
                thread.start()
            self._cond.notify_all()

    def discard(self, webhook_id: str) -> None:
        """Drop what is still queued for a deleted subscription."""
        with self._cond:
            self._queues.pop(webhook_id, None)

    # -- control ---------------------------------------------------------------------------

    def pause(self) -> None:
        """Send nothing more until `resume()`; notifications keep queueing."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    @property
    def running(self) -> bool:
        """True while a delivery thread is alive."""
        with self._cond:
            return self._worker is not None and self._worker.thread.is_alive()

    @property
    def pending(self) -> int:
        """Notifications queued or being retried."""
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def close(self) -> None:
        """Stop the thread and drop undelivered notifications. A later `submit` starts a
        new thread. Waits for an attempt in flight (at most the timeout, plus a second)."""
        with self._cond:
            worker, self._worker = self._worker, None
            self._queues.clear()
            if worker is not None:
                worker.stop.set()
            self._cond.notify_all()
        if worker is not None and worker.thread is not threading.current_thread():
            worker.thread.join(timeout=self.timeout + 1.0)

    # -- inspection --------------------------------------------------------------------------

    def records(self) -> list[Json]:
        """Every attempt so far, oldest first (copies)."""
        with self._cond:
            return [dict(r) for r in self._records]

    def wait_for(self, count: int, timeout: float, match: dict[str, Any]) -> list[Json]:
        """The attempts matching `match` (record field -> value) once there are `count`
        of them; AssertionError saying what did arrive when `timeout` runs out first."""

        def matching() -> list[Json]:
            return [r for r in self._records if all(r.get(k) == v for k, v in match.items())]

        with self._cond:
            if self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                return [dict(r) for r in matching()]
            seen = [
                f"{r['entity']} {r['action']} attempt {r['attempt']}: "
                + (str(r["status"]) if r["error"] is None else r["error"])
                for r in self._records
            ]
            wanted = f" matching {match}" if match else ""
            raise AssertionError(
                f"Expected {count} webhook deliveries{wanted} within {timeout:g}s, "
                f"got {len(matching())}. Every attempt so far ({len(seen)}): {seen or 'none'}; "
                f"still queued: {sum(len(q) for q in self._queues.values())}"
                + (" (deliveries are paused)" if self._paused else "")
            )

    # -- the delivery thread -----------------------------------------------------------------

    def _next_ready(self, now: float) -> Notification | None:
        """The oldest due head of any subscription's queue (heads keep later ones waiting)."""
        if self._paused:
            return None
        due = [q[0] for q in self._queues.values() if q and q[0].next_at <= now]
        return min(due, key=lambda n: (n.next_at, n.seq), default=None)

    def _wait_time(self, now: float) -> float | None:
        if self._paused:
            return None
        heads = [q[0].next_at for q in self._queues.values() if q]
        return max(0.0, min(heads) - now) if heads else None

    def _run(self, stop: threading.Event) -> None:
        session = requests.Session()
        session.trust_env = False  # deliver straight to the URL, never through a proxy
        try:
            while True:
                with self._cond:
                    while True:
                        if stop.is_set():
                            return
                        now = time.monotonic()
                        note = self._next_ready(now)
                        if note is not None:
                            break
                        self._cond.wait(self._wait_time(now))
                    note.attempts += 1
                    attempt = note.attempts
                    duplicate = note.duplicated
                status, error = self._post(session, note)
                with self._cond:
                    if stop.is_set():
                        return
                    self._finish(note, attempt, duplicate, status, error)
                    self._cond.notify_all()
        finally:
            session.close()

    def _body(self, note: Notification) -> bytes:
        payload = dict(note.event)
        payload["webhook_metadata"] = {
            "attempt": {"id": str(uuid.uuid4())},
            "delivery": {"id": note.delivery_id},
            "event": {"id": note.event["id"], "include": note.entity},
            "webhook": {"id": note.webhook_id},
        }
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    def _post(self, session: requests.Session, note: Notification) -> tuple[int | None, str | None]:
        body = self._body(note)  # each attempt has its own attempt id, so its own signature
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if note.secret:
            headers[SIGNATURE_HEADER] = webhook_signature(note.secret, body)
        if note.authorization:
            headers["Authorization"] = note.authorization
        try:
            with session.post(
                note.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as response:
                return response.status_code, None
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]

    def _finish(
        self,
        note: Notification,
        attempt: int,
        duplicate: bool,
        status: int | None,
        error: str | None,
    ) -> None:
        ok = error is None and status is not None and 200 <= status < 300
        self._records.append(
            {
                "delivery_id": note.delivery_id,
                "event_id": note.event["id"],
                "webhook_id": note.webhook_id,
                "entity": note.entity,
                "resource": note.event["resource"],
                "action": note.event["action"],
                "level": note.level,
                "url": note.url,
                "attempt": attempt,
                "status": status,
                "error": error,
                "ok": ok,
                "duplicate": duplicate,
                "at": self._stamp(),
            }
        )
        queue = self._queues.get(note.webhook_id)
        if queue is None or not queue or queue[0] is not note:
            return  # the subscription was deleted meanwhile
        now = time.monotonic()
        if ok and self.duplicate and not note.duplicated:
            note.duplicated = True
            note.next_at = now
            return
        if not ok and not duplicate and note.level == "sync":
            note.failures += 1
            if note.failures <= len(self.retry_delays):
                note.next_at = now + self.retry_delays[note.failures - 1]
                return
        queue.popleft()
        if not queue:
            del self._queues[note.webhook_id]
