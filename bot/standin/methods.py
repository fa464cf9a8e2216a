"""Slack Web API methods, answered against a `Workspace` the way Slack answers them.

Each handler receives the merged call arguments and returns the success body (without `ok`), or
raises `SlackError` with Slack's own error code. Keeping this free of HTTP means the rules
(`name_taken`, `already_pinned`, trigger expiry, ...) read like a specification and can be reused by
anything that embeds the stand-in.

Behaviour is modelled on Slack's documented responses; where Slack is vague the stand-in picks the
stricter reading so that bot bugs surface here rather than in a real workspace.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

from bot.standin.blockkit import message_error, validate_view
from bot.standin.state import (
    VIEW_STACK_MAX,
    Channel,
    Message,
    SlackError,
    UploadedFile,
    View,
    Workspace,
)

CHANNEL_NAME_MAX = 80
TOPIC_MAX = 250
PURPOSE_MAX = 250
INVITE_MAX = 1000
SCOPES = (
    "commands,chat:write,chat:write.public,channels:manage,channels:read,channels:join,channels:history,"
    "groups:write,groups:read,groups:history,im:write,im:read,pins:write,pins:read,reactions:read,"
    "reactions:write,users:read,users:read.email,usergroups:read,files:write,files:read,team:read"
)
"""Scopes reported in X-OAuth-Scopes: what the incidentbot manifest asks for."""

JSON_ARGUMENTS = frozenset({"blocks", "view", "attachments", "files", "metadata"})
"""Arguments that arrive as JSON strings when sent as a form or query parameter."""


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
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name] = handler
        return handler

    return register


def dispatch(ws: Workspace, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one Web API method; the caller adds `ok` and turns `SlackError` into a refusal."""
    handler = METHODS.get(name)
    if handler is None:
        raise SlackError("unknown_method")
    return handler(ws, Args(args))


def decode_json_arguments(args: dict[str, Any]) -> dict[str, Any]:
    """Decode `blocks`/`view`/... sent as JSON strings, leaving malformed ones for the handler to refuse."""
    decoded = dict(args)
    for key in JSON_ARGUMENTS & decoded.keys():
        value = decoded[key]
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            with contextlib.suppress(json.JSONDecodeError):
                decoded[key] = json.loads(value)
    return decoded


# -- shared lookups -------------------------------------------------------------------------------


def _channel(ws: Workspace, args: Args, name: str = "channel") -> Channel:
    """The channel the call is about; private channels the bot is not in are invisible, as in Slack."""
    ref = args.str(name)
    channel = ws.resolve_channel(ref) if ref else None
    if channel is None or (channel.is_private and ws.bot_user_id not in channel.members):
        raise SlackError("channel_not_found")
    return channel


def _member_channel(ws: Workspace, args: Args, name: str = "channel") -> Channel:
    channel = _channel(ws, args, name)
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def _postable_channel(ws: Workspace, args: Args) -> Channel:
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


def _message(channel: Channel, ts: str | None) -> Message:
    found = channel.find(ts or "")
    if found is None:
        raise SlackError("message_not_found")
    return found


def _check_thread(channel: Channel, thread_ts: str | None) -> None:
    """Refuse replies to messages that do not exist.

    Slack itself accepts a well-formed but unknown thread_ts and files the reply where nobody sees
    it; refusing makes that silent bug visible in tests.
    """
    if thread_ts and channel.find(thread_ts) is None:
        raise SlackError(
            "invalid_thread_ts",
            messages=[f"no message {thread_ts} in {channel.id}; Slack would hide this reply"],
        )


def _user(ws: Workspace, user_id: str | None) -> str:
    if not user_id or user_id not in ws.users:
        raise SlackError("user_not_found")
    return user_id


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


def _page(items: list[Any], args: Args, default_limit: int = 100) -> tuple[list[Any], dict[str, str]]:
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


# -- auth, team, users ----------------------------------------------------------------------------


