"""The stand-in's in-memory Slack workspace: users, channels, messages, views, plus a call log.

One `Workspace` object is shared by the Web API stand-in (which mutates it the way Slack would) and
by the test or sandbox driving the bot (which inspects it and plays users). Keeping the state in
plain dataclasses lets a test assert on "what Slack would now show" instead of on mocked calls.

Ids and timestamps come from a seeded generator and a monotonic clock, so two runs of the same test
produce the same channel ids and strictly increasing message timestamps.
"""

from __future__ import annotations

import copy
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.standin.entities import (
    Call,
    Channel,
    Fault,
    Message,
    ResponsePost,
    ResponseUrl,
    SlackError,
    Trigger,
    UploadedFile,
    User,
    Usergroup,
    View,
    interactive_elements,
    message_text,
)
from bot.standin.switches import HANG_SECONDS, Arrival, Delay, SlidingWindow, Switches

__all__ = [
    "RESPONSE_URL_LIFETIME",
    "RESPONSE_URL_USES",
    "TRIGGER_LIFETIME",
    "VIEW_STACK_MAX",
    "Call",
    "Channel",
    "Fault",
    "Message",
    "ResponsePost",
    "ResponseUrl",
    "SlackError",
    "Trigger",
    "UploadedFile",
    "User",
    "Usergroup",
    "View",
    "Workspace",
    "interactive_elements",
    "message_text",
]

TRIGGER_LIFETIME = 3.0
"""Seconds a trigger_id can be exchanged for a modal, as in Slack."""
RESPONSE_URL_LIFETIME = 30 * 60.0
RESPONSE_URL_USES = 5
"""Slack accepts five posts to a response_url within thirty minutes."""
VIEW_STACK_MAX = 3

_ALNUM = string.ascii_uppercase + string.digits


SEED_USERS = (
    ("U0ALICE000", "alice", "Alice Andersen", "alice"),
    ("U0BOB00000", "bob", "Bob Brandt", "bob"),
    ("U0CAROL000", "carol", "Carol Castro", "carol"),
    ("U0DAVE0000", "dave", "Dave Dietrich", "dave"),
    ("U0ERIN0000", "erin", "Erin Eriksen", "erin"),
)
SEED_CHANNELS = (
    ("C0GENERAL0", "general", "Company-wide announcements and work-based matters"),
    ("C0INCIDENT", "incidents", "Incident announcements"),
    ("C0MGMT0000", "incident-management", "Summaries for management"),
    ("C0ALERTS00", "alerts", "Alerts that are not incidents"),
    ("C0PLATFORM", "team-platform", "Platform team (owns the API, the cache and booking)"),
    ("C0DATATEAM", "team-data", "Data team (owns the database)"),
    ("C0INTEGRAT", "team-integrations", "Integrations team (PMS, WhatsApp)"),
)


