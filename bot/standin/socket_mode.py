"""Socket Mode as Slack serves it: `apps.connections.open` hands out a URL, the app dials in on a websocket.

A bot started with an app-level token (xapp-…) receives nothing over HTTP: slash commands, clicks,
submissions and events arrive as envelopes on a websocket it opened itself, and it acks each one by
sending the envelope id back, with the response payload when the envelope accepts one. `SocketModeHub`
plays Slack's side of that connection; `SocketModeDriver` reuses every payload builder of the HTTP
`SlackDriver`, so a flow test sends the same payloads whichever transport the bot uses.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot.standin.driver import ACK_DEADLINE, DriverResponse, SlackDriver
from bot.standin.state import Call, SlackError, Workspace

OPEN_METHOD = "apps.connections.open"
SOCKET_PATH = "/socket/{ticket}"
BOT_TOKEN_PREFIXES = ("xoxb-", "xoxp-")
RESPONSE_PAYLOAD_KINDS = frozenset({"slash_command", "view_submission", "block_suggestion"})
"""Deliveries whose ack may carry a payload (a message, `response_action`, options); Slack drops the rest."""
NO_ACK_STATUS = 408
"""The status of a `DriverResponse` for an envelope the bot never acked."""
_HOST = "applink-standin"


def check_app_token(token: str | None) -> None:
    """Only an app-level token may open a socket; Slack names a bot or user token's mistake precisely."""
    if not token:
        raise SlackError("not_authed")
    if token.startswith(BOT_TOKEN_PREFIXES):
        raise SlackError("not_allowed_token_type")
    if not token.startswith("xapp-"):
        raise SlackError("invalid_auth")


def envelope_type(kind: str) -> str:
    """The envelope `type` Slack uses for what the HTTP driver calls `kind`."""
    if kind == "slash_command":
        return "slash_commands"
    if kind == "event_callback":
        return "events_api"
    if kind == "url_verification":
        raise ValueError("Slack sends no url_verification over Socket Mode")
    return "interactive"


@dataclass(frozen=True)
class Ack:
    """What the bot sent back for an envelope: the payload (None for a bare ack) and how long it took."""

    payload: dict[str, Any] | None
    elapsed: float


