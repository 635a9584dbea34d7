"""Failed builds end to end (SPEC §14): the simulator's push and its `api:build` delivery,
the service's webhook and check, the fake Slack's message; the output stream read with a
timeout and a size cap; `register-webhook` asking for `api:build`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from heroku_monitor import cli
from heroku_monitor.heroku.builds import OutputReader
from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from loopback import BackgroundServer
from tests.support.receiver import Receiver
from tests.support.web import wait_until
from tests.support.webhooks import SECRET, Hook
from tests.support.world import APP, World, first_monitor

FAILED_HEADER = "💥 *Build Failed* 💥\nApp: my-app\nCommit: "


@pytest.fixture
def relay(world: World) -> Iterator[tuple[Hook, Receiver, int]]:
    """The service after its first check, and a receiver the simulated app's webhook
    (`api:build` included, as `register-webhook` asks) delivers to: the test hands what
    arrives to the service's `POST /webhooks/heroku`."""
    service = world.service(heroku_webhook_secret=SECRET)
    monitor_id = first_monitor(service)
    service.checker.check(monitor_id)
    with Receiver() as receiver:
        world.sim.create_webhook(
            APP, include=cli.WEBHOOK_ENTITIES, level="sync", url=receiver.url, secret=SECRET
        )
        yield Hook(service, create_app(service).test_client()), receiver, monitor_id
    service.stop()


def delivered(receiver: Receiver, count: int, entity: str = "build") -> list[dict[str, Any]]:
    receiver.wait_for(count)
    return [r.json for r in receiver.requests if r.json["resource"] == entity]


def checked(service: Service, monitor_id: int) -> None:
    """The check the delivery asked for, run in this thread (the scheduler is not started)."""
    service.checker.check(monitor_id)


def test_a_webhook_delivery_of_a_failed_build_brings_the_alert_with_the_output_tail(
    world: World, relay: tuple[Hook, Receiver, int]
):
    hook, receiver, monitor_id = relay
    world.sim.builds.push(APP, user="ann@example.com", message="Pin the deps", status="failed")
    create, update = delivered(receiver, 2)
    assert (create["action"], update["action"]) == ("create", "update")
    assert update["data"]["status"] == "failed" and update["previous_data"] == {"status": "pending"}
    response = hook.deliver(update)
    assert response.status_code == 202 and response.json == {"app": APP, "checks": 1}
    checked(hook.service, monitor_id)
    (message,) = world.slack.wait_for_messages(1)
    sha = update["data"]["source_blob"]["version"]
    assert message["text"].startswith(
        f"{FAILED_HEADER}{sha[:7]} Pin the deps\nBuilt by: ann@example.com\n```\n"
    )
    shown = message["text"].split("```\n", 1)[1].removesuffix("\n```").split("\n")
    assert len(shown) == 20 and shown[-1] == " !     Push failed"  # the tail, colours gone
    assert "\x1b" not in message["text"] and message["channel_name"] == "alerts"


def test_the_next_succeeded_build_resolves_the_build_incident_in_its_thread(world: World):
    service, monitor_id = world.baseline()
    world.sim.builds.push(APP, status="failed")
    service.checker.check(monitor_id)
    world.sim.builds.push(APP, message="Fix the deps")
    service.checker.check(monitor_id)
    service.checker.check(monitor_id)  # nothing new: nothing more
    failed, *later = world.slack.wait_for_messages(3)
    assert failed["text"].startswith(FAILED_HEADER)
    (resolved,) = [m for m in later if m["text"].startswith("✅ *Build Succeeded* ✅")]
    (deploy,) = [m for m in later if m["text"].startswith("🚀 *New Deploy Detected* 🚀")]
    assert "Fix the deps" in resolved["text"] and "Fix the deps" in deploy["text"]
    assert resolved["thread_ts"] == failed["ts"] and resolved["reply_broadcast"]
    assert len(world.slack.messages) == 3


def test_a_failed_release_phase_shows_the_last_lines_of_its_output(world: World):
    service, monitor_id = world.baseline()
    world.sim.deploy(APP, "ann@example.com", status="failed")
    service.checker.check(monitor_id)
    (message,) = world.slack.wait_for_messages(1)
    assert message["text"].startswith("❌ *Release Failed* ❌\nApp: my-app\n")
    assert message["text"].endswith("already exists\nWaiting for release.... failed.\n```")


def test_a_full_check_reads_the_builds_in_one_request_and_a_failed_output_once(world: World):
    service, monitor_id = world.baseline()
    world.sim.builds.push(APP, status="failed")
    reader = service.checker.heroku.outputs
    before = reader.reads
    world.sim.reset_counters()
    for _ in range(3):
        service.checker.check(monitor_id)
    assert world.sim.requests_by_path[f"/apps/{APP}/builds"] == 3
    assert reader.reads - before == 1  # the output of an ended build does not change
    assert len(world.slack.wait_for_messages(1)) == 1


