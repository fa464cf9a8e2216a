"""The sandbox page and its JSON API, mounted on the bot's own aiohttp app.

The API reads the stand-in `Workspace` and acts only the way Slack would: through `SlackDriver`
(signed slash commands, block_actions, view_submission, view_closed, events to the bot's
`/slack/events`) or through the workspace's own bookkeeping for what Slack does without telling the
bot (a plain message in a channel the app does not listen to, joining a channel). It never calls the
bot's services, so the page exercises exactly the path a real workspace does.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.inputs import client_errors
from bot.sandbox.snapshot import can_see, snapshot
from bot.standin import ACK_DEADLINE, DriverResponse, SlackDriver, Workspace
from bot.standin.payloads import view_state

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"sandbox.js": "application/javascript", "sandbox.css": "text/css"}
SLASH_COMMANDS = ("/incident", "/oncall")
"""The app's slash commands, as manifest.yml declares them (a test keeps the two in step)."""
MESSAGE_SHORTCUTS = (("declare_incident_from_message", "Declare incident"),)
"""The app's message shortcuts (callback_id, name), as manifest.yml declares them."""
BOT_EVENTS = frozenset({"reaction_added"})
"""The events the app subscribes to in manifest.yml: Slack delivers these (here: reactions) and no
others, so a plain message is only shown, never delivered."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' http: https: data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A request the page should not have sent (unknown user, invisible channel…): HTTP 400 with why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Sandbox:
    workspace: Workspace
    driver: SlackDriver


SANDBOX = web.AppKey("sandbox", Sandbox)


def add_sandbox_routes(app: web.Application, sandbox: Sandbox) -> None:
    app[SANDBOX] = sandbox
    app.router.add_get("/", _root)
    app.router.add_get("/sandbox", _page)
    app.router.add_get("/sandbox/static/{name}", _static)
    app.router.add_get("/sandbox/api/state", _api(_state))
    app.router.add_get("/sandbox/api/files/{file_id}", _api(_file))
    for name, handler in (
        ("message", _message),
        ("action", _action),
        ("submit", _submit),
        ("close", _close),
        ("react", _react),
        ("shortcut", _shortcut),
        ("join", _join),
    ):
        app.router.add_post(f"/sandbox/api/{name}", _api(handler))


# -- plumbing ----------------------------------------------------------------------------------------


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX]


def _check_origin(request: web.Request) -> None:
    """Loopback only, and no cross-site posts: another web page open in the browser must not drive it."""
    if (request.host or "").rsplit(":", 1)[0] not in LOOPBACK_HOSTS:
        raise Refused("the sandbox answers on 127.0.0.1 only", 403)
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1].rsplit(":", 1)[0] not in LOOPBACK_HOSTS:
        raise Refused("cross-site request refused", 403)
    if request.method == "POST" and request.content_type != "application/json":
        raise Refused("send JSON (application/json)", 415)


def _api(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            _check_origin(request)
            return await handler(request)
        except Refused as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
        except ValueError as exc:  # the driver's "no real user could do that" checks
            return web.json_response({"ok": False, "error": str(exc)}, status=400)

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Refused("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise Refused("the body must be a JSON object")
    return data


def _user(ws: Workspace, data: dict[str, Any]) -> str:
    user_id = str(data.get("user") or "")
    user = ws.users.get(user_id)
    if user is None or user.is_bot or user.deleted:
        raise Refused(f"no person {user_id!r} in the sandbox workspace")
    return user_id


def _channel(ws: Workspace, user_id: str, channel_id: Any, *, member: bool = False) -> str:
    channel = ws.channels.get(str(channel_id or ""))
    if channel is None or not can_see(ws, user_id, channel):
        raise Refused(f"no channel {channel_id!r} visible to {user_id}")
    if member and user_id not in channel.members:
        raise Refused(f"join #{channel.name} first", 409)
    return channel.id


def _delivery(response: DriverResponse, what: str) -> dict[str, Any]:
    """Slack's own words when the app does not answer in time or answers with an error."""
    if response.elapsed > ACK_DEADLINE:
        return {"ok": False, "error": f'{what} failed with the error "operation_timeout"'}
    if not response.ok:
        return {
            "ok": False,
            "error": f'{what} failed with the error "dispatch_failed" (HTTP {response.status})',
        }
    return {"ok": True}


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


