"""What every Web API method family shares: typed arguments, handler registration, common lookups.

Split out of the method tables so that each family module (chat, conversations, views, ...) reads as
Slack's rules for that family alone, and the lookups that decide `channel_not_found` versus
`not_in_channel` are written once.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from bot.standin.state import Channel, Message, SlackError, Workspace


class Args:
    """Typed access to a call's arguments, which arrive as strings, lists or JSON values."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __contains__(self, name: str) -> bool:
        return self.data.get(name) is not None

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else str(value)

    def required(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.str(name)
        if not value:
            raise SlackError(error, messages=[f"missing required field: {name}"])
        return value

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def int(self, name: str, default: int) -> int:
        value = self.data.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise SlackError("invalid_arguments", messages=[f"{name} must be an integer"]) from exc

    def json(self, name: str, error: str = "invalid_arguments") -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise SlackError(error, messages=[f"{name} is not valid JSON: {exc.msg}"]) from exc
        return value

    def list(self, name: str) -> list[str]:
        """A list argument, given either as a JSON array or comma-separated like Slack's `users`."""
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return [part.strip() for part in str(value).split(",") if part.strip()]


Handler = Callable[[Workspace, Args], dict[str, Any]]


def registrar(table: dict[str, Handler]) -> Callable[[str], Callable[[Handler], Handler]]:
    """A `@method("chat.postMessage")` decorator filing handlers into `table` (one per family module)."""

    def method(name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            table[name] = handler
            return handler

        return register

    return method


# -- shared lookups -------------------------------------------------------------------------------


def visible_channel(ws: Workspace, args: Args, name: str = "channel") -> Channel:
    """The channel the call is about; private channels the bot is not in are invisible, as in Slack."""
    ref = args.str(name)
    channel = ws.resolve_channel(ref) if ref else None
    if channel is None or (channel.is_private and ws.bot_user_id not in channel.members):
        raise SlackError("channel_not_found")
    return channel


def member_channel(ws: Workspace, args: Args, name: str = "channel") -> Channel:
    channel = visible_channel(ws, args, name)
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def postable_channel(ws: Workspace, args: Args) -> Channel:
    """Where chat.postMessage goes: a channel id or `#name`, or a user id meaning the bot's DM."""
    ref = args.str("channel") or ""
    if ref in ws.users:
        channel = ws.dm_channel(ref)
        assert channel is not None
        return channel
    found = ws.resolve_channel(ref) if ref else None
    if found is None:
        raise SlackError("channel_not_found")
    if found.is_private and ws.bot_user_id not in found.members:
        raise SlackError("not_in_channel")
    if found.is_archived:
        raise SlackError("is_archived")
    return found


def find_message(channel: Channel, ts: str | None) -> Message:
    found = channel.find(ts or "")
    if found is None:
        raise SlackError("message_not_found")
    return found


def check_thread(channel: Channel, thread_ts: str | None) -> None:
    """Refuse replies to messages that do not exist.

    Slack itself accepts a well-formed but unknown thread_ts and files the reply where nobody sees
    it; refusing makes that silent bug visible in tests.
    """
    if thread_ts and channel.find(thread_ts) is None:
        raise SlackError(
            "invalid_thread_ts",
            messages=[f"no message {thread_ts} in {channel.id}; Slack would hide this reply"],
        )


def known_user(ws: Workspace, user_id: str | None) -> str:
    if not user_id or user_id not in ws.users:
        raise SlackError("user_not_found")
    return user_id


def paginate(items: list[Any], args: Args, default_limit: int = 100) -> tuple[list[Any], dict[str, str]]:
    """Cursor pagination in Slack's shape: opaque cursor, `response_metadata.next_cursor` empty at the end."""
    limit = args.int("limit", default_limit) or len(items) or 1
    cursor = args.str("cursor")
    start = 0
    if cursor:
        try:
            start = int(base64.b64decode(cursor).decode().split(":", 1)[1])
        except (ValueError, IndexError) as exc:
            raise SlackError("invalid_cursor") from exc
    page = items[start : start + limit]
    following = start + limit
    next_cursor = base64.b64encode(f"next:{following}".encode()).decode() if following < len(items) else ""
    return page, {"next_cursor": next_cursor}