@method("auth.test")
def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    return {
        "url": ws.web_url,
        "team": ws.team_name,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@method("api.test")
def api_test(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"args": {k: v for k, v in args.data.items() if k != "token"}}


@method("team.info")
def team_info(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"team": {"id": ws.team_id, "name": ws.team_name, "domain": ws.team_domain, "url": ws.web_url}}


@method("bots.info")
def bots_info(ws: Workspace, args: Args) -> dict[str, Any]:
    if args.str("bot", ws.bot_id) != ws.bot_id:
        raise SlackError("bot_not_found")
    return {
        "bot": {
            "id": ws.bot_id,
            "app_id": ws.app_id,
            "user_id": ws.bot_user_id,
            "name": ws.bot_name,
            "deleted": False,
        }
    }


@method("users.info")
def users_info(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"user": ws.users[_user(ws, args.str("user"))].to_api(ws)}


@method("users.list")
def users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    members, metadata = _page([u.to_api(ws) for u in ws.users.values()], args, default_limit=0)
    return {"members": members, "cache_ts": int(ws.now()), "response_metadata": metadata}


@method("users.lookupByEmail")
def users_lookup_by_email(ws: Workspace, args: Args) -> dict[str, Any]:
    email = (args.str("email") or "").lower()
    user = next((u for u in ws.users.values() if (u.email or "").lower() == email and email), None)
    if user is None:
        raise SlackError("users_not_found")
    return {"user": user.to_api(ws)}


@method("users.profile.get")
def users_profile_get(ws: Workspace, args: Args) -> dict[str, Any]:
    user_id = _user(ws, args.str("user", ws.bot_user_id))
    return {"profile": ws.users[user_id].to_api(ws)["profile"]}


@method("usergroups.list")
def usergroups_list(ws: Workspace, args: Args) -> dict[str, Any]:
    include_users = args.bool("include_users")
    groups = []
    for group in ws.usergroups.values():
        data: dict[str, Any] = {
            "id": group.id,
            "team_id": ws.team_id,
            "handle": group.handle,
            "name": group.name,
            "user_count": len(group.users),
        }
        if include_users:
            data["users"] = list(group.users)
        groups.append(data)
    return {"usergroups": groups}


@method("usergroups.users.list")
def usergroups_users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    group = ws.usergroups.get(args.str("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group.users)}


# -- chat -----------------------------------------------------------------------------------------


@method("chat.postMessage")
def chat_post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _postable_channel(ws, args)
    text, blocks, attachments = _check_message(args)
    thread_ts = args.str("thread_ts")
    _check_thread(channel, thread_ts)
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
    channel = _channel(ws, args)
    message = _message(channel, args.str("ts"))
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
    channel = _postable_channel(ws, args)
    user = _user(ws, args.str("user"))
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks, _ = _check_message(args)
    message = ws.add_ephemeral(channel.id, user, text, blocks)
    return {"message_ts": message.ts}


@method("chat.delete")
def chat_delete(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel(ws, args)
    message = _message(channel, args.str("ts"))
    if message.user != ws.bot_user_id:
        raise SlackError("cant_delete_message")
    channel.messages.remove(message)
    channel.pins.discard(message.ts)
    return {"channel": channel.id, "ts": message.ts}


@method("chat.getPermalink")
def chat_get_permalink(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel(ws, args)
    message = _message(channel, args.str("message_ts"))
    link = f"{ws.web_url}archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


# -- conversations --------------------------------------------------------------------------------


@method("conversations.create")
def conversations_create(ws: Workspace, args: Args) -> dict[str, Any]:
    name = check_channel_name(args.str("name"))
    if any(c.name == name for c in ws.channels.values()):
        raise SlackError("name_taken")
    channel = ws.add_channel(name, is_private=args.bool("is_private"), creator=ws.bot_user_id)
    return {"channel": channel.to_api(ws)}


@method("conversations.rename")
def conversations_rename(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _member_channel(ws, args)
    name = check_channel_name(args.str("name"))
    if any(c.name == name and c is not channel for c in ws.channels.values()):
        raise SlackError("name_taken")
    channel.name = name
    return {"channel": channel.to_api(ws)}


@method("conversations.archive")
def conversations_archive(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _member_channel(ws, args)
    if channel.is_general:
        raise SlackError("cant_archive_general")
    if channel.is_archived:
        raise SlackError("already_archived")
    channel.is_archived = True
    return {}


@method("conversations.unarchive")
def conversations_unarchive(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel(ws, args)
    if not channel.is_archived:
        raise SlackError("not_archived")
    channel.is_archived = False
    return {}


def _set_text(ws: Workspace, args: Args, field: str, limit: int) -> dict[str, Any]:
    channel = _member_channel(ws, args)
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
    channel = _member_channel(ws, args)
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
    channel = _member_channel(ws, args)
    user = _user(ws, args.str("user"))
    if user == ws.bot_user_id:
        raise SlackError("cant_kick_self")
    if user not in channel.members:
        raise SlackError("not_in_channel")
    channel.members.discard(user)
    return {}


@method("conversations.join")
def conversations_join(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel(ws, args)
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
    channel = _channel(ws, args)
    if ws.bot_user_id not in channel.members:
        return {"not_in_channel": True}
    channel.members.discard(ws.bot_user_id)
    return {}


@method("conversations.info")
def conversations_info(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel(ws, args)
    return {"channel": channel.to_api(ws, num_members=args.bool("include_num_members"))}


@method("conversations.members")
def conversations_members(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel(ws, args)
    members, metadata = _page(sorted(channel.members), args)
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
    channels, metadata = _page(listed, args)
    return {"channels": channels, "response_metadata": metadata}


@method("conversations.open")
def conversations_open(ws: Workspace, args: Args) -> dict[str, Any]:
    if "channel" in args:
        channel = _channel(ws, args)
        return {"channel": channel.to_api(ws) if args.bool("return_im") else {"id": channel.id}}
    users = [_user(ws, u) for u in args.list("users")]
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
    channel = _member_channel(ws, args)
    newest_first = list(reversed(_window(channel.top_level(), args)))
    page, metadata = _page([m.to_api(ws) for m in newest_first], args)
    return {
        "messages": page,
        "has_more": bool(metadata["next_cursor"]),
        "pin_count": len(channel.pins),
        "response_metadata": metadata,
    }


@method("conversations.replies")
def conversations_replies(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _member_channel(ws, args)
    message = channel.find(args.str("ts") or "")
    if message is None:
        raise SlackError("thread_not_found")
    root = message.thread_ts or message.ts
    thread = (
        _window(channel.thread(root), args)
        if ("oldest" in args or "latest" in args)
        else channel.thread(root)
    )
    page, metadata = _page([m.to_api(ws) for m in thread], args, default_limit=1000)
    return {"messages": page, "has_more": bool(metadata["next_cursor"]), "response_metadata": metadata}


# -- pins and reactions ---------------------------------------------------------------------------


@method("pins.add")
def pins_add(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _member_channel(ws, args)
    message = _message(channel, args.str("timestamp"))
    if message.ts in channel.pins:
        raise SlackError("already_pinned")
    channel.pins.add(message.ts)
    return {}


@method("pins.remove")
def pins_remove(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _member_channel(ws, args)
    message = _message(channel, args.str("timestamp"))
    if message.ts not in channel.pins:
        raise SlackError("no_pin")
    channel.pins.discard(message.ts)
    return {}


@method("pins.list")
def pins_list(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = _channel(ws, args)
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
    channel = _channel(ws, args)
    message = _message(channel, args.str("timestamp"))
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
    channel = _channel(ws, args)
    message = _message(channel, args.str("timestamp"))
    return {"type": "message", "channel": channel.id, "message": message.to_api(ws)}


# -- views ----------------------------------------------------------------------------------------


def _view_arg(args: Args, *, kind: str) -> dict[str, Any]:
    view = args.json("view")
    if view is None:
        raise SlackError("invalid_arguments", messages=["missing required field: view"])
    problems = validate_view(view)
    if not problems and view.get("type") != kind:
        problems = [f"must be {kind} for this method [json-pointer:/view/type]"]
    if problems:
        raise SlackError("invalid_arguments", messages=problems)
    return dict(view)


def _check_external_id(ws: Workspace, view: dict[str, Any], current: View | None = None) -> None:
    external_id = view.get("external_id")
    if external_id:
        owner = ws.view_by_external_id(external_id)
        if owner is not None and owner is not current and owner.is_open:
            raise SlackError("duplicate_external_id")


@method("views.open")
def views_open(ws: Workspace, args: Args) -> dict[str, Any]:
    view = _view_arg(args, kind="modal")
    _check_external_id(ws, view)
    trigger = ws.exchange_trigger(args.str("trigger_id"))
    for previous in ws.open_views(trigger.user):
        previous.is_open = False
    stored = ws.add_view(trigger.user, view)
    return {"view": stored.to_api(ws)}


@method("views.push")
def views_push(ws: Workspace, args: Args) -> dict[str, Any]:
    view = _view_arg(args, kind="modal")
    _check_external_id(ws, view)
    trigger = ws.exchange_trigger(args.str("trigger_id"))
    open_views = ws.open_views(trigger.user)
    if not open_views:
        raise SlackError("not_found", messages=["views.push needs a modal that is open for this user"])
    top = open_views[-1]
    if len(ws.stack(top.id)) >= VIEW_STACK_MAX:
        raise SlackError("push_limit_reached")
    stored = ws.add_view(trigger.user, view, previous=top)
    return {"view": stored.to_api(ws)}


@method("views.update")
def views_update(ws: Workspace, args: Args) -> dict[str, Any]:
    view_id, external_id = args.str("view_id"), args.str("external_id")
    stored = ws.views.get(view_id or "") if view_id else ws.view_by_external_id(external_id or "")
    if stored is None or not stored.is_open:
        raise SlackError("not_found")
    view = _view_arg(args, kind=stored.type)
    expected = args.str("hash")
    if expected and expected != stored.hash:
        raise SlackError("hash_conflict")
    _check_external_id(ws, view, stored)
    ws.replace_view(stored, view)
    return {"view": stored.to_api(ws)}


@method("views.publish")
def views_publish(ws: Workspace, args: Args) -> dict[str, Any]:
    user = _user(ws, args.str("user_id"))
    view = _view_arg(args, kind="home")
    existing = ws.views.get(ws.home_views.get(user, ""))
    if existing is None:
        existing = ws.add_view(user, view)
        ws.home_views[user] = existing.id
    else:
        expected = args.str("hash")
        if expected and expected != existing.hash:
            raise SlackError("hash_conflict")
        ws.replace_view(existing, view)
    return {"view": existing.to_api(ws)}


# -- files ----------------------------------------------------------------------------------------


@method("files.getUploadURLExternal")
def files_get_upload_url_external(ws: Workspace, args: Args) -> dict[str, Any]:
    filename = args.required("filename")
    length = args.int("length", -1)
    if length < 0:
        raise SlackError("invalid_arguments", messages=["missing required field: length"])
    file_id = ws.new_id("F", 11)
    ws.files[file_id] = UploadedFile(
        id=file_id,
        name=filename,
        length=length,
        user=ws.bot_user_id,
        created=int(ws.now()),
        alt_txt=args.str("alt_txt"),
        snippet_type=args.str("snippet_type"),
    )
    return {"upload_url": f"{ws.base_url}upload/v1/{file_id}", "file_id": file_id}


@method("files.completeUploadExternal")
def files_complete_upload_external(ws: Workspace, args: Args) -> dict[str, Any]:
    entries = args.json("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments", messages=["files must be a non-empty array"])
    uploads: list[UploadedFile] = []
    for entry in entries:
        upload = ws.files.get(str(entry.get("id", ""))) if isinstance(entry, dict) else None
        if upload is None or upload.content is None:
            raise SlackError("file_not_found")
        upload.title = str(entry.get("title") or upload.name)
        uploads.append(upload)
    targets = args.list("channels") or args.list("channel_id")
    channels = [_postable_channel(ws, Args({"channel": target})) for target in targets]
    thread_ts = args.str("thread_ts")
    for channel in channels:
        _check_thread(channel, thread_ts)
        message = ws.add_message(
            channel.id,
            ws.bot_user_id,
            args.str("initial_comment") or "",
            thread_ts=thread_ts,
            files=[u.to_api(ws) for u in uploads],
        )
        for upload in uploads:
            upload.channels.append(channel.id)
            upload.shared_ts[channel.id] = message.ts
        message.files = [u.to_api(ws) for u in uploads]
    return {"files": [u.to_api(ws) for u in uploads]}


@method("files.info")
def files_info(ws: Workspace, args: Args) -> dict[str, Any]:
    upload = ws.files.get(args.str("file") or "")
    if upload is None or upload.content is None:
        raise SlackError("file_not_found")
    return {"file": upload.to_api(ws), "content": upload.text}
