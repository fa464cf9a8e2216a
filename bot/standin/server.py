"""The HTTP face of the stand-in: Slack's Web API, response_url and file upload endpoints.

The bot talks to it through an unmodified `AsyncWebClient(base_url=...)`, so everything the SDK does
on the wire — query, form or JSON arguments, bearer tokens, 429 retries — is exercised for real.
Each call is answered by `methods.dispatch` and recorded in the workspace's call log, refusals
included, so a test can finish with `assert workspace.errors() == []`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.standin.blockkit import message_error
from bot.standin.methods import METHODS, SCOPES, decode_json_arguments, dispatch
from bot.standin.socket_mode import OPEN_METHOD, SOCKET_MODE, SOCKET_PATH, SocketModeHub, check_app_token
from bot.standin.state import (
    RESPONSE_URL_LIFETIME,
    RESPONSE_URL_USES,
    Call,
    Message,
    ResponsePost,
    ResponseUrl,
    SlackError,
    Workspace,
)
from bot.standin.switches import Arrival

log = logging.getLogger(__name__)

WORKSPACE = web.AppKey("workspace", Workspace)
UPLOAD_MAX_BYTES = 64 * 1024 * 1024
_SECRET_ARGUMENTS = frozenset({"token", "client_secret"})


def create_standin_app(workspace: Workspace, *, base_url: str | None = None) -> web.Application:
    """An aiohttp app answering Slack's Web API against `workspace`, Socket Mode included.

    `base_url` is where the app is reachable (response, upload and socket URLs point there);
    `start_standin` fills it in, embedders with their own server pass it explicitly.
    """
    if base_url:
        workspace.base_url = base_url if base_url.endswith("/") else base_url + "/"
    app = web.Application(client_max_size=UPLOAD_MAX_BYTES)
    app[WORKSPACE] = workspace
    hub = app[SOCKET_MODE] = SocketModeHub(workspace)
    app.router.add_get(SOCKET_PATH, hub.handle)
    app.on_shutdown.append(hub.close_all)
    app.router.add_route("POST", "/api/{method}", _api)
    app.router.add_route("GET", "/api/{method}", _api)
    app.router.add_post("/response/{token:.+}", _response_url)
    app.router.add_post("/upload/v1/{file_id}", _upload)
    app.router.add_get("/_standin/state", _state)
    return app


# -- Web API ---------------------------------------------------------------------------------------


async def read_arguments(request: web.Request) -> dict[str, Any]:
    """Merge query, form and JSON arguments the way Slack does; JSON-in-a-string values are decoded."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                data = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise SlackError("invalid_json") from exc
            if not isinstance(data, dict):
                raise SlackError("invalid_json")
            args.update(data)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return decode_json_arguments(args)


def _bearer(request: web.Request, args: dict[str, Any]) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    token = args.get("token")
    return str(token) if token else None


def _check_token(token: str | None) -> None:
    if not token:
        raise SlackError("not_authed")
    if not token.startswith(("xoxb-", "xoxp-")):
        raise SlackError("invalid_auth")


def _authorize(name: str, token: str | None) -> None:
    """Socket Mode's one method wants an app-level token; every other method a bot or user token."""
    if name == OPEN_METHOD:
        check_app_token(token)
        return
    if name not in METHODS:
        raise SlackError("unknown_method")
    _check_token(token)


def _answer(app: web.Application, name: str, args: dict[str, Any]) -> dict[str, Any]:
    if name == OPEN_METHOD:
        return app[SOCKET_MODE].open()
    return dispatch(app[WORKSPACE], name, args)


async def _api(request: web.Request) -> web.Response:
    ws = request.app[WORKSPACE]
    name = request.match_info["method"]
    args: dict[str, Any] = {}
    headers = {"X-OAuth-Scopes": SCOPES}
    injected = False
    try:
        args = await read_arguments(request)
        _authorize(name, _bearer(request, args))
        hold, late_answer = ws.switches.take_delay(name, args)
        if hold:
            ws.switches.arrivals.append(Arrival(name, dict(args), ws.now()))
            if not late_answer:
                await asyncio.sleep(hold)
        fault = ws.take_fault(name, args)
        if fault is not None and fault.error:
            injected = True
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            raise SlackError(fault.error, status=fault.status)
        retry_after = ws.switches.admit(name)
        if retry_after is not None:
            injected = True
            headers["Retry-After"] = str(retry_after)
            raise SlackError("ratelimited", status=429)
        body = {"ok": True, **_answer(request.app, name, args)}
        status = 200
        if hold and late_answer:
            await asyncio.sleep(hold)
    except SlackError as refusal:
        body, status = refusal.body(), refusal.status
    except Exception as exc:  # a stand-in bug must reach the test as a failed call, not a hung client
        log.exception("stand-in crashed answering %s", name)
        body = {"ok": False, "error": "internal_error", "response_metadata": {"messages": [repr(exc)]}}
        status = 200
    logged = {k: v for k, v in args.items() if k not in _SECRET_ARGUMENTS}
    ws.record(
        Call(
            method=name,
            args=logged,
            ok=bool(body.get("ok")),
            error=body.get("error"),
            status=status,
            at=ws.now(),
            details=tuple(body.get("response_metadata", {}).get("messages", []))
            if not body.get("ok")
            else (),
            injected=injected,
        )
    )
    if not body.get("ok"):
        log.info("stand-in refused %s: %s %s", name, body.get("error"), body.get("response_metadata", ""))
    return web.json_response(body, status=status, headers=headers)


# -- response_url ----------------------------------------------------------------------------------


