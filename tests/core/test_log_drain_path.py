"""The drain's hot path (`count_logplex`, SPEC §12: 100,000 lines a second) counts a
Logplex body exactly as `count(parse_logplex(body).lines)` does, junk included."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from heroku_monitor.core.logs.count import Counted, count, count_logplex
from heroku_monitor.core.logs.parse import parse_logplex
from tests.support.logplex import H12, OK, R14, body, frame

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TOKEN = "d.73ea7440-270a-435a-a0ea-adf50b4e5f5a"
OTHER = "d.9173ea1f-6f14-4976-9cf0-7cd0dafdcdbc"
APP_500 = OK.replace("status=200", "status=500").replace('path="/"', 'path="/boom"')


def storm() -> bytes:
    frames = []
    for i in range(200):
        at = T0 + timedelta(seconds=i)
        message = (H12, OK, APP_500)[i % 3].replace('path="/"', f'path="/p/{i % 13}"')
        frames.append(frame(message, at, host=(TOKEN, OTHER, "host")[i % 5 % 3]))
    frames.append(frame(R14, T0, proc="web.2"))
    frames.append(frame("State changed from up to down", T0, app="app", proc="web.1"))
    return body(*frames)


def mutated(seed: int) -> bytes:
    rng = random.Random(seed)
    data = bytearray(storm())
    for _ in range(rng.randint(1, 12)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data[: rng.randrange(len(data) + 1)])


BODIES = [
    b"",
    b"\n \r\n",
    b"not logplex at all",
    b"999 <1>1 truncated",
    "é".encode("latin-1") * 50,
    storm(),
    frame(H12, T0).replace(b"+00:00", b"+01:00"),
    frame(H12, datetime(1, 1, 1, tzinfo=UTC)).replace(b"+00:00", b"+01:00"),
    frame(H12, T0).replace(b"<158>", "<1²8>".encode()),  # a digit int() cannot read
    frame(H12, T0).replace(b"<158>", "<١٥٨>".encode()),  # Arabic-Indic digits: it can
    *(mutated(seed) for seed in range(60)),
]


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("data", BODIES)
def test_the_drains_hot_path_counts_as_parse_then_count_does(data: bytes, token: str | None):
    batch = parse_logplex(data)
    expected = Counted(count(batch.lines, token), len(batch.lines), batch.malformed)
    assert count_logplex(data, token) == expected
