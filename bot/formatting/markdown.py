"""Markdown escaping for text people wrote, and Slack markup turned into plain words.

A post-mortem quotes what responders typed (notes, pinned messages, the narrative, action items). None of
it may change the document's structure: a `|` would split a table cell, a newline would end a list item or
a row, a leading `#` or `1.` would start a heading or a list, `<!channel>` would be raw HTML (or a ping if
the text went back to Slack). Everything here is pure and cheap: a 10,000-event timeline goes through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_INLINE = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>|~&"})
"""Characters with a meaning anywhere in a line (CommonMark + GFM tables and strikethrough, and HTML)."""
_LINE_START = re.compile(r"^(?:([#+\-=])|(\d{1,9})([.)]))")
"""What starts a heading, list item, setext underline or thematic break at the beginning of a line."""
_SLACK_MARKUP = re.compile(r"<([@#!])?([^<>|\s]+)(?:\|([^<>]*))?>")
_SAFE_URL = re.compile(r"https?://[^\s<>()\"'`\\]+")

SPECIAL_MENTIONS = {"channel", "here", "everyone"}


def slack_plain(text: object, names: Mapping[str, str] | None = None) -> str:
    """Slack message markup as the words a reader saw: `<@U1>` → `@name`, `<url|label>` → `label (url)`.

    Message and command text from Slack arrive with `&`, `<`, `>` entity-encoded; they are decoded last,
    so a literal `&lt;!channel&gt;` someone typed stays text and is escaped like any other text later.
    """
    if text is None:
        return ""
    names = names or {}

    def plain(match: re.Match[str]) -> str:
        sigil, target, label = match.group(1), match.group(2), match.group(3)
        if sigil == "@":
            return f"@{label.lstrip('@')}" if label else person_name(target, names)
        if sigil == "#":
            return f"#{label or target}"
        if sigil == "!":
            if label:  # <!subteam^S1|@team>, <!date^…|fallback>
                return label if label.startswith("@") or not target.startswith("subteam") else f"@{label}"
            name = target.split("^", 1)[0]
            return f"@{name}" if name in SPECIAL_MENTIONS else name
        if label and label != target:
            return f"{label} ({target})"
        return target

    text = _SLACK_MARKUP.sub(plain, str(text))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def person_name(user: str | None, names: Mapping[str, str] | None = None) -> str:
    """A Slack user id as `@U0ALICE000`, or the name the caller looked up; other text (a name a pager
    provider gave) as is. Never `<@…>`: the document is read outside Slack."""
    if not user:
        return "—"
    if names and user in names:
        return names[user]
    if re.fullmatch(r"[UW][A-Z0-9]{2,}", user):
        return f"@{user}"
    return user


def _escape_line(line: str) -> str:
    line = line.strip().translate(_INLINE)
    return _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", line)


def md_inline(text: object) -> str:
    """One line of escaped text: whitespace (newlines included) collapsed, every marker neutralised."""
    if text is None:
        return ""
    return _escape_line(" ".join(str(text).split()))


def md_cell(text: object) -> str:
    """A GFM table cell: escaped (pipes included), its lines joined with `<br>` so the row stays one row."""
    if text is None:
        return ""
    lines = [md_inline(line) for line in str(text).splitlines()]
    return "<br>".join(line for line in lines if line)


def _paragraphs(text: object) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for raw in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _escape_line(raw.replace("\t", "    "))
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def md_block(text: object) -> str:
    """Paragraphs of escaped text; a single newline stays a line break (a trailing `\\`), as typed.

    Continuation lines are not indented: place the result with Jinja's `indent` filter inside a list item.
    """
    if text is None:
        return ""
    return "\n\n".join("\\\n".join(lines) for lines in _paragraphs(text))


def md_quote(text: object) -> str:
    """A block quote (`> …`) of escaped text, line breaks kept."""
    if text is None:
        return ""
    quoted = [
        "\n".join(f"> {line}" for line in "\\\n".join(lines).split("\n")) for lines in _paragraphs(text)
    ]
    return "\n>\n".join(quoted)


def md_code(text: object) -> str:
    """A fenced code block that no content can close early (the fence is longer than any run inside)."""
    body = "" if text is None else str(text).replace("\r\n", "\n").rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def md_span(text: object) -> str:
    """Inline code that no content can close early; inside it nothing is escaped (nor needs to be)."""
    body = " ".join(("" if text is None else str(text)).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def md_link(url: object, label: str) -> str:
    """`[label](url)` for a plain http(s) URL; anything else as escaped text, never a broken link."""
    if not url:
        return ""
    url = str(url)
    if _SAFE_URL.fullmatch(url):
        return f"[{md_inline(label)}]({url})"
    return md_inline(url)