@dataclass
class Envelope:
    """One delivery over the socket; `acked` resolves when the bot answers it."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int | None = None
    retry_reason: str | None = None
    sent_at: float = field(default_factory=time.monotonic)
    acked: asyncio.Future[Ack] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def to_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":  # Slack always says whether an event is a retry
            message["retry_attempt"] = self.retry_attempt or 0
            message["retry_reason"] = self.retry_reason or ""
        return message


class SocketModeHub:
    """Slack's end of every Socket Mode connection to the stand-in, with the envelopes sent and their acks.

    A ticket from `apps.connections.open` admits one connection, so a client that reconnects has to ask
    for a new URL, as slack_sdk does. Envelopes go to the newest open connection.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.connections: list[web.WebSocketResponse] = []
        self.connections_made = 0
        self.envelopes: list[Envelope] = []
        self._tickets: set[str] = set()
        self._by_id: dict[str, Envelope] = {}

    @property
    def connected(self) -> bool:
        return any(not socket.closed for socket in self.connections)

    def open(self) -> dict[str, Any]:
        """The answer to `apps.connections.open` (the token was checked by the caller)."""
        ticket = secrets.token_urlsafe(16)
        self._tickets.add(ticket)
        base = self.workspace.base_url.replace("http", "ws", 1).rstrip("/")
        return {"url": base + SOCKET_PATH.format(ticket=ticket)}

    def driver(self, *, ack_wait: float = ACK_DEADLINE + 2.0) -> SocketModeDriver:
        return SocketModeDriver(self, ack_wait=ack_wait)

    # -- the websocket -------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            self._record("socket_mode.connect", {"ticket": ticket}, "invalid_ticket", status=401)
            raise web.HTTPUnauthorized(text="invalid_ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True)  # answers the SDK's "sdk-ping-pong" pings
        await socket.prepare(request)
        self.connections.append(socket)
        self.connections_made += 1
        self._record("socket_mode.connect", {"ticket": ticket}, None)
        try:
            await socket.send_json(self._hello())
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive(message.data)
        finally:
            self.connections.remove(socket)
        return socket

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self.connections),
            "debug_info": {"host": _HOST, "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.workspace.app_id},
        }

    def _receive(self, data: str) -> None:
        """An ack names its envelope; anything else is a client bug worth a failed call in the log."""
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or "envelope_id" not in message:
            self._record("socket_mode.ack", {"message": data[:200]}, "invalid_ack")
            return
        envelope = self._by_id.get(str(message["envelope_id"]))
        if envelope is None:
            self._record("socket_mode.ack", message, "unknown_envelope")
            return
        if envelope.acked.done():
            self._record("socket_mode.ack", message, "duplicate_ack")
            return
        payload = message.get("payload")
        accepted = payload if isinstance(payload, dict) and envelope.accepts_response_payload else None
        envelope.acked.set_result(Ack(accepted, time.monotonic() - envelope.sent_at))

    def _record(self, method: str, args: dict[str, Any], error: str | None, status: int = 200) -> None:
        ws = self.workspace
        ws.record(Call(method=method, args=args, ok=error is None, error=error, status=status, at=ws.now()))

    # -- Slack's side of the conversation ------------------------------------------------------------

    def _newest(self) -> web.WebSocketResponse:
        for socket in reversed(self.connections):
            if not socket.closed:
                return socket
        raise RuntimeError("no Socket Mode connection: is the bot running with an xapp- SLACK_APP_TOKEN?")

    async def push(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> Envelope:
        """Send one envelope to the bot; await `wait_ack` for its answer."""
        envelope = Envelope(
            str(uuid.uuid4()), type, payload, accepts_response_payload, retry_attempt, retry_reason
        )
        self.envelopes.append(envelope)
        self._by_id[envelope.envelope_id] = envelope
        await self._newest().send_json(envelope.to_message())
        return envelope

    async def wait_ack(self, envelope: Envelope, timeout: float) -> Ack | None:  # noqa: ASYNC109
        """The bot's ack, or None when it sent none within `timeout` seconds."""
        try:
            return await asyncio.wait_for(asyncio.shield(envelope.acked), timeout)
        except TimeoutError:
            return None

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask every client to reconnect, as Slack does a few times a day (the SDK dials a new URL)."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": _HOST}}
        for socket in list(self.connections):
            if not socket.closed:
                await socket.send_json(message)

    async def close_all(self, app: web.Application | None = None) -> None:
        """Close every socket, so shutting the stand-in down does not wait for connected clients."""
        for socket in list(self.connections):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


SOCKET_MODE = web.AppKey("socket_mode", SocketModeHub)


class SocketModeDriver(SlackDriver):
    """`SlackDriver`'s users, clicks and events, delivered as Socket Mode envelopes instead of signed POSTs.

    Every payload builder and every ack rule (a slash ack shown to the user, a submission's
    `response_action` applied to the view) is inherited; only the transport differs. A returned
    `DriverResponse` carries the ack payload as `json`; status 200 when acked, `NO_ACK_STATUS` when not.
    """

    def __init__(self, hub: SocketModeHub, *, ack_wait: float = ACK_DEADLINE + 2.0) -> None:
        base_url = hub.workspace.base_url
        super().__init__(base_url, signing_secret="", workspace=hub.workspace, standin_url=base_url)
        self.hub = hub
        self.ack_wait = ack_wait

    async def raw(self, body: bytes, headers: dict[str, str]) -> DriverResponse:
        raise TypeError("Socket Mode has no signed HTTP requests; send envelopes through slash(), click()…")

    async def _deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        form: dict[str, str] | None = None,
        retry_num: int | None,
        timestamp: int | None,
    ) -> DriverResponse:
        """Push the payload (a slash command's form fields as they are) and wait for its ack."""
        envelope = await self.hub.push(
            envelope_type(kind),
            dict(form) if form is not None else payload,
            accepts_response_payload=kind in RESPONSE_PAYLOAD_KINDS,
            retry_attempt=retry_num,
            retry_reason="timeout" if retry_num else None,
        )
        ack = await self.hub.wait_ack(envelope, self.ack_wait)
        response = _as_response(ack, self.ack_wait, payload)
        self._check_ack(kind, response)
        return response


def _as_response(ack: Ack | None, waited: float, payload: dict[str, Any]) -> DriverResponse:
    if ack is None:
        return DriverResponse(status=NO_ACK_STATUS, body="", json=None, elapsed=waited, payload=payload)
    body = json.dumps(ack.payload) if ack.payload else ""
    return DriverResponse(status=200, body=body, json=ack.payload, elapsed=ack.elapsed, payload=payload)