# -- the page ----------------------------------------------------------------------------------------


async def _root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/sandbox")


async def _page(request: web.Request) -> web.StreamResponse:
    body = (STATIC / "sandbox.html").read_text(encoding="utf-8")
    return web.Response(text=body, content_type="text/html", headers=_headers())


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    body = (STATIC / name).read_text(encoding="utf-8")
    return web.Response(text=body, content_type=STATIC_FILES[name], headers=_headers())


# -- reading -----------------------------------------------------------------------------------------


async def _state(request: web.Request) -> web.StreamResponse:
    ws = _sandbox(request).workspace
    user_id = _user(ws, dict(request.query))
    data = snapshot(ws, user_id, request.query.get("channel"), request.query.get("thread"))
    data["slash_commands"] = list(SLASH_COMMANDS)
    data["message_shortcuts"] = [{"callback_id": c, "name": n} for c, n in MESSAGE_SHORTCUTS]
    return web.json_response(data, dumps=lambda d: json.dumps(d, default=str), headers=_headers())


async def _file(request: web.Request) -> web.StreamResponse:
    """An uploaded file (runbook output, post-mortem), as plain text whatever it contains."""
    ws = _sandbox(request).workspace
    upload = ws.files.get(request.match_info["file_id"])
    if upload is None or upload.content is None:
        raise Refused("no such file", 404)
    return web.Response(
        text=upload.text,
        content_type="text/plain",
        charset="utf-8",
        headers={**_headers(), "Content-Security-Policy": "sandbox; default-src 'none'"},
    )


# -- acting as a user --------------------------------------------------------------------------------


def _typed_text(ws: Workspace, text: str) -> str:
    """What Slack's client sends for typed text: &, <, > escaped; @name, #channel and URLs made links."""
    escaped = html.escape(text, quote=False)

    def user(match: re.Match[str]) -> str:
        found = ws.user_by_name(match.group(2))
        return f"{match.group(1)}<@{found.id}>" if found else match.group(0)

    def channel(match: re.Match[str]) -> str:
        found = ws.channel_by_name(match.group(2))
        return f"{match.group(1)}<#{found.id}|{found.name}>" if found else match.group(0)

    escaped = re.sub(r"(^|\s)@([\w.\-]+)", user, escaped)
    escaped = re.sub(r"(^|\s)#([a-z0-9_\-]+)", channel, escaped)
    return re.sub(r"(^|\s)(https?://[^\s<>|]+)", r"\1<\2>", escaped)


async def _message(request: web.Request) -> web.StreamResponse:
    """The composer: `/command text` is a slash command, anything else a message in the channel."""
    sandbox = _sandbox(request)
    ws, data = sandbox.workspace, await _body(request)
    user_id = _user(ws, data)
    channel_id = _channel(ws, user_id, data.get("channel"), member=True)
    text = str(data.get("text") or "").strip()
    thread_ts = str(data.get("thread_ts") or "") or None
    if not text:
        raise Refused("nothing to send")
    if text.startswith("/") and thread_ts is None:
        command, _, rest = text.partition(" ")
        if command not in SLASH_COMMANDS:
            known = ", ".join(SLASH_COMMANDS)
            return web.json_response(
                {"ok": False, "error": f"{command} is not a valid command. This app's commands: {known}."}
            )
        response = await sandbox.driver.slash(user_id, channel_id, rest.strip(), command)
        return web.json_response(_delivery(response, command))
    if thread_ts is not None and ws.message(channel_id, thread_ts) is None:
        raise Refused(f"no thread {thread_ts} in {channel_id}")
    # The app subscribes to no message events (manifest.yml), so Slack just shows the message.
    message = ws.add_message(channel_id, user_id, _typed_text(ws, text), thread_ts=thread_ts)
    return web.json_response({"ok": True, "ts": message.ts})


