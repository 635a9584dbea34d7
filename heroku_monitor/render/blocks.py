"""Block Kit within Slack's limits: measuring, cutting and building blocks. Pure.

A long list is cut at an item boundary with "…and N more", the items of the parts with the
lowest `priority` kept first; a single over-long item is cut at a word boundary, never inside
an escape such as `&amp;`. `messages.py` says what each message holds; this module makes it fit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from slack_sdk.models.blocks import (
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

Blocks = list[dict[str, Any]]

# Slack's limits, in characters (counted by `size`, never fewer than Slack counts).
# Documented: 50 blocks (https://docs.slack.dev/reference/block-kit/blocks), header text 150
# (.../blocks/header-block), section text 3,000 and at most 10 fields of 2,000 each
# (.../blocks/section-block); `text` past 40,000 is truncated (chat.postMessage).
# Undocumented: `msg_blocks_too_long`. Slack staff speak of "12,000 text characters with a
# buffer for block containers" (slackapi/bolt-js#2509) and one report (bolt-js#2867) had 11,341
# characters of block text refused, so the measure kept here is the stricter one: the blocks'
# compact JSON (`blocks_size`), at most 12,000.
MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3_000
MAX_FIELD = 2_000
MAX_FIELDS = 10
MAX_BLOCKS_JSON = 12_000

# One item (a release with its description, say) in `text` is cut past this, so that one
# absurd item cannot crowd the others out of the 40,000 characters.
TEXT_ITEM_LIMIT = 20_000


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters.

    https://api.slack.com/reference/surfaces/formatting#escaping
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def size(text: str) -> int:
    """The length of `text` as counted against Slack's limits: in UTF-16 code units, as
    JavaScript counts (an emoji counts 2), never less than Python's `len`."""
    return len(text.encode("utf-16-le")) // 2


def blocks_size(blocks: Blocks) -> int:
    """The measure held against `msg_blocks_too_long`: the blocks' compact JSON."""
    return size(json.dumps(blocks, ensure_ascii=False, separators=(",", ":")))


def problems(text: str, blocks: Blocks) -> list[str]:
    """Which of Slack's limits `text` and `blocks` break; empty when they fit."""
    found: list[str] = []
    if not text and not blocks:
        found.append("no text and no blocks")
    if size(text) > MAX_TEXT:
        found.append(f"text: {size(text)} > {MAX_TEXT}")
    if len(blocks) > MAX_BLOCKS:
        found.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    if blocks_size(blocks) > MAX_BLOCKS_JSON:
        found.append(f"blocks JSON: {blocks_size(blocks)} > {MAX_BLOCKS_JSON}")
    for i, block in enumerate(blocks):
        text_of = (block.get("text") or {}).get("text", "")
        limit = MAX_HEADER if block.get("type") == "header" else MAX_SECTION
        if size(text_of) > limit:
            found.append(f"blocks[{i}] text: {size(text_of)} > {limit}")
        fields = block.get("fields") or []
        if len(fields) > MAX_FIELDS:
            found.append(f"blocks[{i}]: {len(fields)} fields > {MAX_FIELDS}")
        for j, item in enumerate(fields):
            if size(item["text"]) > MAX_FIELD:
                found.append(f"blocks[{i}] field {j}: {size(item['text'])} > {MAX_FIELD}")
    return found


def clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit`, else cut at a word boundary with "…" (never inside an
    escape such as `&amp;`; mid-word only when a single word is longer than `limit`)."""
    if size(text) <= limit:
        return text
    room = max(0, limit - 1)
    cut = text[:room]
    while size(cut) > room:
        cut = cut[: len(cut) - (size(cut) - room)]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > 0:
        cut = cut[:space].rstrip()
    else:
        amp = cut.rfind("&")
        if amp != -1 and ";" not in cut[amp:]:
            cut = cut[:amp]
    return cut + "…"


# ---------------------------------------------------------------------- bodies and cutting


@dataclass(frozen=True)
class Part:
    """A piece of a message body: a line (`label` alone), or items under a label.

    Items are mrkdwn-safe (escaped). `inline` lists read `label a, b, c` on one line, others
    put each item on a line of its own after `bullet`. When items are cut, `omitted` counts
    them and a last "…and N more" says so. Items of parts with a lower `priority` are kept
    first.
    """

    label: str = ""
    items: tuple[str, ...] = ()
    inline: bool = False
    separator: str = ", "
    bullet: str = "• "
    priority: int = 1
    omitted: int = 0

    def lines(self, width: int | None, item_limit: int) -> list[str]:
        """The part's lines; an inline list is wrapped at `width` (None: never)."""
        items = [clip(item, item_limit) for item in self.items]
        more = [f"…and {self.omitted} more"] if self.omitted else []
        if not self.inline:
            head = [self.label] if self.label else []
            return head + [f"{self.bullet}{item}" for item in items + more]
        lines: list[str] = []
        line = self.label
        started = False  # an item is on `line` already
        for item in items + more:
            if not started:
                line = f"{line} {item}" if line else item
                started = True
                continue
            candidate = f"{line}{self.separator}{item}"
            if width is not None and size(candidate) > width:
                lines.append(line + self.separator.rstrip())
                line = item
            else:
                line = candidate
        lines.append(line)
        return lines


def lines_of(parts: Sequence[Part], width: int | None, item_limit: int) -> list[str]:
    return [line for part in parts for line in part.lines(width, item_limit)]


def keep(parts: Sequence[Part], k: int) -> list[Part]:
    """`parts` with only `k` items in all, kept by priority, then in order."""
    kept: dict[int, int] = {}
    left = k
    for i in sorted(range(len(parts)), key=lambda i: parts[i].priority):
        kept[i] = min(left, len(parts[i].items))
        left -= kept[i]
    return [
        replace(p, items=p.items[: kept[i]], omitted=p.omitted + len(p.items) - kept[i])
        for i, p in enumerate(parts)
    ]


T = TypeVar("T")


def fit(parts: Sequence[Part], build: Callable[[list[Part]], T], ok: Callable[[T], bool]) -> T:
    """`build(parts)`, with as many items as keep it `ok` (all of them when they fit)."""
    whole = build(list(parts))
    if ok(whole):
        return whole
    total = sum(len(p.items) for p in parts)
    lo, hi = 0, total - 1
    best = build(keep(parts, 0))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate = build(keep(parts, mid))
        if ok(candidate):
            lo, best = mid, candidate
        else:
            hi = mid - 1
    return best


def sections(lines: Sequence[str]) -> Blocks:
    """Section blocks holding `lines`, as few as fit Slack's 3,000 characters each, each
    cut between lines."""
    blocks: Blocks = []
    chunk: list[str] = []
    for line in lines:
        line = clip(line, MAX_SECTION)
        if chunk and size("\n".join([*chunk, line])) > MAX_SECTION:
            blocks.append(section_block("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section_block("\n".join(chunk)))
    return blocks


def section_block(text: str) -> dict[str, Any]:
    return SectionBlock(text=MarkdownTextObject(text=text)).to_dict()


def fields_block(*texts: str) -> dict[str, Any]:
    return SectionBlock(
        fields=[MarkdownTextObject(text=clip(t, MAX_FIELD)) for t in texts]
    ).to_dict()


def header_block(text: str) -> dict[str, Any]:
    return HeaderBlock(text=PlainTextObject(text=clip(text, MAX_HEADER))).to_dict()


def context_block(text: str) -> dict[str, Any]:
    return ContextBlock(elements=[MarkdownTextObject(text=text)]).to_dict()


def text_fits(text: str) -> bool:
    return size(text) <= MAX_TEXT


def blocks_fit(blocks: Blocks) -> bool:
    return not problems("-", blocks)


# Room an item may take in a block: a section, less its label.
BLOCK_ITEM_LIMIT = MAX_SECTION - 100


# ---------------------------------------------------------------------- code blocks

# Room a build's (or release phase's) output takes in a message: one section's worth,
# less the lines around it (SPEC §14: the last lines, fitted to Block Kit's limits).
CODE_BLOCK_LIMIT = MAX_SECTION - 200
FENCE = "```"


def code_block(lines: Sequence[str], limit: int = CODE_BLOCK_LIMIT) -> str:
    """`lines` as a mrkdwn code block of at most `limit` characters: the last lines kept
    (the end of an output says what went wrong), a first `…` line saying how many earlier
    ones did not fit, a line too long for the room cut at a word boundary. Each line is
    escaped (an output's `<!channel>` stays text) and a ``` in it is broken by a zero-width
    space, so the block cannot end early; nothing else is changed."""
    shown = [escape(line).replace(FENCE, "`\u200b``") for line in lines] or ["(no output)"]
    room = limit - size(f"{FENCE}\n\n{FENCE}")
    kept: list[str] = []
    used = 0
    for line in reversed(shown):
        cost = size(line) + (1 if kept else 0)
        if used + cost > room:
            break
        kept.insert(0, line)
        used += cost
    if not kept:  # the last line alone is longer than the room
        kept = [clip(shown[-1], max(1, room - 20))]
    dropped = len(shown) - len(kept)
    if dropped:
        note = f"… {dropped} earlier line{'s' if dropped != 1 else ''}"
        while kept and used + size(note) + 1 > room and len(kept) > 1:
            used -= size(kept.pop(0)) + 1
            dropped += 1
            note = f"… {dropped} earlier lines"
        kept.insert(0, note)
    return f"{FENCE}\n" + "\n".join(kept) + f"\n{FENCE}"
