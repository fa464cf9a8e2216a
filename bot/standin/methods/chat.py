"""`chat.*`: posting, updating, deleting messages and their permalinks.

Where Slack checks a message's text, blocks and attachments before accepting it (via `blockkit`).
"""

from __future__ import annotations

from typing import Any

from bot.standin.blockkit import message_error
from bot.standin.methods.calls import (
    Args,
    Handler,
    check_thread,
    find_message,
    known_user,
    postable_channel,
    registrar,
    visible_channel,
)
from bot.standin.state import SlackError, Workspace

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)


def _check_message(args: Args) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    text = args.str("text") or ""
    blocks = args.json("blocks", error="invalid_blocks_format")
    attachments = args.json("attachments", error="invalid_attachments")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format", messages=["blocks must be an array"])
    problem = message_error(text, blocks, attachments=attachments)
    if problem is not None:
        code, messages = problem
        raise SlackError(code, messages=messages)
    return text, list(blocks or []), list(attachments or [])


@method("chat.postMessage")
def chat_post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = postable_channel(ws, args)
    text, blocks, attachments = _check_message(args)
    thread_ts = args.str("thread_ts")
    check_thread(channel, thread_ts)
    metadata = args.json("metadata")
    message = ws.add_message(
        channel.id,
        ws.bot_user_id,
        text,
        blocks,
        thread_ts=thread_ts,
        attachments=attachments,
        metadata=metadata if isinstance(metadata, dict) else None,
    )
    return {"channel": channel.id, "ts": message.ts, "message": message.to_api(ws)}


@method("chat.update")
def chat_update(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    message = find_message(channel, args.str("ts"))
    if message.user != ws.bot_user_id:
        raise SlackError("cant_update_message")
    text, blocks, attachments = _check_message(args)
    if "text" in args:
        message.text = text
    if "blocks" in args:
        message.blocks = ws.assign_block_ids(blocks)
    if "attachments" in args:
        message.attachments = attachments
    message.edited = True
    message.edited_ts = ws.next_ts()
    return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": message.to_api(ws)}


@method("chat.postEphemeral")
def chat_post_ephemeral(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = postable_channel(ws, args)
    user = known_user(ws, args.str("user"))
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks, _ = _check_message(args)
    message = ws.add_ephemeral(channel.id, user, text, blocks)
    return {"message_ts": message.ts}


@method("chat.delete")
def chat_delete(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    message = find_message(channel, args.str("ts"))
    if message.user != ws.bot_user_id:
        raise SlackError("cant_delete_message")
    channel.messages.remove(message)
    channel.pins.discard(message.ts)
    return {"channel": channel.id, "ts": message.ts}


@method("chat.getPermalink")
def chat_get_permalink(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    message = find_message(channel, args.str("message_ts"))
    link = f"{ws.web_url}archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}
