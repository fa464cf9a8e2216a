"""`pins.*` and `reactions.*`: the marks left on an existing message.

Both address a message by channel and `timestamp`, and both refuse doing the same thing twice
(`already_pinned`, `already_reacted`).
"""

from __future__ import annotations

from typing import Any

from bot.standin.methods.calls import Args, Handler, find_message, member_channel, registrar, visible_channel
from bot.standin.state import Message, SlackError, Workspace

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)


@method("pins.add")
def pins_add(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = member_channel(ws, args)
    message = find_message(channel, args.str("timestamp"))
    if message.ts in channel.pins:
        raise SlackError("already_pinned")
    channel.pins.add(message.ts)
    return {}


@method("pins.remove")
def pins_remove(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = member_channel(ws, args)
    message = find_message(channel, args.str("timestamp"))
    if message.ts not in channel.pins:
        raise SlackError("no_pin")
    channel.pins.discard(message.ts)
    return {}


@method("pins.list")
def pins_list(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    items = []
    for ts in sorted(channel.pins, key=float):
        message = channel.find(ts)
        if message is not None:
            items.append(
                {
                    "type": "message",
                    "channel": channel.id,
                    "created": int(float(ts)),
                    "created_by": ws.bot_user_id,
                    "message": message.to_api(ws),
                }
            )
    return {"items": items}


def _reaction_target(ws: Workspace, args: Args) -> tuple[Message, str]:
    channel = visible_channel(ws, args)
    message = find_message(channel, args.str("timestamp"))
    name = (args.str("name") or "").strip(":")
    if not name:
        raise SlackError("invalid_name")
    return message, name


@method("reactions.add")
def reactions_add(ws: Workspace, args: Args) -> dict[str, Any]:
    message, name = _reaction_target(ws, args)
    users = message.reactions.setdefault(name, [])
    if ws.bot_user_id in users:
        raise SlackError("already_reacted")
    users.append(ws.bot_user_id)
    return {}


@method("reactions.remove")
def reactions_remove(ws: Workspace, args: Args) -> dict[str, Any]:
    message, name = _reaction_target(ws, args)
    users = message.reactions.get(name, [])
    if ws.bot_user_id not in users:
        raise SlackError("no_reaction")
    users.remove(ws.bot_user_id)
    if not users:
        del message.reactions[name]
    return {}


@method("reactions.get")
def reactions_get(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    message = find_message(channel, args.str("timestamp"))
    return {"type": "message", "channel": channel.id, "message": message.to_api(ws)}
