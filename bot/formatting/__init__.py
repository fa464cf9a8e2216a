"""Text every surface shares (Slack messages, templates, post-mortems, the CLI): durations, times, mentions.

A leaf that imports nothing of the bot, so templating and the post-mortem can both use it without importing
each other. Markdown escaping for post-mortems lives beside it in `markdown.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def escape_mrkdwn(text: object) -> str:
    """Slack treats `<…>` as links/mentions, so user text could otherwise ping `<!channel>`."""
    if text is None:
        return ""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def human_duration(delta: timedelta | None) -> str:
    """Two adjacent units at most: an IC wants "1 h 5 min", not "3900 s" or "1 h 5 min 12 s"."""
    if delta is None:
        return "—"
    total = max(0, int(delta.total_seconds()))
    parts = [
        (total // 86400, "d"),
        (total % 86400 // 3600, "h"),
        (total % 3600 // 60, "min"),
        (total % 60, "s"),
    ]
    first = next((i for i, (value, _) in enumerate(parts) if value), len(parts) - 1)
    shown = [f"{value} {unit}" for value, unit in parts[first : first + 2] if value]
    return " ".join(shown) or "0 s"


def to_local(dt: datetime, zone: Any) -> datetime:
    """Stored times are UTC; SQLite may hand them back naive, which still means UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(zone)


def user_mention(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "—"


def status_label(status: str | None) -> str:
    """Status ids are `snake_case` in config; people read "Investigating"."""
    if not status:
        return "—"
    return status.replace("_", " ").title()
