"""Plays Slack towards the bot: signed slash commands, clicks, modal submissions and events.

Every request goes to the bot's `/slack/events` with a real v0 signature, so the bot's own Bolt
verification is what lets it in. The driver then does what Slack does with the answer: a modal
submission's `response_action` updates, pushes or closes the stored view, a slash command's ack is
shown to the user, and an ack slower than Slack's three seconds is logged as a failed call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.standin.blockkit import message_error, validate_view
from bot.standin.payloads import (
    action_payload,
    channel_ref,
    find_action,
    response_urls,
    team_ref,
    user_ref,
    view_state,
)
from bot.standin.state import VIEW_STACK_MAX, Call, Message, View, Workspace

ACK_DEADLINE = 3.0
"""Slack gives up on an ack after three seconds and shows the user an error."""
VERIFICATION_TOKEN = "standin-verification-token"


@dataclass(frozen=True)
class DriverResponse:
    """The bot's HTTP answer to one delivery, plus the payload that was sent (for trigger ids etc.)."""

    status: int
    body: str
    json: dict[str, Any] | None
    elapsed: float
    payload: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def view_errors(self) -> dict[str, str] | None:
        """The per-input errors of a `response_action: errors` ack, if that is what the bot sent."""
        if self.json and self.json.get("response_action") == "errors":
            return dict(self.json.get("errors") or {})
        return None


