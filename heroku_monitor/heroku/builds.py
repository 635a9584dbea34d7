"""Build and release-phase output (SPEC section 14): the last lines of an `output_stream_url`.

Heroku streams a build's output (and a release phase's) from another host
(`build-output.heroku.com`, `release-output.heroku.com`) as `text/plain`; a client "can
resume the stream by sending a `Range` header" (the Platform API's schema). So the tail is
asked for with a suffix range (`Range: bytes=-65536`): a server that honours it sends only
the end; one that does not sends it all, of which at most `MAX_BYTES` are read (keeping the
last `TAIL_BYTES`). Every read has a timeout and a deadline, and never sends the Heroku
token: the stream's URL is its own credential. What was read is kept in a small cache (an
output that ended does not change), failures too, so a check never reads one twice.

What the monitor does with it is `core.builds.output_tail`: ANSI codes removed, the last 20
lines, nothing else stripped.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from urllib.parse import urlsplit

import requests

from heroku_monitor.core.builds import OUTPUT_LINES, output_tail
from heroku_monitor.heroku.transport import USER_AGENT

TAIL_BYTES = 64 * 1024  # the end of an output that 20 lines come from, with room to spare
MAX_BYTES = 4 * 1024 * 1024  # read at most this much of a stream that ignores the range
TIMEOUT = (3.05, 5.0)  # connect, read (each chunk)
DEADLINE = 8.0  # seconds for one whole read
CACHE_SIZE = 256  # outputs kept (their last lines only)
CHUNK = 16 * 1024

Tail = tuple[tuple[str, ...], str]  # (the last lines, why they could not be read or "")


class OutputReader:
    """Reads the last lines of output streams; thread-safe."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = TIMEOUT,
        deadline: float = DEADLINE,
        tail_bytes: int = TAIL_BYTES,
        max_bytes: int = MAX_BYTES,
        lines: int = OUTPUT_LINES,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.tail_bytes = tail_bytes
        self.max_bytes = max_bytes
        self.lines = lines
        self.cache_size = cache_size
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "text/plain"})
        self._cache: OrderedDict[str, Tail] = OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0  # streams read (not answered from the cache)

    def tail(self, url: str) -> Tail:
        """(the last lines of the output at `url`, "") or ((), why it could not be read)."""
        with self._lock:
            if url in self._cache:
                self._cache.move_to_end(url)
                return self._cache[url]
        found = self._read(url)
        with self._lock:
            self._cache[url] = found
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return found

    def _read(self, url: str) -> Tail:
        if urlsplit(url).scheme not in ("http", "https"):
            return (), "its URL is not http(s)"
        self.reads += 1
        started = time.monotonic()
        try:
            with self.session.get(
                url,
                headers={"Range": f"bytes=-{self.tail_bytes}"},
                stream=True,
                timeout=self.timeout,
            ) as response:
                if response.status_code == 416:  # nothing to give a range of: no output
                    return (), ""
                if response.status_code not in (200, 206):
                    return (), f"the output stream answered HTTP {response.status_code}"
                whole = response.status_code == 200 or response.headers.get(
                    "Content-Range", ""
                ).startswith("bytes 0-")
                kept = bytearray()
                read = 0
                for chunk in response.iter_content(CHUNK):
                    read += len(chunk)
                    kept += chunk
                    if len(kept) > 2 * self.tail_bytes:
                        del kept[: len(kept) - self.tail_bytes]
                    if read > self.max_bytes:
                        return (), f"it is longer than {self.max_bytes // (1024 * 1024)} MB"
                    if time.monotonic() - started > self.deadline:
                        return (), f"it took longer than {self.deadline:g} s to read"
        except requests.Timeout:
            return (), "the output stream did not answer in time"
        except requests.RequestException:
            return (), "the output stream could not be reached"
        partial = not whole or read > self.tail_bytes  # it starts mid-line
        text = bytes(kept[-self.tail_bytes :]).decode("utf-8", errors="replace")
        return output_tail(text, lines=self.lines, partial=partial), ""

    def close(self) -> None:
        self.session.close()
