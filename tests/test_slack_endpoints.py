"""What reaches `/slack/commands` before Slack's signature is checked: junk gets a 4xx and
one short log line, never a traceback; and the Bolt app starts without a word."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import requests

from heroku_monitor import service as service_module
from heroku_monitor.runtime.slack_app import bolt_log
from tests.support.slack import SECRET
from tests.support.web import LiveSite, wait_until
from tests.support.world import World


@pytest.fixture
def site(world: World) -> Iterator[LiveSite]:
    with LiveSite(world.service(slack_signing_secret=SECRET)) as live:
        yield live


JUNK = {
    "a timestamp that is not a number": (
        {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"},
        b"command=%2Fheroku-status",
    ),
    "JSON that is not JSON": ({"Content-Type": "application/json"}, b"{not json"),
    "no signature at all": ({}, b"command=%2Fheroku-status&text=my-app"),
    "a signature that is not ASCII": (
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=\xe9\xe9"},
        b"command=%2Fheroku-status",
    ),
    "a 5,000-digit timestamp": (
        {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0=" + "0" * 64},
        b"command=%2Fheroku-status",
    ),
    "a forged signature": (
        {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": "v0=" + "0" * 64},
        b"command=%2Fheroku-status",
    ),
}


@pytest.mark.parametrize("junk", list(JUNK))
def test_unsigned_junk_gets_401_and_one_short_log_line(
    site: LiveSite, junk: str, caplog: pytest.LogCaptureFixture
):
    headers, body = JUNK[junk]
    with caplog.at_level(logging.INFO):
        response = requests.post(f"{site.url}/slack/commands", data=body, headers=headers)
    assert response.status_code == 401
    ours = [r for r in caplog.records if r.name.startswith("heroku_monitor")]
    assert len(ours) == 1 and ours[0].levelno == logging.INFO
    assert len(ours[0].getMessage()) < 200 and not ours[0].exc_info


def test_a_body_over_the_size_limit_is_refused_before_it_is_read_whole(site: LiveSite):
    def ten_megabytes() -> Iterator[bytes]:  # sent chunked: no Content-Length to check
        for _ in range(160):
            yield b"x" * 65536

    # Headers that look signed, so the body must be read to check them.
    now = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64}
    try:
        response = requests.post(
            f"{site.url}/slack/commands", data=ten_megabytes(), headers=headers, timeout=30
        )
    except requests.ConnectionError:
        return  # the server closed the connection while the client was still sending
    assert response.status_code in (401, 413)  # the read stops at the 1 MB limit


def test_twenty_unsigned_megabytes_write_twenty_short_log_lines(
    site: LiveSite, caplog: pytest.LogCaptureFixture
):
    body = b"text=" + b"a" * (1024 * 1024 - 100)
    wait_until(lambda: site.service.scheduler.rounds >= 1)  # its Heroku requests' lines
    with caplog.at_level(logging.DEBUG):
        for _ in range(20):
            requests.post(f"{site.url}/slack/commands", data=body)
    # What the requests wrote: not the scheduler's own lines about its jobs meanwhile.
    said = [r for r in caplog.records if not r.name.startswith("apscheduler")]
    logged = sum(len(r.getMessage()) for r in said)
    assert logged < 20 * 300, f"{logged} characters of log for 20 refused requests"


def test_the_slack_app_is_built_without_a_warning(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", world.slack.token)  # as on Heroku
    with caplog.at_level(logging.DEBUG, logger=bolt_log.name):
        service = service_module.build(world.settings(slack_signing_secret=SECRET))
    service.stop()
    assert service.bolt is not None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
