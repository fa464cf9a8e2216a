"""The bot's only door to the Slack Web API.

Services call these methods with domain words (create a channel, pin a message); every Slack error
becomes `SlackFailure` with the method and Slack's error code, so the caller can tell the user what
failed and carry on with the rest of the flow.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Message, with_banner
from bot.timers import FIRING, IN_WORKER, RetryLater

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class SlackFailure(Exception):
    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method} failed: {error}")
        self.method = method
        self.error = error


class RateLimited(SlackFailure):
    """Slack (or the bot's own budget for the method) said: not before `retry_after` seconds."""

    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(method, "ratelimited")
        self.retry_after = retry_after

    def later(self) -> RetryLater:
        """For a timer job: come back when the limit allows, freeing the worker meanwhile."""
        return RetryLater(timedelta(seconds=self.retry_after), f"{self.method} rate limited")


SHORT_WAIT_SECONDS = 2
"""A timer job waits out a Retry-After up to this long in place; a longer one goes back to the queue."""


class _RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """The SDK's 429 handler, except inside the timer worker for waits over `SHORT_WAIT_SECONDS`: there
    the 429 becomes `RateLimited` and the job is rescheduled (`RetryLater`), so no worker sleeps."""

    async def _can_retry_async(
        self, *, state: Any, request: Any, response: Any = None, error: Any = None
    ) -> bool:
        if not await super()._can_retry_async(state=state, request=request, response=response, error=error):
            return False
        return not IN_WORKER.get() or _retry_after(response.headers) <= SHORT_WAIT_SECONDS


def _retry_after(headers: Any) -> float:
    for name, value in dict(headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def make_client(token: str, base_url: str) -> AsyncWebClient:
    """One client for the whole process, retrying 429s (honouring Retry-After) and dropped connections."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=15,
        retry_handlers=[
            _RateLimitRetry(max_retry_count=5),
            AsyncConnectionErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


class Budget:
    """The bot's own sliding-window allowance for one Slack method, a little stricter than Slack's, so the
    bot rarely meets a 429 at all; every caller refused gets the same next free moment, so the queue
    picks among them by priority when it comes."""

    def __init__(self, per_window: int, window_s: float) -> None:
        self.per_window = per_window
        self.window_s = window_s
        self.sent: deque[float] = deque()
        self.blocked_until = 0.0
        self.refused: dict[int, tuple[int, float]] = {}
        """Timer id -> (priority, when) of the jobs refused and not served since: a slot that frees goes
        to the most urgent of them, not to whichever less urgent job asks first."""

    def take(self) -> float | None:
        """None: go ahead (counted); else seconds until a call may go out."""
        now = time.monotonic()
        while self.sent and self.sent[0] <= now - self.window_s:
            self.sent.popleft()
        for timer_id, (_, when) in list(self.refused.items()):
            if when < now - self.window_s - 10:  # it gave up or went elsewhere
                del self.refused[timer_id]
        firing = FIRING.get()  # None: a person waits (a modal), the most urgent of all
        timer_id, priority = firing if firing is not None else (0, -1)
        ahead = any(p < priority for t, (p, _) in self.refused.items() if t != timer_id)
        if now >= self.blocked_until and len(self.sent) < self.per_window and not ahead:
            self.sent.append(now)
            self.refused.pop(timer_id, None)
            return None
        if firing is not None:
            self.refused[timer_id] = (priority, now)
        if now < self.blocked_until:
            return self.blocked_until - now
        if len(self.sent) < self.per_window:
            return 1.0  # a more urgent job is due for this slot; look again in a second
        return self.sent[0] + self.window_s - now

    def slack_said(self, retry_after: float) -> None:
        self.blocked_until = max(self.blocked_until, time.monotonic() + retry_after)


BUDGETS = {"conversations.create": (20, 61.0)}
"""Slack's tier 2 (20 a minute) for creating channels, with a second of margin."""


@dataclass(frozen=True)
class Channel:
    id: str
    name: str


def mentioned_users(text: str) -> list[str]:
    return _MENTION.findall(text)


DM_CHANNEL_TTL = 3600.0
"""Seconds a user's DM channel id is reused without asking Slack again (it does not change)."""
USER_NAME_TTL = 900.0
"""Seconds a display name is reused: names change rarely, and a post-mortem names everyone at once."""


DRILL_PREFIX = "drill-"


class SlackGateway:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.drill_channels: set[str] = set()
        """Channels of drills (created as `drill-…`, or found open at start): everything posted or
        updated there carries the drill banner, whoever builds the message."""
        self._bot_user_id: str | None = None
        self._dm_channels: dict[str, tuple[str, float]] = {}
        self._names: dict[str, tuple[str, float]] = {}
        self.budgets = {method: Budget(*limits) for method, limits in BUDGETS.items()}

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        budget = self.budgets.get(method)
        wait = budget.take() if budget is not None else None
        if wait is not None:
            raise RateLimited(method, wait)
        try:
            return await self._send(method, **kwargs)
        except RateLimited as limited:
            if budget is not None:
                budget.slack_said(limited.retry_after)
            raise

    async def _send(self, method: str, **kwargs: Any) -> dict[str, Any]:
        with _failures_as(method):
            if method in _READ_METHODS:
                response = await self.client.api_call(method, http_verb="GET", params=kwargs)
            else:
                response = await self.client.api_call(method, json=kwargs)
        return response.data if isinstance(response.data, dict) else {}

    async def ping(self, within_s: float = 3.0) -> str | None:
        """None when Slack answers auth.test; else why not. No retries: a health check reports, fast."""
        client = AsyncWebClient(token=self.client.token, base_url=self.client.base_url, timeout=within_s)
        try:
            async with asyncio.timeout(within_s):
                await client.auth_test()
        except SlackApiError as exc:
            return f"auth.test failed at {self.client.base_url}: {slack_error_of(exc)}"
        except TimeoutError:
            return f"no answer from {self.client.base_url} within {within_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return f"Slack unreachable at {self.client.base_url} ({type(exc).__name__}: {exc})"
        return None

    def known_bot_user_id(self) -> str | None:
        """The bot's user id if Slack has told it already; never a call (for database-only paths)."""
        return self._bot_user_id

    async def bot_user_id(self) -> str:
        if self._bot_user_id is None:
            self._bot_user_id = str((await self._call("auth.test")).get("user_id", ""))
        return self._bot_user_id

    async def create_channel(self, name: str, private: bool) -> Channel:
        """Create `name`, or `name-2`, `name-3`… when Slack says the name is taken."""
        for attempt in range(1, 11):
            candidate = name if attempt == 1 else f"{name[: 80 - len(str(attempt)) - 1]}-{attempt}"
            try:
                data = await self._call("conversations.create", name=candidate, is_private=private)
            except SlackFailure as failure:
                if failure.error == "name_taken":
                    log.info("channel name %s taken, trying another", candidate)
                    continue
                raise
            if name.startswith(DRILL_PREFIX):
                self.drill_channels.add(data["channel"]["id"])
            return Channel(id=data["channel"]["id"], name=data["channel"]["name"])
        raise SlackFailure("conversations.create", f"name_taken (tried {name} and 9 variants)")

    async def archive(self, channel: str) -> None:
        await self._call("conversations.archive", channel=channel)

    async def set_topic(self, channel: str, topic: str) -> None:
        await self._call("conversations.setTopic", channel=channel, topic=topic[:250])

    async def invite(self, channel: str, users: list[str]) -> dict[str, str]:
        """Invite everyone who can be invited; return {user: error} for those who could not."""
        bot = await self.bot_user_id()
        wanted = [u for u in dict.fromkeys(users) if u and u != bot]
        if not wanted:
            return {}
        try:
            await self._call("conversations.invite", channel=channel, users=",".join(wanted))
            return {}
        except SlackFailure as failure:
            if failure.error == "already_in_channel" or len(wanted) == 1:
                return {} if failure.error == "already_in_channel" else {wanted[0]: failure.error}
        failed: dict[str, str] = {}
        for user in wanted:
            try:
                await self._call("conversations.invite", channel=channel, users=user)
            except SlackFailure as failure:
                if failure.error != "already_in_channel":
                    failed[user] = failure.error
        return failed

    def _marked(self, channel: str, message: Message) -> Message:
        return with_banner(message) if channel in self.drill_channels else message

    async def post(self, channel: str, message: Message, thread_ts: str | None = None) -> str:
        message = self._marked(channel, message)
        args: dict[str, Any] = {"channel": channel, "text": message.text, "blocks": message.blocks}
        if thread_ts:
            args["thread_ts"] = thread_ts
        data = await self._call("chat.postMessage", **args)
        return str(data["ts"])

    async def post_or_log(
        self, channel: str, message: Message, about: str, thread_ts: str | None = None
    ) -> bool:
        """For a notice whose loss must not stop the work that sends it: a failure is logged, not raised."""
        try:
            await self.post(channel, message, thread_ts=thread_ts)
        except SlackFailure as failure:
            log.warning("%s: could not post to %s: %s", about, channel, failure)
            return False
        return True

    async def update(self, channel: str, ts: str, message: Message) -> None:
        message = self._marked(channel, message)
        await self._call("chat.update", channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    async def ephemeral(self, channel: str, user: str, message: Message) -> None:
        message = self._marked(channel, message)
        await self._call(
            "chat.postEphemeral", channel=channel, user=user, text=message.text, blocks=message.blocks
        )

    async def pin(self, channel: str, ts: str) -> None:
        try:
            await self._call("pins.add", channel=channel, timestamp=ts)
        except SlackFailure as failure:
            if failure.error != "already_pinned":
                raise

    async def bookmarks(self, channel: str) -> list[dict[str, Any]]:
        return list((await self._call("bookmarks.list", channel_id=channel)).get("bookmarks") or [])

    async def bookmark(self, channel: str, title: str, link: str, emoji: str | None = None) -> None:
        args = {"channel_id": channel, "title": title, "type": "link", "link": link}
        await self._call("bookmarks.add", **args, **({"emoji": emoji} if emoji else {}))

    async def add_missing_bookmarks(self, channel: str, wanted: list[tuple[str, str]]) -> None:
        """Add each (title, link) the channel has no bookmark to yet: a repeated set-up or re-publish adds
        nothing twice."""
        present = {b.get("link") for b in await self.bookmarks(channel)}
        for title, link in wanted:
            if link not in present:
                await self.bookmark(channel, title, link)
                present.add(link)

    async def is_member(self, channel: str, user: str) -> bool:
        """Whether `user` is in `channel` (pages through the member list; incident channels are small)."""
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {
                "channel": channel,
                "limit": 200,
                **({"cursor": cursor} if cursor else {}),
            }
            data = await self._call("conversations.members", **args)
            if user in (data.get("members") or []):
                return True
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return False

    async def permalink(self, channel: str, ts: str) -> str:
        return str((await self._call("chat.getPermalink", channel=channel, message_ts=ts))["permalink"])

    async def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The message at `ts`, whether top-level or in a thread."""
        data = await self._call("conversations.replies", channel=channel, ts=ts, limit=1, inclusive=True)
        for message in data.get("messages", []):
            if message.get("ts") == ts:
                return dict(message)
        return None

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        return str((await self._call("views.open", trigger_id=trigger_id, view=view))["view"]["id"])

    async def push_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        return str((await self._call("views.push", trigger_id=trigger_id, view=view))["view"]["id"])

    async def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        await self._call("views.update", view_id=view_id, view=view)

    async def direct_message(self, user: str, message: Message) -> tuple[str, str]:
        """Post to a user's DM with the bot; returns (channel, ts) so the message can be edited later."""
        channel = await self.open_dm(user)
        return channel, await self.post(channel, message)

    async def open_dm(self, user: str) -> str:
        """The bot's DM channel with `user`; remembered for an hour, since a page should cost one round
        trip to Slack, not two."""
        known = self._dm_channels.get(user)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        channel = str((await self._call("conversations.open", users=user))["channel"]["id"])
        self._dm_channels[user] = (channel, time.monotonic() + DM_CHANNEL_TTL)
        return channel

    async def recent_messages(self, channel: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest messages of a channel (a DM), newest first."""
        data = await self._call("conversations.history", channel=channel, limit=limit)
        return [dict(m) for m in data.get("messages", []) if isinstance(m, dict)]

    async def channel_members(self, channel: str) -> set[str]:
        members: set[str] = set()
        cursor = None
        while True:
            page = {"cursor": cursor} if cursor else {}
            data = await self._call("conversations.members", channel=channel, limit=1000, **page)
            members.update(str(member) for member in data.get("members", []))
            cursor = data.get("response_metadata", {}).get("next_cursor")
            if not cursor:
                return members

    async def upload_text(
        self, channel: str, filename: str, content: str, title: str, thread_ts: str | None = None
    ) -> None:
        """A long text (runbook output, a post-mortem) as a file in the channel, under `thread_ts`."""
        with _failures_as("files.uploadV2"):
            await self.client.files_upload_v2(
                channel=channel, filename=filename, content=content, title=title, thread_ts=thread_ts
            )

    async def display_names(self, users: set[str]) -> dict[str, str]:
        """Slack id -> the name people know them by; anyone Slack cannot tell us about is left out."""
        names: dict[str, str] = {}
        for user in sorted(users):
            known = self._names.get(user)
            if known is not None and known[1] > time.monotonic():
                names[user] = known[0]
                continue
            try:
                data = await self._call("users.info", user=user)
            except SlackFailure:
                continue
            member = data.get("user", {})
            profile = member.get("profile", {})
            name = profile.get("display_name") or profile.get("real_name") or member.get("name")
            if name:
                names[user] = str(name)
                self._names[user] = (str(name), time.monotonic() + USER_NAME_TTL)
        return names

    async def usergroup_members(self, usergroup: str) -> list[str]:
        data = await self._call("usergroups.users.list", usergroup=usergroup)
        return [str(user) for user in data.get("users", [])]

    async def set_usergroup_members(self, usergroup: str, users: list[str]) -> None:
        await self._call("usergroups.users.update", usergroup=usergroup, users=",".join(users))

    async def user_zone(self, user: str) -> str | None:
        """The IANA zone a person set in Slack (None: unknown, or Slack did not say)."""
        try:
            data = await self._call("users.info", user=user)
        except SlackFailure:
            return None
        zone = data.get("user", {}).get("tz")
        return str(zone) if zone else None

    async def find_user(self, name: str) -> str | None:
        """Resolve `@alice` typed without Slack's escaping, by handle, display or real name."""
        wanted = name.lstrip("@").lower()
        cursor = None
        while True:
            data = await self._call("users.list", limit=200, **({"cursor": cursor} if cursor else {}))
            for member in data.get("members", []):
                profile = member.get("profile", {})
                names = {
                    member.get("name", ""),
                    profile.get("display_name", ""),
                    profile.get("real_name", ""),
                }
                if wanted in {n.lower() for n in names if n}:
                    return str(member["id"])
            cursor = data.get("response_metadata", {}).get("next_cursor")
            if not cursor:
                return None


_READ_METHODS = {
    "auth.test",
    "chat.getPermalink",
    "conversations.replies",
    "conversations.history",
    "users.list",
    "usergroups.users.list",
    "conversations.members",
    "users.info",
}
"""Methods Slack serves over GET with query arguments; all others take a JSON body."""


@contextmanager
def _failures_as(method: str) -> Iterator[None]:
    """Slack's refusals and network errors, as the one SlackFailure the services handle."""
    try:
        yield
    except SlackApiError as exc:
        if exc.response.status_code == 429:
            raise RateLimited(method, _retry_after(exc.response.headers)) from exc
        raise SlackFailure(method, slack_error_of(exc)) from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SlackFailure(method, f"Slack unreachable ({type(exc).__name__}: {exc})") from exc


def slack_error_of(exc: SlackApiError) -> str:
    """Slack's error code; a proxy or a wrong URL answers with text, which must not crash the caller."""
    data = exc.response.data
    if isinstance(data, dict):
        return str(data.get("error", "unknown_error"))
    return f"HTTP {exc.response.status_code}, not a Slack API answer"
