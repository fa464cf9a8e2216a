"""The things a Slack workspace is made of, shaped so `to_api()` returns what Slack's API returns.

These records hold no behaviour beyond rendering themselves; the rules that change them live in
`state.Workspace` (bookkeeping) and `methods` (Slack's Web API semantics).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Workspace(Protocol):
    """What a record needs of `state.Workspace` to render itself (a protocol, so the two stay acyclic)."""

    team_id: str
    app_id: str
    bot_id: str
    bot_user_id: str
    web_url: str
    started_at: float

    def message(self, channel_id: str, ts: str) -> Message | None: ...


class SlackError(Exception):
    """A Web API refusal, answered as `{"ok": false, "error": error, **extra}`."""

    def __init__(
        self,
        error: str,
        *,
        messages: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        status: int = 200,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra or {}
        self.status = status

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


# -- entities -------------------------------------------------------------------------------------------


@dataclass
class User:
    id: str
    name: str
    real_name: str
    display_name: str
    tz: str = "Europe/Berlin"
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False

    def to_api(self, ws: Workspace) -> dict[str, Any]:
        offset, label = _tz_details(self.tz)
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "first_name": self.real_name.split(" ")[0],
            "image_48": f"{ws.web_url}avatars/{self.id}_48.png",
            "team": ws.team_id,
        }
        if self.email:
            profile["email"] = self.email
        if self.is_bot:
            profile.update(bot_id=ws.bot_id, api_app_id=ws.app_id, always_active=True)
        return {
            "id": self.id,
            "team_id": ws.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": label,
            "tz_offset": offset,
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": int(ws.started_at),
            "profile": profile,
        }


@dataclass
class Message:
    ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    reply_count: int = 0
    reply_users: list[str] = field(default_factory=list)
    latest_reply: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited: bool = False
    edited_ts: str | None = None
    subtype: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    ephemeral_to: str | None = None
    """Set for chat.postEphemeral messages: the only user who sees them."""

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, ws: Workspace) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text}
        if self.subtype:
            data["subtype"] = self.subtype
        if self.user == ws.bot_user_id:
            data.update(bot_id=ws.bot_id, app_id=ws.app_id)
        data["team"] = ws.team_id
        if self.blocks:
            data["blocks"] = self.blocks
        if self.attachments:
            data["attachments"] = self.attachments
        if self.files:
            data.update(files=self.files, upload=False)
        if self.metadata:
            data["metadata"] = self.metadata
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.is_reply:
            parent = ws.message(self.channel, self.thread_ts or "")
            data["parent_user_id"] = parent.user if parent else self.user
        elif self.reply_count:
            data.update(
                reply_count=self.reply_count,
                reply_users_count=len(self.reply_users),
                reply_users=list(self.reply_users),
                latest_reply=self.latest_reply,
            )
        if self.edited:
            data["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.reactions:
            data["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in self.reactions.items()
            ]
        return data


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    created: int = 0
    creator: str = ""
    topic: str = ""
    purpose: str = ""
    members: set[str] = field(default_factory=set)
    messages: list[Message] = field(default_factory=list)
    pins: set[str] = field(default_factory=set)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    """`bookmarks.add` results, in the order added (Slack's API objects)."""
    is_archived: bool = False
    is_general: bool = False
    is_im: bool = False
    is_mpim: bool = False
    dm_user: str | None = None
    """For an im channel: the human on the other side of the bot's DM."""

    def find(self, ts: str) -> Message | None:
        return next((m for m in self.messages if m.ts == ts), None)

    def top_level(self) -> list[Message]:
        return [m for m in self.messages if not m.is_reply]

    def thread(self, thread_ts: str) -> list[Message]:
        return [m for m in self.messages if m.ts == thread_ts or m.thread_ts == thread_ts]

    def to_api(self, ws: Workspace, *, num_members: bool = False) -> dict[str, Any]:
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.dm_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private and not self.is_mpim,
            "is_group": self.is_private and not self.is_mpim,
            "is_im": False,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private,
            "created": self.created,
            "creator": self.creator,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "is_member": ws.bot_user_id in self.members,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "context_team_id": ws.team_id,
            "unlinked": 0,
            "previous_names": [],
            "topic": {"value": self.topic, "creator": self.creator if self.topic else "", "last_set": 0},
            "purpose": {
                "value": self.purpose,
                "creator": self.creator if self.purpose else "",
                "last_set": 0,
            },
        }
        if num_members:
            data["num_members"] = len(self.members)
        return data


