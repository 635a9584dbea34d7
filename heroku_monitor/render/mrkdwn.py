"""Slack mrkdwn as safe HTML, read the way Slack shows it, or as one plain line. Pure.

The alert log keeps each alert's Slack `text`: mrkdwn, in which Heroku's strings are escaped
(`&amp; &lt; &gt;`) and `<…>` is Slack's own markup (links, dates, mentions). `to_html` reads it
the way Slack does: markup first, then the escapes undone once, then everything HTML-escaped,
and only then *bold*, _italic_, ~strike~ and `code` put back as tags. Lines that start with
"• " become a list; other lines keep their breaks. A link becomes an `<a>` only for http and
https; any other target shows as its label.

https://docs.slack.dev/messaging/formatting-message-text
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# Slack's markup: <…> with no "<" or newline inside (Heroku text reaches us escaped).
_MARKUP = re.compile(r"<([^<>\n]*)>")
_CODE = re.compile(r"(?<![\w`])`([^`\n]+)`(?![\w`])")
# *bold*, _italic_, ~strike~: the marks hug the words and stand apart from words around them.
_STYLES = (
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), "del"),
)
_SLOT = "\x00{}\x00"
_SLOT_RE = re.compile("\x00(\\d+)\x00")
_BULLET = "• "
# For `to_plain`: a labelled link, and a lone style mark next to a word.
_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>")
_STYLE_MARK = re.compile(r"(?<!\w)[*_~](?=\S)|(?<=\S)[*_~](?!\w)")


def unescape(text: str) -> str:
    """Undo Slack's three escapes, once (`&amp;lt;` becomes `&lt;`, not `<`)."""
    return re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)


def _markup_html(inner: str) -> str:
    """HTML for one `<…>` of Slack markup."""
    target, _, label = inner.partition("|")
    if target.startswith("!date^"):
        return str(escape(unescape(label or target)))
    if target.startswith("!"):
        # <!channel>, <!here>, <!subteam^ID|@team>: a mention, shown as text.
        name = label or target[1:].split("^")[0]
        return str(escape("@" + unescape(name).lstrip("@")))
    if target.startswith(("@", "#")):
        return str(escape(unescape(label) if label else target))
    url = unescape(target)
    text = unescape(label) if label else url
    if re.match(r"^https?://", url, re.IGNORECASE):
        return str(
            Markup('<a href="{}" rel="noopener noreferrer nofollow">{}</a>').format(url, text)
        )
    return str(escape(text))


def _styled(text: str) -> str:
    """HTML for a run of plain mrkdwn (no `<…>` in it): escaped, then styled."""
    html = str(escape(unescape(text)))
    pieces = _CODE.split(html)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(f"<code>{piece}</code>")
            continue
        for pattern, tag in _STYLES:
            piece = pattern.sub(rf"<{tag}>\1</{tag}>", piece)
        out.append(piece)
    return "".join(out)


def _line_html(line: str) -> str:
    links: list[str] = []

    def slot(match: re.Match[str]) -> str:
        links.append(_markup_html(match.group(1)))
        return _SLOT.format(len(links) - 1)

    html = _styled(_MARKUP.sub(slot, line))
    return _SLOT_RE.sub(lambda m: links[int(m.group(1))], html)


def to_html(text: str | None) -> Markup:
    """`text` (Slack mrkdwn) as safe HTML."""
    out: list[str] = []
    items: list[str] = []
    plain: list[str] = []

    def flush_plain() -> None:
        if plain:
            out.append("<p>" + "<br>\n".join(plain) + "</p>")
            plain.clear()

    def flush_items() -> None:
        if items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in (text or "").replace("\x00", "").replace("\r\n", "\n").split("\n"):
        if line.startswith(_BULLET):
            flush_plain()
            items.append(_line_html(line[len(_BULLET) :]))
        else:
            flush_items()
            plain.append(_line_html(line))
    flush_plain()
    flush_items()
    return Markup("\n".join(out))


def to_plain(text: str) -> str:
    """`text` (Slack mrkdwn) as one plain line, for a tooltip: links by their label, no
    `*bold*` marks, lines joined with " · ", Slack's escapes undone (not HTML-escaped: the
    caller escapes it for where it goes)."""
    lines = []
    for raw in text.splitlines():
        line = _LINK.sub(lambda m: m.group(2), raw)
        line = " ".join(_STYLE_MARK.sub("", line).split())
        if line:
            lines.append(unescape(line))
    return " · ".join(lines)