async def _action(request: web.Request) -> web.StreamResponse:
    """A click on a button, or a pick in a select / date / checkbox, in a message or a modal."""
    sandbox = _sandbox(request)
    ws, data = sandbox.workspace, await _body(request)
    user_id = _user(ws, data)
    action_id = str(data.get("action_id") or "")
    kwargs: dict[str, Any] = {
        "block_id": str(data["block_id"]) if data.get("block_id") else None,
        "value": data.get("value"),
        "selected": data.get("selected"),
    }
    view_id = data.get("view_id")
    if view_id:
        view = ws.views.get(str(view_id))
        if view is None or view.user != user_id or not view.is_open:
            raise Refused(f"no open view {view_id!r} for {user_id}")
        if isinstance(data.get("values"), dict):  # what the modal shows now travels with the click
            view.state_values = view_state(ws, view, data["values"], require=False)
        response = await sandbox.driver.click(user_id, action_id, view_id=view.id, **kwargs)
    else:
        channel_id = _channel(ws, user_id, data.get("channel"))
        message_ts = str(data.get("message_ts") or "")
        response = await sandbox.driver.click(
            user_id, action_id, channel_id=channel_id, message_ts=message_ts, **kwargs
        )
    return web.json_response(_delivery(response, "This app"))


async def _submit(request: web.Request) -> web.StreamResponse:
    """Submit a modal: Slack's client checks first, then the bot's `response_action` decides."""
    sandbox = _sandbox(request)
    ws, data = sandbox.workspace, await _body(request)
    user_id = _user(ws, data)
    view = ws.views.get(str(data.get("view_id") or ""))
    if view is None or view.user != user_id or not view.is_open:
        raise Refused(f"no open view {data.get('view_id')!r} for {user_id}")
    values = data.get("values") if isinstance(data.get("values"), dict) else {}
    errors = client_errors(ws, view, values)
    if errors:
        return web.json_response({"ok": True, "errors": errors, "checked_by": "client"})
    response = await sandbox.driver.submit_view(user_id, view.id, values)
    result = _delivery(response, "This app")
    if not result["ok"]:
        result["error"] = "We had some trouble connecting. Try again? (" + result["error"] + ")"
        return web.json_response(result)
    return web.json_response({"ok": True, "errors": response.view_errors or {}, "checked_by": "app"})


async def _close(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    ws, data = sandbox.workspace, await _body(request)
    user_id = _user(ws, data)
    response = await sandbox.driver.close_view(user_id, str(data.get("view_id") or ""))
    return web.json_response({"ok": True} if response is None else _delivery(response, "This app"))


async def _react(request: web.Request) -> web.StreamResponse:
    """Add a reaction (Slack then delivers `reaction_added`); the same reaction again takes it off."""
    sandbox = _sandbox(request)
    ws, data = sandbox.workspace, await _body(request)
    user_id = _user(ws, data)
    channel_id = _channel(ws, user_id, data.get("channel"), member=True)
    message = ws.message(channel_id, str(data.get("ts") or ""))
    if message is None:
        raise Refused("no such message (ephemeral messages take no reactions)")
    reaction = str(data.get("reaction") or "pushpin").strip(":")
    if not re.fullmatch(r"[a-z0-9_+\-]{1,100}", reaction):
        raise Refused(f"not an emoji name: {reaction!r}")
    users = message.reactions.get(reaction, [])
    if user_id in users:  # reaction_removed: the app does not subscribe to it, so Slack sends nothing
        users.remove(user_id)
        if not users:
            message.reactions.pop(reaction, None)
        return web.json_response({"ok": True, "removed": True})
    response = await sandbox.driver.reaction_added(user_id, channel_id, message.ts, reaction)
    return web.json_response(_delivery(response, "This app"))


async def _shortcut(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    ws, data = sandbox.workspace, await _body(request)
    user_id = _user(ws, data)
    channel_id = _channel(ws, user_id, data.get("channel"))
    callback_id = str(data.get("callback_id") or "")
    if callback_id not in {c for c, _ in MESSAGE_SHORTCUTS}:
        raise Refused(f"the app has no message shortcut {callback_id!r}")
    response = await sandbox.driver.message_shortcut(
        user_id, channel_id, str(data.get("ts") or ""), callback_id
    )
    return web.json_response(_delivery(response, "This app"))


async def _join(request: web.Request) -> web.StreamResponse:
    ws, data = _sandbox(request).workspace, await _body(request)
    user_id = _user(ws, data)
    channel = ws.channels[_channel(ws, user_id, data.get("channel"))]
    if user_id not in channel.members:
        channel.members.add(user_id)
        ws.add_message(channel.id, user_id, f"<@{user_id}> has joined the channel", subtype="channel_join")
    return web.json_response({"ok": True})