def _original(ws: Workspace, hook: ResponseUrl) -> tuple[list[Message], Message] | None:
    """The message an interaction came from, and the list holding it (channel or ephemeral)."""
    if hook.message_ts is None:
        return None
    channel = ws.channels.get(hook.channel)
    if channel is not None and (found := channel.find(hook.message_ts)) is not None:
        return channel.messages, found
    ephemerals = ws.ephemerals.get((hook.channel, hook.user), [])
    found = next((m for m in ephemerals if m.ts == hook.message_ts), None)
    return (ephemerals, found) if found is not None else None


def _apply_response(ws: Workspace, hook: ResponseUrl, payload: dict[str, Any]) -> ResponsePost:
    text = payload.get("text") or ""
    blocks = payload.get("blocks")
    replace = bool(payload.get("replace_original"))
    delete = bool(payload.get("delete_original"))
    response_type = payload.get("response_type") or "ephemeral"
    post = ResponsePost(
        token=hook.token,
        channel=hook.channel,
        user=hook.user,
        text=text,
        blocks=list(blocks) if isinstance(blocks, list) else [],
        response_type=response_type,
        replace_original=replace,
        delete_original=delete,
        at=ws.now(),
    )
    original = _original(ws, hook)
    if delete:
        if original is not None:
            holder, message = original
            holder.remove(message)
        return post
    problem = message_error(text, blocks, attachments=payload.get("attachments"))
    if problem is not None:
        raise SlackError(problem[0], messages=problem[1], status=400)
    if replace and original is not None:
        message = original[1]
        message.text, message.blocks = text, ws.assign_block_ids(post.blocks)
        message.edited, message.edited_ts = True, ws.next_ts()
    elif response_type == "in_channel" and hook.channel in ws.channels:
        ws.add_message(hook.channel, ws.bot_user_id, text, post.blocks, thread_ts=payload.get("thread_ts"))
    else:
        ws.add_ephemeral(hook.channel, hook.user, text, post.blocks)
    return post


async def _response_url(request: web.Request) -> web.Response:
    """Slack's response_url: five posts within thirty minutes, each shown in the originating channel."""
    ws = request.app[WORKSPACE]
    token = request.match_info["token"]
    payload: dict[str, Any] = {}
    hook = ws.response_urls.get(token)
    post: ResponsePost | None = None
    try:
        if hook is None:
            raise SlackError("no_active_hooks", status=404)
        if ws.now() - hook.issued_at > RESPONSE_URL_LIFETIME:
            raise SlackError("expired_url", status=404)
        if hook.uses >= RESPONSE_URL_USES:
            raise SlackError("used_url", status=404)
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SlackError("invalid_payload", status=400) from exc
        if not isinstance(data, dict):
            raise SlackError("invalid_payload", status=400)
        payload = decode_json_arguments(data)
        hook.uses += 1
        post = _apply_response(ws, hook, payload)
        ws.responses.append(post)
        body: dict[str, Any] = {"ok": True}
        status = 200
    except SlackError as refusal:
        body, status = refusal.body(), refusal.status
        if hook is not None:
            ws.responses.append(
                ResponsePost(
                    token=token,
                    channel=hook.channel,
                    user=hook.user,
                    text=str(payload.get("text") or ""),
                    blocks=payload.get("blocks") if isinstance(payload.get("blocks"), list) else [],
                    response_type=str(payload.get("response_type") or "ephemeral"),
                    replace_original=bool(payload.get("replace_original")),
                    delete_original=bool(payload.get("delete_original")),
                    at=ws.now(),
                    ok=False,
                    error=refusal.error,
                )
            )
    ws.record(
        Call(
            method="response_url",
            args={"token": token, **payload},
            ok=bool(body.get("ok")),
            error=body.get("error"),
            status=status,
            at=ws.now(),
            details=tuple(body.get("response_metadata", {}).get("messages", [])),
        )
    )
    return web.json_response(body, status=status)


# -- files and debugging ---------------------------------------------------------------------------


async def _upload(request: web.Request) -> web.Response:
    """The upload URL handed out by files.getUploadURLExternal; accepts a raw body or a `file` form part."""
    ws = request.app[WORKSPACE]
    upload = ws.files.get(request.match_info["file_id"])
    if upload is None:
        return web.Response(status=404, text="file_not_found", content_type="text/plain")
    if request.content_type == "multipart/form-data":
        form = await request.post()
        part = form.get("file") or form.get("filename")
        content = part.file.read() if isinstance(part, web.FileField) else str(part or "").encode()
    else:
        content = await request.read()
    upload.content = content
    upload.length = len(content)
    return web.Response(text=f"OK - {len(content)}", content_type="text/plain")


async def _state(request: web.Request) -> web.Response:
    return web.json_response(request.app[WORKSPACE].to_json(), dumps=lambda d: json.dumps(d, default=str))


# -- running it ------------------------------------------------------------------------------------


@dataclass
class RunningStandin:
    """A stand-in listening on a local port; `api_url` is what the bot's AsyncWebClient needs."""

    url: str
    api_url: str
    workspace: Workspace
    runner: web.AppRunner

    @property
    def socket_mode(self) -> SocketModeHub:
        """Slack's end of Socket Mode connections, for pushing envelopes to a bot that uses it."""
        return self.runner.app[SOCKET_MODE]

    async def close(self) -> None:
        await self.runner.cleanup()

    async def __aenter__(self) -> RunningStandin:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def start_standin(
    workspace: Workspace | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningStandin:
    """Serve the stand-in on `host:port` (an ephemeral port by default), loopback only unless told."""
    ws = workspace if workspace is not None else Workspace()
    app = create_standin_app(ws)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)  # a hung call must not hold it
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    url = f"http://{host}:{bound_port}/"
    ws.base_url = url
    return RunningStandin(url=url, api_url=f"{url}api/", workspace=ws, runner=runner)
