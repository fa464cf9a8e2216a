"""`conversations.*`: creating, naming, archiving, joining and reading channels, DMs and group DMs.

The largest family, and the one with most of Slack's naming and membership rules.
"""

from __future__ import annotations

from typing import Any

from bot.standin.methods.calls import (
    Args,
    Handler,
    known_user,
    member_channel,
    paginate,
    registrar,
    visible_channel,
)
from bot.standin.state import Channel, Message, SlackError, Workspace

CHANNEL_NAME_MAX = 80
TOPIC_MAX = 250
PURPOSE_MAX = 250
INVITE_MAX = 1000

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)


def check_channel_name(name: str | None) -> str:
    """Slack's naming rules: lowercase, no spaces or punctuation besides - and _, at most 80 chars."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > CHANNEL_NAME_MAX:
        raise SlackError("invalid_name_maxlength")
    if not all(ch in "-_" or ch.isdigit() or (ch.isalpha() and ch == ch.lower()) for ch in name):
        raise SlackError("invalid_name_specials")
    if all(ch in "-_" for ch in name):
        raise SlackError("invalid_name_punctuation")
    return name


@method("conversations.create")
def conversations_create(ws: Workspace, args: Args) -> dict[str, Any]:
    name = check_channel_name(args.str("name"))
    if any(c.name == name for c in ws.channels.values()):
        raise SlackError("name_taken")
    channel = ws.add_channel(name, is_private=args.bool("is_private"), creator=ws.bot_user_id)
    return {"channel": channel.to_api(ws)}


@method("conversations.rename")
def conversations_rename(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = member_channel(ws, args)
    name = check_channel_name(args.str("name"))
    if any(c.name == name and c is not channel for c in ws.channels.values()):
        raise SlackError("name_taken")
    channel.name = name
    return {"channel": channel.to_api(ws)}


@method("conversations.archive")
def conversations_archive(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = member_channel(ws, args)
    if channel.is_general:
        raise SlackError("cant_archive_general")
    if channel.is_archived:
        raise SlackError("already_archived")
    channel.is_archived = True
    return {}


@method("conversations.unarchive")
def conversations_unarchive(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    if not channel.is_archived:
        raise SlackError("not_archived")
    channel.is_archived = False
    return {}


def _set_text(ws: Workspace, args: Args, field: str, limit: int) -> dict[str, Any]:
    channel = member_channel(ws, args)
    if channel.is_archived:
        raise SlackError("is_archived")
    value = args.str(field) or ""
    if len(value) > limit:
        raise SlackError("too_long")
    setattr(channel, field, value)
    return {"channel": channel.to_api(ws)}


@method("conversations.setTopic")
def conversations_set_topic(ws: Workspace, args: Args) -> dict[str, Any]:
    return _set_text(ws, args, "topic", TOPIC_MAX)


@method("conversations.setPurpose")
def conversations_set_purpose(ws: Workspace, args: Args) -> dict[str, Any]:
    return _set_text(ws, args, "purpose", PURPOSE_MAX)


@method("conversations.invite")
def conversations_invite(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = member_channel(ws, args)
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    users = list(dict.fromkeys(args.list("users")))
    if not users:
        raise SlackError("no_user")
    if len(users) > INVITE_MAX:
        raise SlackError("too_many_users")
    failures = []
    for user in users:
        if user == ws.bot_user_id:
            failures.append({"user": user, "ok": False, "error": "cant_invite_self"})
        elif user not in ws.users:
            failures.append({"user": user, "ok": False, "error": "user_not_found"})
    if failures:
        raise SlackError(str(failures[0]["error"]), extra={"errors": failures})
    if all(user in channel.members for user in users):
        raise SlackError(
            "already_in_channel",
            extra={"errors": [{"user": u, "ok": False, "error": "already_in_channel"} for u in users]},
        )
    channel.members.update(users)
    return {"channel": channel.to_api(ws)}


@method("conversations.kick")
def conversations_kick(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = member_channel(ws, args)
    user = known_user(ws, args.str("user"))
    if user == ws.bot_user_id:
        raise SlackError("cant_kick_self")
    if user not in channel.members:
        raise SlackError("not_in_channel")
    channel.members.discard(user)
    return {}


@method("conversations.join")
def conversations_join(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    if channel.is_private or channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    body: dict[str, Any] = {}
    if ws.bot_user_id in channel.members:
        body = {"warning": "already_in_channel", "response_metadata": {"warnings": ["already_in_channel"]}}
    channel.members.add(ws.bot_user_id)
    return {"channel": channel.to_api(ws), **body}


@method("conversations.leave")
def conversations_leave(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    if ws.bot_user_id not in channel.members:
        return {"not_in_channel": True}
    channel.members.discard(ws.bot_user_id)
    return {}


@method("conversations.info")
def conversations_info(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    return {"channel": channel.to_api(ws, num_members=args.bool("include_num_members"))}


@method("conversations.members")
def conversations_members(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args)
    members, metadata = paginate(sorted(channel.members), args)
    return {"members": members, "response_metadata": metadata}


@method("conversations.list")
def conversations_list(ws: Workspace, args: Args) -> dict[str, Any]:
    types = set(args.list("types") or ["public_channel"])
    exclude_archived = args.bool("exclude_archived")

    def visible(channel: Channel) -> bool:
        if exclude_archived and channel.is_archived:
            return False
        if channel.is_im:
            return "im" in types
        if channel.is_mpim:
            return "mpim" in types
        if channel.is_private:
            return "private_channel" in types and ws.bot_user_id in channel.members
        return "public_channel" in types

    listed = [c.to_api(ws, num_members=True) for c in ws.channels.values() if visible(c)]
    channels, metadata = paginate(listed, args)
    return {"channels": channels, "response_metadata": metadata}


@method("conversations.open")
def conversations_open(ws: Workspace, args: Args) -> dict[str, Any]:
    if "channel" in args:
        channel = visible_channel(ws, args)
        return {"channel": channel.to_api(ws) if args.bool("return_im") else {"id": channel.id}}
    users = [known_user(ws, u) for u in args.list("users")]
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 8:
        raise SlackError("too_many_users")
    if len(users) == 1:
        dm = ws.dm_channel(users[0])
        assert dm is not None
        return {"channel": dm.to_api(ws) if args.bool("return_im") else {"id": dm.id}}
    wanted = {ws.bot_user_id, *users}
    mpim = next((c for c in ws.channels.values() if c.is_mpim and c.members == wanted), None)
    if mpim is None:
        names = "--".join(sorted(ws.users[u].name for u in wanted))
        mpim = ws.add_channel(f"mpdm-{names}-1", is_private=True, members=wanted, channel_id=ws.new_id("G"))
        mpim.is_mpim = True
    return {"channel": mpim.to_api(ws) if args.bool("return_im") else {"id": mpim.id}}


def _window(messages: list[Message], args: Args) -> list[Message]:
    """Apply Slack's `oldest`/`latest`/`inclusive` bounds."""
    inclusive = args.bool("inclusive")
    oldest = float(args.str("oldest") or 0)
    latest = float(args.str("latest") or "inf")

    def inside(message: Message) -> bool:
        ts = float(message.ts)
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return [m for m in messages if inside(m)]


@method("conversations.history")
def conversations_history(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = member_channel(ws, args)
    newest_first = list(reversed(_window(channel.top_level(), args)))
    page, metadata = paginate([m.to_api(ws) for m in newest_first], args)
    return {
        "messages": page,
        "has_more": bool(metadata["next_cursor"]),
        "pin_count": len(channel.pins),
        "response_metadata": metadata,
    }


@method("conversations.replies")
def conversations_replies(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = member_channel(ws, args)
    message = channel.find(args.str("ts") or "")
    if message is None:
        raise SlackError("thread_not_found")
    root = message.thread_ts or message.ts
    thread = (
        _window(channel.thread(root), args)
        if ("oldest" in args or "latest" in args)
        else channel.thread(root)
    )
    page, metadata = paginate([m.to_api(ws) for m in thread], args, default_limit=1000)
    return {"messages": page, "has_more": bool(metadata["next_cursor"]), "response_metadata": metadata}
