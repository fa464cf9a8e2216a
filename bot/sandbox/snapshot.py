"""What one user of the stand-in workspace sees right now, as JSON for the sandbox page.

Read-only: built from the `Workspace` the Web API stand-in keeps, with Slack's visibility rules —
public channels for everyone, private ones for their members, the bot's DMs for the person they are
with, ephemeral messages only for their recipient.
"""

from __future__ import annotations

from typing import Any

from bot.standin import Channel, Message, Workspace

FILES_PATH = "/sandbox/api/files/"


def can_see(ws: Workspace, user_id: str, channel: Channel) -> bool:
    if channel.is_im or channel.is_mpim:
        return user_id in channel.members
    return not channel.is_private or user_id in channel.members


def _channel_name(ws: Workspace, channel: Channel) -> str:
    if channel.is_im:
        other = ws.users.get(channel.dm_user or "")
        return ws.bot_name if other is None or not other.is_bot else channel.name
    return channel.name


def _latest(channel: Channel, user_id: str) -> str:
    """The newest top-level message from someone else: what makes a channel "unread"."""
    for message in reversed(channel.messages):
        if not message.is_reply and message.user != user_id and message.subtype != "channel_join":
            return message.ts
    return ""


def channel_json(ws: Workspace, user_id: str, channel: Channel) -> dict[str, Any]:
    kind = "im" if channel.is_im else "private" if channel.is_private else "public"
    return {
        "id": channel.id,
        "name": _channel_name(ws, channel),
        "kind": kind,
        "member": user_id in channel.members,
        "archived": channel.is_archived,
        "topic": channel.topic,
        "purpose": channel.purpose,
        "num_members": len(channel.members),
        "pins": len(channel.pins),
        "latest": _latest(channel, user_id),
        "created": channel.created,
    }


def message_json(ws: Workspace, user_id: str, message: Message, pins: set[str]) -> dict[str, Any]:
    data = message.to_api(ws)
    author = ws.users.get(message.user)
    data.update(
        channel=message.channel,
        author={
            "id": message.user,
            "name": author.real_name if author else message.user,
            "is_bot": bool(author and author.is_bot),
        },
        pinned=message.ts in pins,
        ephemeral=message.ephemeral_to is not None,
        reactions=[
            {"name": name, "count": len(users), "users": list(users), "mine": user_id in users}
            for name, users in message.reactions.items()
            if users
        ],
        files=[
            {
                "id": f.get("id"),
                "name": f.get("name"),
                "title": f.get("title") or f.get("name"),
                "size": ws.files[f["id"]].length if f.get("id") in ws.files else f.get("size"),
                "url": f"{FILES_PATH}{f.get('id')}",
            }
            for f in message.files
        ],
    )
    return data


def snapshot(
    ws: Workspace, user_id: str, channel_id: str | None = None, thread_ts: str | None = None
) -> dict[str, Any]:
    """The page's whole state for `user_id`, with the messages of `channel_id` and the open thread."""
    visible = [c for c in ws.channels.values() if can_see(ws, user_id, c)]
    channel = ws.channels.get(channel_id or "")
    if channel is None or not can_see(ws, user_id, channel):
        channel = ws.channel_by_name("general") or (visible[0] if visible else None)
    data: dict[str, Any] = {
        "team": {"id": ws.team_id, "name": ws.team_name},
        "bot_user_id": ws.bot_user_id,
        "me": user_id,
        "users": [
            {
                "id": u.id,
                "name": u.name,
                "real_name": u.real_name,
                "display_name": u.display_name,
                "is_bot": u.is_bot,
            }
            for u in ws.users.values()
            if not u.deleted
        ],
        "usergroups": [{"id": g.id, "handle": g.handle, "name": g.name} for g in ws.usergroups.values()],
        "channels": [channel_json(ws, user_id, c) for c in visible],
        "channel_names": {
            c.id: c.name for c in ws.channels.values() if can_see(ws, user_id, c) and not c.is_im
        },
        "channel": None,
        "messages": [],
        "thread": None,
        "views": [
            {**v.to_api(ws), "is_open": v.is_open}
            for v in ws.views.values()
            if v.user == user_id and v.is_open and v.type == "modal"
        ],
    }
    if channel is None:
        return data
    pins = set(channel.pins)
    messages = [m for m in channel.messages if not m.is_reply]
    ephemerals = ws.ephemerals.get((channel.id, user_id), [])
    timeline = sorted([*messages, *ephemerals], key=lambda m: float(m.ts))
    data["channel"] = channel_json(ws, user_id, channel)
    data["messages"] = [message_json(ws, user_id, m, pins) for m in timeline]
    if thread_ts and channel.find(thread_ts) is not None:
        data["thread"] = {
            "ts": thread_ts,
            "messages": [message_json(ws, user_id, m, pins) for m in channel.thread(thread_ts)],
        }
    return data
