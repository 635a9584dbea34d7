"""The deploy pipeline (SPEC section 14), the pure part: build output as the alert shows it,
when polling reads an app's builds, and the commits behind a release. No I/O, no clock.

Build output is the team's own and may print anything. Its last lines go to the channel
as they are: only ANSI escape codes (colours, cursor moves) are removed (`strip_ansi`).

Polling reads an app's builds once every `BUILDS_EVERY` rounds that app takes part in
(`builds_due`), spread over the rounds by the app's id, so a round of N apps reads about
N / 20 build lists: 0.05 requests an app a round, and a failed build is found within 20 of
the app's rounds (an hour at a 3-minute interval). With the `api:build` webhook it arrives in
seconds: a delivery triggers a full check, and a full check reads the builds.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime

from heroku_monitor.core import detect
from heroku_monitor.core.snapshot import AppSnapshot, Release

# The incident family a failed build opens, and the kinds that open and end it.
BUILD = "build"
OPENS = {detect.BUILD_FAILED: BUILD}
CLOSES = {detect.BUILD_SUCCEEDED: BUILD}
KINDS = (detect.BUILD_FAILED, detect.BUILD_SUCCEEDED)

OUTPUT_LINES = 20  # SPEC §14: the last 20 lines of a failed build's output
BUILDS_EVERY = 20  # rounds between two reads of an app's builds: 0.05 requests a round
BUILDS_READ = 5  # builds one read asks for, newest first (one request whatever the number)

# ECMA-48 escapes: CSI (`ESC [ … final`, colours and cursor moves), OSC (`ESC ] … BEL` or
# `ESC \\`, e.g. terminal titles and links), and the other two-character escapes; plus the
# 8-bit CSI (0x9b). https://en.wikipedia.org/wiki/ANSI_escape_code
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]"  # the other Fe escapes
    r"|\x1b[ -/]*[0-~]"  # nF and Fp escapes (charset selection, keypad modes)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)


def strip_ansi(text: str) -> str:
    """`text` without its ANSI escape codes; nothing else is removed."""
    return _ANSI.sub("", text)


def output_tail(text: str, *, lines: int = OUTPUT_LINES, partial: bool = False) -> tuple[str, ...]:
    """The last `lines` lines of build output `text`, ANSI codes removed. `partial`: `text`
    starts mid-stream (the tail of a longer output), so its first line is cut and dropped.
    Line ends are `\\n` (a `\\r\\n` counts as one); the final newline ends the last line."""
    split = strip_ansi(text).split("\n")
    if partial and len(split) > 1:
        split = split[1:]
    if split and split[-1] == "":
        split = split[:-1]
    kept = [line.removesuffix("\r") for line in split[-lines:]] if lines > 0 else []
    return tuple(kept)


def builds_due(app_id: str, round_number: int, *, every: int = BUILDS_EVERY) -> bool:
    """Whether the app `app_id` reads its builds in its `round_number`th polling round (a
    count of the rounds it took part in, not of all rounds: an app polled every 5th round
    could otherwise always miss its turn): one round in `every`, each app in its own (a
    stable hash of its id), so a round of N apps reads about N / `every` build lists."""
    if every <= 1:
        return True
    return zlib.crc32(app_id.encode()) % every == round_number % every


# A read of an app's builds comes `rounds_between(app)` of its polling rounds after the last:
# 16 to 24 (20 on average: 0.05 requests an app a round), so that apps first read together
# drift apart instead of reading all in one round.
SPREAD = 9


def rounds_between(app_id: str, *, every: int = BUILDS_EVERY) -> int:
    """How many of the app's rounds pass between two reads of its builds (a stable
    hash of its id picks it in `every - SPREAD // 2 … every + SPREAD // 2`)."""
    return every - SPREAD // 2 + zlib.crc32(app_id.encode()) % SPREAD


def round_of(moment: datetime, interval_minutes: int) -> int:
    """The number of the app's polling round at `moment`: how many of its intervals have
    passed since the epoch. An app checked once an interval counts its own rounds so, with
    no counter kept (`builds_due(app_id, round_of(now, monitor.check_interval))`)."""
    return int(moment.timestamp() // (max(1, interval_minutes) * 60))


def sha7(commit: str) -> str:
    """A commit as Heroku and git show it short: its first 7 characters."""
    return commit[:7]


def first_line(description: str) -> str:
    """The first line of a commit message ("" for none)."""
    return description.strip().split("\n", 1)[0].strip() if description else ""


# GitHub's rules: an owner is 1-39 letters, digits or single hyphens, not at either end; a
# repository name 1-100 letters, digits, `.`, `_` or `-` (not `.` or `..`).
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


def repository_error(value: str) -> str | None:
    """None when `value` is a GitHub repository as `owner/name`, else one sentence."""
    owner, slash, name = value.partition("/")
    if slash and _OWNER.fullmatch(owner) and _NAME.fullmatch(name) and name not in (".", ".."):
        return None
    return "A repository is owner/name as on GitHub, for example heroku/node-js-getting-started."


def normal_repository(value: str) -> str:
    """`value` as kept: without surrounding spaces, a trailing `.git`, or GitHub's URL
    before it (what a person pastes from the address bar)."""
    text = value.strip().removesuffix("/").removesuffix(".git")
    for prefix in ("https://github.com/", "http://github.com/", "github.com/"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    return text


_SHA = re.compile(r"[0-9a-fA-F]{7,64}")


def commit_url(repository: str | None, commit: str) -> str | None:
    """`https://github.com/{owner}/{name}/commit/{sha}`, or None without a repository or
    when `commit` is not a git hash (a build's version may be any text)."""
    if not repository or not _SHA.fullmatch(commit or ""):
        return None
    return f"https://github.com/{repository}/commit/{commit}"


def compare_url(repository: str | None, previous: str, commit: str) -> str | None:
    """`https://github.com/{owner}/{name}/compare/{previous}...{sha}`: what a deploy
    brought; None without a repository, or when either is unknown or they are the same."""
    if not repository or not (_SHA.fullmatch(previous or "") and _SHA.fullmatch(commit or "")):
        return None
    if previous == commit:
        return None
    return f"https://github.com/{repository}/compare/{previous}...{commit}"


def known_commits(snapshot: AppSnapshot | None) -> dict[str, tuple[str, str]]:
    """The commits a snapshot knows, by slug (or OCI image) id: what a check need not read
    again (`HerokuClient.snapshot(known=…)`)."""
    if snapshot is None:
        return {}
    return {
        artifact: (r.commit, r.commit_description)
        for r in snapshot.releases
        if r.commit and (artifact := r.slug_id or r.image_id)
    }


def artifacts_to_read(
    releases: tuple[Release, ...] | list[Release], known: set[str] | frozenset[str]
) -> list[str]:
    """The slug (or OCI image) ids whose commit a read of `releases` must ask for: the
    newest release's, and the newest succeeded one's when it is another, unless `known`
    (one request per deploy, not per round). Newest first."""
    ordered = sorted(releases, key=lambda r: -r.version)
    wanted: list[Release] = ordered[:1]
    succeeded = next((r for r in ordered if r.status == "succeeded"), None)
    if succeeded is not None and succeeded not in wanted:
        wanted.append(succeeded)
    found: list[str] = []
    for release in wanted:
        artifact = release.slug_id or release.image_id
        if artifact and not release.commit and artifact not in known and artifact not in found:
            found.append(artifact)
    return found