@dataclass
class View:
    id: str
    user: str
    view: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    external_id: str | None = None
    is_open: bool = True
    state_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What the user last entered; kept when the bot answers a submission with errors."""

    @property
    def type(self) -> str:
        return str(self.view.get("type", "modal"))

    def to_api(self, ws: Workspace) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "team_id": ws.team_id,
            "type": self.type,
            "blocks": self.view.get("blocks", []),
            "private_metadata": self.view.get("private_metadata", ""),
            "callback_id": self.view.get("callback_id", ""),
            "state": {"values": self.state_values},
            "hash": self.hash,
            "clear_on_close": bool(self.view.get("clear_on_close", False)),
            "notify_on_close": bool(self.view.get("notify_on_close", False)),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id,
            "app_id": ws.app_id,
            "external_id": self.external_id or "",
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.bot_id,
        }
        for key in ("title", "close", "submit"):
            if key in self.view:
                data[key] = self.view[key]
        return data


@dataclass
class Trigger:
    id: str
    user: str
    issued_at: float
    used: bool = False


@dataclass
class ResponseUrl:
    token: str
    channel: str
    user: str
    issued_at: float
    message_ts: str | None = None
    """The message the interaction came from: what `replace_original` replaces."""
    uses: int = 0


@dataclass
class ResponsePost:
    token: str
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    response_type: str
    replace_original: bool
    delete_original: bool
    at: float
    ok: bool = True
    error: str | None = None


@dataclass
class UploadedFile:
    id: str
    name: str
    length: int
    user: str
    created: int
    title: str = ""
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None
    channels: list[str] = field(default_factory=list)
    shared_ts: dict[str, str] = field(default_factory=dict)
    """channel id -> ts of the message that shares the file."""

    @property
    def text(self) -> str:
        return (self.content or b"").decode("utf-8", errors="replace")

    def to_api(self, ws: Workspace) -> dict[str, Any]:
        url = f"{ws.web_url}files/{self.user}/{self.id}/{self.name}"
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": "text/plain",
            "filetype": self.snippet_type or "text",
            "user": self.user,
            "user_team": ws.team_id,
            "size": self.length,
            "is_public": True,
            "url_private": url,
            "url_private_download": f"{url}?download=1",
            "permalink": f"{ws.web_url}files/{self.user}/{self.id}/{self.name}",
            "channels": list(self.channels),
            "shares": {"public": {c: [{"ts": ts}] for c, ts in self.shared_ts.items()}},
        }


@dataclass
class Usergroup:
    id: str
    handle: str
    name: str
    users: list[str]


@dataclass(frozen=True)
class Call:
    """One Web API call as the stand-in saw and answered it."""

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int
    at: float
    details: tuple[str, ...] = ()
    """Slack's `response_metadata.messages`, e.g. which block broke a limit."""
    injected: bool = False
    """True when the failure came from `fail_next`/`rate_limit_next`, not from the call itself."""


@dataclass
class Fault:
    method: str
    error: str
    remaining: int
    when: Callable[[dict[str, Any]], bool] | None = None
    status: int = 200
    retry_after: int | None = None

    def matches(self, method: str, args: dict[str, Any]) -> bool:
        return self.method == method and (self.when is None or bool(self.when(args)))


def interactive_elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The elements of a block a user can act on: actions elements, a section accessory, an input."""
    found: list[Any] = []
    if block.get("type") == "actions":
        found = list(block.get("elements") or [])
    elif block.get("type") == "section" and "accessory" in block:
        found = [block["accessory"]]
    elif block.get("type") == "input" and "element" in block:
        found = [block["element"]]
    return [e for e in found if isinstance(e, dict)]


def message_text(message: Message) -> str:
    """The message's text plus every text inside its blocks, for substring searches."""
    return "\n".join([message.text, *_block_texts(message.blocks)])


def _block_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            yield value["text"]
        for key, item in value.items():
            if key != "text" or not isinstance(item, str):
                yield from _block_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _block_texts(item)


def _tz_details(tz: str) -> tuple[int, str]:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return 0, tz
    now = dt.datetime.now(zone)
    offset = now.utcoffset() or dt.timedelta()
    return int(offset.total_seconds()), now.tzname() or tz