@dataclass
class Workspace:
    """A Slack workspace small enough to reason about, seeded with five people and seven channels."""

    team_id: str = "T0SANDBOX"
    team_name: str = "Sandbox"
    team_domain: str = "sandbox"
    app_id: str = "A0SANDBOX0"
    bot_id: str = "B0BOT00000"
    bot_user_id: str = "U0BOT00000"
    bot_name: str = "incidentbot"
    web_url: str = "https://sandbox.slack.local/"
    base_url: str = "http://127.0.0.1/"
    """Where the stand-in itself listens; response and upload URLs point here. Set by `start_standin`."""
    seed: int = 0
    clock: Callable[[], float] = time.time
    seeded: bool = True

    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    ephemerals: dict[tuple[str, str], list[Message]] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    home_views: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    responses: list[ResponsePost] = field(default_factory=list)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    usergroups: dict[str, Usergroup] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    switches: Switches = field(default_factory=Switches)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._offset = 0.0
        self._last_ts_micros = 0
        self._used_ids: set[str] = set()
        self.started_at = self.now()
        self.users[self.bot_user_id] = User(
            self.bot_user_id, self.bot_name, "Incident Bot", "incidentbot", is_bot=True
        )
        if self.seeded:
            self._seed()

    def _seed(self) -> None:
        for user_id, name, real_name, display in SEED_USERS:
            self.add_user(user_id, name, real_name, display)
        people = set(self.users)
        for channel_id, name, purpose in SEED_CHANNELS:
            channel = self.add_channel(name, channel_id=channel_id, members=people, creator=SEED_USERS[0][0])
            channel.purpose = purpose
            channel.is_general = name == "general"
        self.usergroups["S0ONCALL00"] = Usergroup(
            "S0ONCALL00", "oncall", "On-call", ["U0ALICE000", "U0BOB00000"]
        )

    # -- time and ids ---------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the workspace clock forward, e.g. to let a trigger_id expire without sleeping."""
        self._offset += seconds

    def next_ts(self) -> str:
        """A message timestamp, strictly increasing across the whole workspace like Slack's."""
        micros = max(int(self.now() * 1_000_000), self._last_ts_micros + 100)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_id(self, prefix: str, length: int = 10) -> str:
        while True:
            candidate = prefix + "".join(self._rng.choice(_ALNUM) for _ in range(length - len(prefix)))
            if candidate not in self._used_ids:
                self._used_ids.add(candidate)
                return candidate

    def _token(self, length: int) -> str:
        return "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(length))

    def new_view_hash(self) -> str:
        return f"{int(self.now())}.{self._token(8)}"

    def assign_block_ids(self, blocks: list[Any] | None) -> list[Any]:
        """A copy of `blocks` with the block_id/action_id Slack generates where the sender left them out.

        Slack returns and sends back these generated ids, so a bot that relies on block positions
        instead of ids still sees realistic payloads.
        """
        copied = copy.deepcopy(list(blocks or []))
        taken = {b.get("block_id") for b in copied if isinstance(b, dict)}
        for block in copied:
            if not isinstance(block, dict):
                continue
            if not block.get("block_id"):
                block_id = self._token(4)
                while block_id in taken:
                    block_id = self._token(4)
                taken.add(block_id)
                block["block_id"] = block_id
            for element in interactive_elements(block):
                if element.get("type") != "image" and not element.get("action_id"):
                    element["action_id"] = self._token(5)
        return copied

    # -- people and channels --------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str | None = None,
        display_name: str | None = None,
        *,
        tz: str = "Europe/Berlin",
        email: str | None = None,
        join_seeded_channels: bool = False,
    ) -> User:
        user = User(
            user_id, name, real_name or name.title(), display_name or name, tz, email or f"{name}@example.com"
        )
        self.users[user_id] = user
        self._used_ids.add(user_id)
        if join_seeded_channels:
            for channel_id, _, _ in SEED_CHANNELS:
                if channel_id in self.channels:
                    self.channels[channel_id].members.add(user_id)
        return user

    def user_by_name(self, name: str) -> User | None:
        wanted = name.lstrip("@").lower()
        return next(
            (u for u in self.users.values() if wanted in (u.name.lower(), u.display_name.lower())), None
        )

    def add_channel(
        self,
        name: str,
        *,
        is_private: bool = False,
        members: set[str] | None = None,
        creator: str | None = None,
        channel_id: str | None = None,
    ) -> Channel:
        """Create a channel directly (no Slack rules applied); the bot is always a member."""
        channel_id = channel_id or self.new_id("C")
        self._used_ids.add(channel_id)
        channel = Channel(
            id=channel_id,
            name=name,
            is_private=is_private,
            created=int(self.now()),
            creator=creator or self.bot_user_id,
            members={self.bot_user_id, *(members or set())},
        )
        self.channels[channel_id] = channel
        return channel

    def channel_by_name(self, name: str) -> Channel | None:
        wanted = name.lstrip("#")
        return next((c for c in self.channels.values() if c.name == wanted and not c.is_im), None)

    def resolve_channel(self, ref: str) -> Channel | None:
        """A channel by id, `#name` or bare name, as chat.postMessage accepts them."""
        if ref in self.channels:
            return self.channels[ref]
        return self.channel_by_name(ref)

    def dm_channel(self, user_id: str, *, create: bool = True) -> Channel | None:
        """The bot's direct-message channel with `user_id`, opened on first use."""
        for channel in self.channels.values():
            if channel.is_im and channel.dm_user == user_id:
                return channel
        if not create:
            return None
        channel_id = self.new_id("D")
        channel = Channel(
            id=channel_id,
            name=channel_id,
            is_private=True,
            created=int(self.now()),
            creator=self.bot_user_id,
            members={self.bot_user_id, user_id},
            is_im=True,
            dm_user=user_id,
        )
        self.channels[channel_id] = channel
        return channel

    # -- messages --------------------------------------------------------------------------------------

    def add_message(
        self,
        channel_id: str,
        user: str,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
        **extra: Any,
    ) -> Message:
        """Append a message as if `user` had posted it; thread bookkeeping follows Slack's."""
        channel = self.channels[channel_id]
        message = Message(
            ts=self.next_ts(),
            channel=channel_id,
            user=user,
            text=text,
            blocks=self.assign_block_ids(blocks),
            **extra,
        )
        if thread_ts:
            parent = channel.find(thread_ts)
            if parent is not None and parent.is_reply:
                parent = channel.find(parent.thread_ts or "")
            if parent is not None:
                parent.thread_ts = parent.ts
                parent.reply_count += 1
                parent.latest_reply = message.ts
                if user not in parent.reply_users:
                    parent.reply_users.append(user)
                message.thread_ts = parent.ts
        channel.messages.append(message)
        return message

    def add_ephemeral(
        self, channel_id: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> Message:
        message = Message(
            ts=self.next_ts(),
            channel=channel_id,
            user=self.bot_user_id,
            text=text,
            blocks=self.assign_block_ids(blocks),
            ephemeral_to=user,
        )
        self.ephemerals.setdefault((channel_id, user), []).append(message)
        return message

    def message(self, channel_id: str, ts: str) -> Message | None:
        channel = self.channels.get(channel_id)
        return channel.find(ts) if channel else None

    def messages(self, channel: str) -> list[Message]:
        """All messages in a channel (id or name), thread replies included, oldest first."""
        found = self.resolve_channel(channel)
        if found is None:
            raise KeyError(f"no channel {channel!r} in the stand-in workspace")
        return list(found.messages)

    def ephemerals_for(self, user_id: str, channel_id: str | None = None) -> list[Message]:
        return [
            m
            for (channel, user), messages in self.ephemerals.items()
            if user == user_id and channel_id in (None, channel)
            for m in messages
        ]

    def find_messages(self, text: str, *, include_ephemeral: bool = False) -> list[Message]:
        """Messages whose text or block text contains `text`, across all channels, oldest first."""
        pool: list[Message] = [m for c in self.channels.values() for m in c.messages]
        if include_ephemeral:
            pool += [m for messages in self.ephemerals.values() for m in messages]
        return sorted((m for m in pool if text in message_text(m)), key=lambda m: float(m.ts))

    # -- views, triggers and response urls -------------------------------------------------------------

    def issue_trigger(self, user: str) -> str:
        """A trigger_id as Slack attaches to an interaction: usable once, for three seconds."""
        trigger_id = f"{int(self.now())}.{self._rng.randrange(10**12):012d}.{self._token(32).lower()}"
        self.triggers[trigger_id] = Trigger(trigger_id, user, self.now())
        return trigger_id

    def exchange_trigger(self, trigger_id: str | None) -> Trigger:
        trigger = self.triggers.get(trigger_id or "")
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.now() - trigger.issued_at > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def stack(self, view_id: str) -> list[View]:
        """The open views sharing `view_id`'s root, bottom first."""
        view = self.views.get(view_id)
        if view is None:
            return []
        return [v for v in self.views.values() if v.root_view_id == view.root_view_id and v.is_open]

    def open_views(self, user: str) -> list[View]:
        return [v for v in self.views.values() if v.user == user and v.is_open and v.type == "modal"]

    def add_view(self, user: str, view: dict[str, Any], *, previous: View | None = None) -> View:
        view_id = self.new_id("V", 11)
        view = {**view, "blocks": self.assign_block_ids(view.get("blocks"))}
        stored = View(
            id=view_id,
            user=user,
            view=view,
            hash=self.new_view_hash(),
            root_view_id=previous.root_view_id if previous else view_id,
            previous_view_id=previous.id if previous else None,
            external_id=view.get("external_id") or None,
        )
        self.views[view_id] = stored
        return stored

    def replace_view(self, stored: View, view: dict[str, Any]) -> None:
        stored.view = {**view, "blocks": self.assign_block_ids(view.get("blocks"))}
        stored.hash = self.new_view_hash()
        stored.external_id = view.get("external_id") or stored.external_id
        stored.state_values = {}

    def close_view(self, view_id: str, *, whole_stack: bool = False) -> None:
        """Close one view (and anything pushed above it), or its whole stack."""
        views = self.stack(view_id)
        ids = [v.id for v in views]
        if view_id not in ids:
            return
        for view in views if whole_stack else views[ids.index(view_id) :]:
            view.is_open = False

    def view_by_external_id(self, external_id: str) -> View | None:
        return next((v for v in self.views.values() if v.external_id == external_id), None)

    def new_response_url(
        self, channel: str, user: str, *, message_ts: str | None = None, base_url: str | None = None
    ) -> str:
        """A response_url for `user`'s interaction in `channel`; `message_ts` is the message it came from."""
        token = f"{self.team_id}/{self._rng.randrange(10**12)}/{self._token(24)}"
        self.response_urls[token] = ResponseUrl(token, channel, user, self.now(), message_ts=message_ts)
        base = base_url or self.base_url
        return f"{base if base.endswith('/') else base + '/'}response/{token}"

    # -- call log and fault injection ----------------------------------------------------------------

    def record(self, call: Call) -> None:
        self.calls.append(call)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def errors(self) -> list[Call]:
        """Every call Slack would have refused, injected faults included."""
        return [c for c in self.calls if not c.ok]

    def fail_next(
        self,
        method: str,
        error: str,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next `times` calls to `method` (whose args satisfy `when`) fail with `error`."""
        self.faults.append(Fault(method, error, times, when))

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls to `method` with HTTP 429 and a Retry-After header."""
        self.faults.append(Fault(method, "ratelimited", times, status=429, retry_after=retry_after))

    def delay(
        self,
        method: str,
        seconds: float,
        times: int | None = None,
        when: Callable[[dict[str, Any]], bool] | None = None,
        *,
        after: bool = False,
    ) -> None:
        """Hold calls to `method` for `seconds` before answering: every call, or the next `times`. With
        `after`, the call takes effect at once and only its answer is late."""
        self.switches.delays.append(Delay(method, seconds, times, when, after))

    def hang_next(
        self, method: str, times: int = 1, when: Callable[[dict[str, Any]], bool] | None = None
    ) -> None:
        """Never answer the next `times` calls to `method` (the client's own timeout ends them)."""
        self.delay(method, HANG_SECONDS, times, when)

    def respond_with(self, method: str, statuses: list[int], retry_after: int = 1) -> None:
        """Answer the next calls to `method` with these HTTP statuses in order (200: answer normally;
        429: rate limited with `retry_after`; anything else: that status and `internal_error`)."""
        for status in statuses:
            if status == 429:
                self.faults.append(Fault(method, "ratelimited", 1, status=429, retry_after=retry_after))
            elif status != 200:
                self.faults.append(Fault(method, "internal_error", 1, status=status))
            else:
                self.faults.append(Fault(method, "", 1, status=200))

    def rate_limit(self, method: str, per_window: int, window_seconds: float = 60.0) -> None:
        """Slack's sliding-window limit on `method`: at most `per_window` calls in any window, then 429
        with Retry-After until the oldest leaves it (e.g. `conversations.create`, 20 a minute)."""
        self.switches.windows[method] = SlidingWindow(method, per_window, window_seconds)

    def held(self, method: str | None = None) -> list[Arrival]:
        """Calls that arrived and were held by `delay` (answered or not yet)."""
        return [a for a in self.switches.arrivals if method is None or a.method == method]

    def take_fault(self, method: str, args: dict[str, Any]) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, args):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # -- inspection ------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe snapshot for debugging and for the sandbox page."""
        return {
            "team": {"id": self.team_id, "name": self.team_name, "domain": self.team_domain},
            "bot": {"user_id": self.bot_user_id, "bot_id": self.bot_id, "app_id": self.app_id},
            "users": [u.to_api(self) for u in self.users.values()],
            "channels": [
                {
                    **c.to_api(self, num_members=True),
                    "members": sorted(c.members),
                    "pins": sorted(c.pins),
                    "messages": [m.to_api(self) for m in c.messages],
                }
                for c in self.channels.values()
            ],
            "ephemerals": [
                {**m.to_api(self), "channel": channel, "ephemeral_to": user}
                for (channel, user), messages in self.ephemerals.items()
                for m in messages
            ],
            "views": [{**v.to_api(self), "user": v.user, "is_open": v.is_open} for v in self.views.values()],
            "responses": [_response_json(r) for r in self.responses],
            "files": [{**f.to_api(self), "content": f.text} for f in self.files.values()],
            "calls": [_call_json(c) for c in self.calls],
        }


def _response_json(post: ResponsePost) -> dict[str, Any]:
    return {
        "channel": post.channel,
        "user": post.user,
        "text": post.text,
        "blocks": post.blocks,
        "response_type": post.response_type,
        "replace_original": post.replace_original,
        "delete_original": post.delete_original,
        "at": post.at,
        "ok": post.ok,
        "error": post.error,
    }


def _call_json(call: Call) -> dict[str, Any]:
    return {
        "method": call.method,
        "args": call.args,
        "ok": call.ok,
        "error": call.error,
        "status": call.status,
        "at": call.at,
        "details": list(call.details),
        "injected": call.injected,
    }