def test_polling_reads_builds_through_one_request_newest_first(world: World):
    world.sim.builds.push(APP, status="failed")
    newest = world.sim.builds.push(APP)
    service = world.service()
    world.sim.reset_counters()
    found = service.checker.heroku.builds(APP)
    assert found[0].id == newest and found[0].status == "succeeded"
    assert world.sim.requests_by_path == {f"/apps/{APP}/builds": 1}
    assert not found[0].output and not found[1].output  # a success came after the failure
    service.stop()


# -- the output stream: a timeout, a size cap, no token ------------------------------------


class Stream:
    """An output stream server: `body` (bytes, or chunks to send slowly); it records the
    headers it got."""

    def __init__(self, body: bytes | Iterable[bytes], *, honour_range: bool = True) -> None:
        self.body, self.honour_range = body, honour_range
        self.headers: list[dict[str, str]] = []
        self._http = BackgroundServer(self._app, name="stream")

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.headers.append({k: str(v) for k, v in environ.items() if k.startswith("HTTP_")})
        wanted = environ.get("HTTP_RANGE", "")
        if isinstance(self.body, bytes):
            if self.honour_range and wanted.startswith("bytes=-"):
                n = int(wanted.removeprefix("bytes=-"))
                part = self.body[-n:]
                start = len(self.body) - len(part)
                total = len(self.body)
                start_response(
                    "206 Partial Content",
                    [("Content-Range", f"bytes {start}-{total - 1}/{total}")],
                )
                return [part]
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [self.body]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self.body

    def __enter__(self) -> str:
        self._http.start()
        return self._http.url + "/streams/b1"

    def __exit__(self, *exc: object) -> None:
        self._http.stop()


def test_only_the_tail_of_a_long_output_is_read_when_the_stream_honours_range():
    lines = b"".join(b"\x1b[1mline %d\x1b[0m\n" % n for n in range(100_000))
    with Stream(lines) as url:
        shown, error = OutputReader().tail(url)
    assert error == "" and shown == tuple(f"line {n}" for n in range(99_980, 100_000))


def test_a_stream_that_ignores_range_is_read_to_its_cap_and_no_further():
    huge = b"x" * (6 * 1024 * 1024)
    with Stream(huge, honour_range=False) as url:
        shown, error = OutputReader(max_bytes=1024 * 1024).tail(url)
    assert shown == () and error == "it is longer than 1 MB"


def test_a_slow_stream_is_given_up_at_the_deadline():
    stop = threading.Event()

    def slowly() -> Iterator[bytes]:
        while not stop.is_set():
            yield b"still building\n"
            time.sleep(0.05)

    with Stream(slowly()) as url:
        started = time.monotonic()
        shown, error = OutputReader(deadline=0.3).tail(url)
        stop.set()
    assert shown == () and error == "it took longer than 0.3 s to read"
    assert time.monotonic() - started < 2


def test_the_output_stream_never_gets_the_heroku_token(world: World):
    service = world.service()
    stream = Stream(b"one\ntwo\n")
    with stream as url:
        shown, error = service.checker.heroku.outputs.tail(url)
    service.stop()
    assert (shown, error) == (("one", "two"), "")
    (got,) = stream.headers
    assert "HTTP_AUTHORIZATION" not in got and world.sim.token not in str(got)
    assert got["HTTP_RANGE"] == "bytes=-65536"


# -- register-webhook ----------------------------------------------------------------------


def test_register_webhook_asks_for_api_build_and_a_second_run_adds_it_by_patch(world: World):
    url = "https://monitor.example.com/webhooks/heroku"
    old = world.sim.create_webhook(
        APP, include=["api:release", "dyno"], level="sync", url=url, secret="old"
    )
    settings = world.settings(heroku_webhook_secret=SECRET)
    assert cli.register_webhook(settings, APP, url) == 0
    (hook,) = world.sim.webhooks(APP)
    assert hook["id"] == old["id"] and "api:build" in hook["include"]  # updated, not made
    assert hook["secret"] == SECRET


@pytest.mark.parametrize(
    "button, header",
    [("failbuild", "💥 *Build Failed* 💥"), ("commit", "🚀 *New Deploy Detected* 🚀")],
)
def test_the_demo_buttons_push_a_build_and_its_alert_follows(
    world: World, button: str, header: str
):
    from tests.support.web import csrf_token

    service, monitor_id = world.baseline()
    service.simulator = world.heroku
    client = create_app(service).test_client()
    response = client.post(f"/demo/{button}", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 303
    service.checker.check(monitor_id)  # what the simulated app's webhook asks for
    wait_until(lambda: any(m["text"].startswith(header) for m in world.slack.messages))
    assert any("Commit: " in m["text"] for m in world.slack.messages)
    service.simulator = None
    service.stop()