class SlackDriver:
    """Sends what Slack would send to the bot at `bot_url`, as users of `workspace`."""

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        workspace: Workspace,
        standin_url: str,
        session: aiohttp.ClientSession | None = None,
        *,
        path: str = "/slack/events",
    ) -> None:
        self.url = bot_url.rstrip("/") + path
        self.signing_secret = signing_secret
        self.workspace = workspace
        self.standin_url = standin_url if standin_url.endswith("/") else standin_url + "/"
        self._session = session
        self._owns_session = session is None
        self._event_counter = 0

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- transport ---------------------------------------------------------------------------------

    def signed_headers(self, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
        """X-Slack-Request-Timestamp and X-Slack-Signature for `body`, computed exactly as Slack does."""
        raw = body.encode() if isinstance(body, str) else body
        ts = str(int(time.time()) if timestamp is None else timestamp)
        base = b"v0:" + ts.encode() + b":" + raw
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    async def raw(self, body: bytes, headers: dict[str, str]) -> DriverResponse:
        """Send `body` with exactly these headers — for signature and replay tests."""
        return await self._post(body, headers, payload=None)

    async def redeliver(self, response: DriverResponse, retry_num: int) -> DriverResponse:
        """Send the payload behind `response` again, as Slack does when it thinks a delivery timed out."""
        payload = response.payload
        if payload is None:
            raise ValueError("this response has no payload to redeliver")
        if "command" in payload:
            kind, form = "slash_command", {k: str(v) for k, v in payload.items()}
        else:
            kind, form = str(payload.get("type")), None
        return await self._deliver(kind, payload, form=form, retry_num=retry_num, timestamp=None)

    async def _post(
        self, body: bytes, headers: dict[str, str], payload: dict[str, Any] | None
    ) -> DriverResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        started = time.monotonic()
        async with self._session.post(self.url, data=body, headers=headers) as response:
            text = await response.text()
            status = response.status
        elapsed = time.monotonic() - started
        parsed: dict[str, Any] | None = None
        if text.strip():
            try:
                value = json.loads(text)
                parsed = value if isinstance(value, dict) else None
            except json.JSONDecodeError:
                parsed = None
        return DriverResponse(status=status, body=text, json=parsed, elapsed=elapsed, payload=payload)

    async def _deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        form: dict[str, str] | None = None,
        retry_num: int | None,
        timestamp: int | None,
    ) -> DriverResponse:
        if form is not None:
            body, content_type = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
        elif kind == "event_callback" or kind == "url_verification":
            body, content_type = json.dumps(payload).encode(), "application/json"
        else:
            body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
            content_type = "application/x-www-form-urlencoded"
        headers = {"Content-Type": content_type, **self.signed_headers(body, timestamp)}
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        response = await self._post(body, headers, payload)
        self._check_ack(kind, response)
        return response

    def _check_ack(self, kind: str, response: DriverResponse) -> None:
        """Log what Slack would count as a failed delivery: a late ack or an HTTP error."""
        error = None
        if response.elapsed > ACK_DEADLINE:
            error = "operation_timeout"
        elif not response.ok:
            error = f"http_{response.status}"
        if error:
            self._record(f"ack.{kind}", {"elapsed": round(response.elapsed, 3)}, error, response.status)

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        error: str | None,
        status: int = 200,
        details: list[str] | None = None,
    ) -> None:
        self.workspace.record(
            Call(
                method=method,
                args=args,
                ok=error is None,
                error=error,
                status=status,
                at=self.workspace.now(),
                details=tuple(details or ()),
            )
        )

    def _base(self, user_id: str) -> dict[str, Any]:
        ws = self.workspace
        return {
            "user": user_ref(ws, user_id),
            "team": team_ref(ws),
            "api_app_id": ws.app_id,
            "token": VERIFICATION_TOKEN,
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def _response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        return self.workspace.new_response_url(
            channel_id, user_id, message_ts=message_ts, base_url=self.standin_url
        )

    # -- slash commands ----------------------------------------------------------------------------

    async def slash(
        self,
        user_id: str,
        channel_id: str,
        text: str,
        command: str = "/incident",
        *,
        retry_num: int | None = None,
        timestamp: int | None = None,
    ) -> DriverResponse:
        """`user_id` types `command text` in `channel_id`; the ack is shown to them as Slack would."""
        ws = self.workspace
        user, channel = user_ref(ws, user_id), channel_ref(ws, channel_id)
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": ws.team_id,
            "team_domain": ws.team_domain,
            "channel_id": channel["id"],
            "channel_name": channel["name"],
            "user_id": user["id"],
            "user_name": user["name"],
            "command": command,
            "text": text,
            "api_app_id": ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel_id, user_id),
            "trigger_id": ws.issue_trigger(user_id),
        }
        response = await self._deliver(
            "slash_command", dict(form), form=form, retry_num=retry_num, timestamp=timestamp
        )
        if response.ok and response.elapsed <= ACK_DEADLINE:
            self._show_command_ack(channel_id, user_id, response)
        return response

    def _show_command_ack(self, channel_id: str, user_id: str, response: DriverResponse) -> None:
        """An ack with a body is a message: ephemeral to the user unless it says `in_channel`."""
        if not response.body.strip():
            return
        message = response.json if response.json is not None else {"text": response.body}
        text, blocks = message.get("text") or "", message.get("blocks")
        if not text and not blocks:
            return
        problem = message_error(text, blocks)
        if problem is not None:
            self._record("ack.slash_command", message, problem[0], details=problem[1])
            return
        self._record("ack.slash_command", message, None)
        if message.get("response_type") == "in_channel":
            self.workspace.add_message(channel_id, self.workspace.bot_user_id, text, blocks)
        else:
            self.workspace.add_ephemeral(channel_id, user_id, text, blocks)

    # -- modals ------------------------------------------------------------------------------------

    def _open_view(self, user_id: str, view_id: str) -> View:
        view = self.workspace.views.get(view_id)
        if view is None:
            raise ValueError(f"no view {view_id!r} in the stand-in workspace")
        if not view.is_open:
            raise ValueError(f"view {view_id} is closed; {user_id} cannot interact with it")
        if view.user != user_id:
            raise ValueError(f"view {view_id} is shown to {view.user}, not {user_id}")
        return view

    async def submit_view(
        self,
        user_id: str,
        view_id: str,
        values: dict[str, Any] | None = None,
        *,
        retry_num: int | None = None,
        timestamp: int | None = None,
    ) -> DriverResponse:
        """`user_id` fills in `values` (block_id -> action_id -> value) and presses Submit."""
        ws = self.workspace
        view = self._open_view(user_id, view_id)
        if view.type != "modal":
            raise ValueError(f"view {view_id} is a {view.type} view; only modals are submitted")
        state = view_state(ws, view, values)
        view.state_values = state
        payload = {
            "type": "view_submission",
            **self._base(user_id),
            "trigger_id": ws.issue_trigger(user_id),
            "view": view.to_api(ws),
            "response_urls": response_urls(ws, view, state, self.standin_url),
        }
        response = await self._deliver("view_submission", payload, retry_num=retry_num, timestamp=timestamp)
        if response.ok and response.elapsed <= ACK_DEADLINE:
            self._apply_view_ack(view, response)
        return response

    def _apply_view_ack(self, view: View, response: DriverResponse) -> None:
        ws = self.workspace
        ack = response.json or {}
        action = ack.get("response_action")
        if not response.body.strip() or action is None:
            ws.close_view(view.id)
            return
        error: str | None = None
        details: list[str] = []
        if action in ("update", "push"):
            details = validate_view(ack.get("view"))
            if not details and ack["view"].get("type") != "modal":
                details = ["must be modal [json-pointer:/view/type]"]
            if details:
                error = "invalid_arguments"
            elif action == "update":
                ws.replace_view(view, dict(ack["view"]))
            elif len(ws.stack(view.id)) >= VIEW_STACK_MAX:
                error = "push_limit_reached"
            else:
                ws.add_view(view.user, dict(ack["view"]), previous=view)
        elif action == "clear":
            ws.close_view(view.id, whole_stack=True)
        elif action == "errors":
            inputs = {b.get("block_id") for b in view.view.get("blocks", []) if b.get("type") == "input"}
            errors = ack.get("errors")
            if not isinstance(errors, dict) or not errors:
                error, details = "invalid_arguments", ["errors must be a non-empty object"]
            else:
                details = [
                    f"errors names {k!r}, which is not an input block" for k in errors if k not in inputs
                ]
                error = "invalid_arguments" if details else None
        else:
            error, details = "invalid_arguments", [f"unknown response_action {action!r}"]
        self._record("ack.view_submission", {"view_id": view.id, **ack}, error, details=details)

    async def close_view(
        self, user_id: str, view_id: str, *, retry_num: int | None = None, timestamp: int | None = None
    ) -> DriverResponse | None:
        """`user_id` presses Cancel; the bot hears about it only if the view asked (notify_on_close)."""
        ws = self.workspace
        view = self._open_view(user_id, view_id)
        ws.close_view(view_id, whole_stack=bool(view.view.get("clear_on_close")))
        if not view.view.get("notify_on_close"):
            return None
        payload = {"type": "view_closed", **self._base(user_id), "view": view.to_api(ws), "is_cleared": False}
        return await self._deliver("view_closed", payload, retry_num=retry_num, timestamp=timestamp)

    # -- clicks and shortcuts ----------------------------------------------------------------------

    def _find_message(self, user_id: str, channel_id: str, message_ts: str) -> Message:
        ws = self.workspace
        message = ws.message(channel_id, message_ts)
        if message is None:
            ephemerals = ws.ephemerals.get((channel_id, user_id), [])
            message = next((m for m in ephemerals if m.ts == message_ts), None)
        if message is None:
            raise ValueError(f"no message {message_ts} in {channel_id} visible to {user_id}")
        return message

    async def click(
        self,
        user_id: str,
        action_id: str,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        value: Any = None,
        selected: Any = None,
        block_id: str | None = None,
        retry_num: int | None = None,
        timestamp: int | None = None,
    ) -> DriverResponse:
        """`user_id` clicks (or picks `selected` in) the element `action_id` of a message or a view."""
        ws = self.workspace
        payload: dict[str, Any] = {"type": "block_actions", **self._base(user_id)}
        if view_id is not None:
            view = self._open_view(user_id, view_id)
            blocks, where = view.view.get("blocks", []), f"view {view_id}"
            payload["container"] = {"type": "view", "view_id": view_id}
            payload["view"] = {
                **view.to_api(ws),
                "state": {"values": view_state(ws, view, None, require=False)},
            }
        elif channel_id is not None and message_ts is not None:
            message = self._find_message(user_id, channel_id, message_ts)
            blocks, where = message.blocks, f"message {message_ts} in {channel_id}"
            ephemeral = message.ephemeral_to is not None
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            }
            payload["channel"] = channel_ref(ws, channel_id)
            if not ephemeral:
                payload["message"] = message.to_api(ws)
            payload["response_url"] = self._response_url(channel_id, user_id, message_ts)
        else:
            raise ValueError("click needs view_id=, or channel_id= and message_ts=")
        block, element = find_action(blocks, action_id, value=value, block_id=block_id, where=where)
        payload["trigger_id"] = ws.issue_trigger(user_id)
        payload["state"] = {"values": payload.get("view", {}).get("state", {}).get("values", {})}
        payload["actions"] = [action_payload(ws, block, element, selected, ws.next_ts())]
        return await self._deliver("block_actions", payload, retry_num=retry_num, timestamp=timestamp)

    async def message_shortcut(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        callback_id: str,
        *,
        retry_num: int | None = None,
        timestamp: int | None = None,
    ) -> DriverResponse:
        """`user_id` runs the message shortcut `callback_id` on a message."""
        ws = self.workspace
        message = self._find_message(user_id, channel_id, message_ts)
        payload = {
            "type": "message_action",
            **self._base(user_id),
            "callback_id": callback_id,
            "trigger_id": ws.issue_trigger(user_id),
            "action_ts": ws.next_ts(),
            "message_ts": message_ts,
            "message": message.to_api(ws),
            "channel": channel_ref(ws, channel_id),
            "response_url": self._response_url(channel_id, user_id),
        }
        return await self._deliver("message_action", payload, retry_num=retry_num, timestamp=timestamp)

    async def global_shortcut(
        self, user_id: str, callback_id: str, *, retry_num: int | None = None, timestamp: int | None = None
    ) -> DriverResponse:
        ws = self.workspace
        payload = {
            "type": "shortcut",
            **self._base(user_id),
            "callback_id": callback_id,
            "trigger_id": ws.issue_trigger(user_id),
            "action_ts": ws.next_ts(),
        }
        return await self._deliver("shortcut", payload, retry_num=retry_num, timestamp=timestamp)

    # -- Events API --------------------------------------------------------------------------------

    def new_event_id(self) -> str:
        self._event_counter += 1
        return f"Ev{self._event_counter:010d}"

    async def event(
        self,
        event: dict[str, Any],
        *,
        retry_num: int | None = None,
        event_id: str | None = None,
        timestamp: int | None = None,
    ) -> DriverResponse:
        """Deliver `event` in an `event_callback` envelope; pass the same event_id to simulate a retry."""
        ws = self.workspace
        inner = {"event_ts": event.get("ts") or ws.next_ts(), **event}
        payload = {
            "token": VERIFICATION_TOKEN,
            "team_id": ws.team_id,
            "api_app_id": ws.app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or self.new_event_id(),
            "event_time": int(float(inner["event_ts"])),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return await self._deliver("event_callback", payload, retry_num=retry_num, timestamp=timestamp)

    async def reaction_added(
        self, user_id: str, channel_id: str, message_ts: str, reaction: str = "pushpin", **kwargs: Any
    ) -> DriverResponse:
        """`user_id` reacts to a message: the reaction is stored, then the event is delivered."""
        message = self._find_message(user_id, channel_id, message_ts)
        users = message.reactions.setdefault(reaction, [])
        if user_id not in users:
            users.append(user_id)
        event = {
            "type": "reaction_added",
            "user": user_id,
            "reaction": reaction,
            "item_user": message.user,
            "item": {"type": "message", "channel": channel_id, "ts": message_ts},
        }
        return await self.event(event, **kwargs)

    async def user_message(
        self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None, **kwargs: Any
    ) -> DriverResponse:
        """`user_id` posts `text` in a channel: the message is stored, then the `message` event delivered."""
        ws = self.workspace
        message = ws.add_message(channel_id, user_id, text, thread_ts=thread_ts)
        channel = ws.channels[channel_id]
        channel_type = (
            "im"
            if channel.is_im
            else "mpim"
            if channel.is_mpim
            else ("group" if channel.is_private else "channel")
        )
        event = {**message.to_api(ws), "channel": channel_id, "channel_type": channel_type}
        return await self.event(event, **kwargs)

    async def url_verification(self, challenge: str, *, timestamp: int | None = None) -> DriverResponse:
        payload = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return await self._deliver("url_verification", payload, retry_num=None, timestamp=timestamp)
