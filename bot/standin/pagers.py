"""Local stand-ins for PagerDuty's Events API v2 and Opsgenie's Alert API.

A page must fail loudly, so the tests need services that refuse what the real ones refuse (a routing
key of the wrong length, a wrong GenieKey, a missing field), accept what they accept (acknowledging a
key nobody triggered), keep the alert state a responder would see, and fail or rate-limit on demand.
Each service listens on its own loopback port, so a client pointed at the wrong base URL fails too.
Every request is recorded, refusals included (`PagerState.events`), without the routing key.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PAGERDUTY = "pagerduty"
OPSGENIE = "opsgenie"
OPSGENIE_KEY = "0b7d6a52-2c1e-4f8b-9a3d-5e6f7a8b9c0d"
"""The GenieKey the Opsgenie stand-in accepts unless told otherwise."""

PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
OG_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
_THROTTLED: dict[str, dict[str, Any]] = {
    PAGERDUTY: {"status": "throttle event", "message": "Requests for this service are arriving too quickly"},
    OPSGENIE: {
        "message": "You are making too many requests! To avoid errors, we recommend you limit requests."
    },
}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class PagerEvent:
    """One request as the service saw it; `action` uses the provider's word (Opsgenie: create/close)."""

    provider: str
    action: str
    key: str | None
    """PagerDuty's dedup_key or Opsgenie's alias (or the identifier in the URL)."""
    body: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float
    injected: bool = False

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class PagerAlert:
    """What a responder would see, in the provider's words.

    PagerDuty: triggered → acknowledged → resolved; Opsgenie: open → acknowledged → closed.
    """

    provider: str
    key: str
    status: str
    summary: str
    severity: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    count: int = 1
    history: list[str] = field(default_factory=list)

    def move(self, status: str) -> None:
        self.status = status
        self.history.append(status)


@dataclass
class _Fault:
    status: int
    body: dict[str, Any] | str
    retry_after: float | None
    remaining: int


@dataclass
class PagerState:
    opsgenie_key: str = OPSGENIE_KEY
    clock: Callable[[], float] = time.time
    events: list[PagerEvent] = field(default_factory=list)
    alerts: dict[tuple[str, str], PagerAlert] = field(default_factory=dict)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Opsgenie's asynchronous outcomes by requestId, as `GET /v2/alerts/requests/{id}` reports them."""
    _faults: dict[str, list[_Fault]] = field(default_factory=dict)
    _rejections: list[str] = field(default_factory=list)

    def fail_next(
        self, provider: str, status: int = 500, body: dict[str, Any] | str | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` requests to `provider` with `status` and `body` (JSON, or raw text)."""
        default = {"status": "error", "message": "Internal Server Error"} if provider == PAGERDUTY else {}
        self._add(provider, _Fault(status, body if body is not None else default, None, times))

    def reject_next_async(self, reason: str, times: int = 1) -> None:
        """Opsgenie: accept the next `times` requests with 202 as usual, then not apply them, for `reason`."""
        self._rejections.extend([reason] * times)

    def take_rejection(self) -> str | None:
        return self._rejections.pop(0) if self._rejections else None

    def rate_limit_next(self, provider: str, retry_after: float = 1, times: int = 1) -> None:
        """Answer the next `times` requests to `provider` with 429 and `Retry-After: retry_after`."""
        self._add(provider, _Fault(429, dict(_THROTTLED.get(provider, {})), retry_after, times))

    def _add(self, provider: str, fault: _Fault) -> None:
        if provider not in (PAGERDUTY, OPSGENIE):
            raise ValueError(f"unknown provider {provider!r} (use {PAGERDUTY!r} or {OPSGENIE!r})")
        self._faults.setdefault(provider, []).append(fault)

    def take_fault(self, provider: str) -> _Fault | None:
        faults = self._faults.get(provider, [])
        if not faults:
            return None
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.pop(0)
        return fault

    def accepted(self, provider: str | None = None) -> list[PagerEvent]:
        return [e for e in self.events if e.accepted and provider in (None, e.provider)]

    def refused(self, provider: str | None = None) -> list[PagerEvent]:
        return [e for e in self.events if not e.accepted and provider in (None, e.provider)]

    def alert(self, provider: str, key: str) -> PagerAlert | None:
        return self.alerts.get((provider, key))

    def open_or_new(self, provider: str, key: str, summary: str, severity: str, closed: str) -> PagerAlert:
        """Deduplicate like both services: a key still open gets another alert, a closed one starts over."""
        current = self.alerts.get((provider, key))
        if current is not None and current.status != closed:
            current.count += 1
            return current
        status = "triggered" if provider == PAGERDUTY else "open"
        alert = PagerAlert(provider, key, status, summary, severity, history=[status])
        self.alerts[(provider, key)] = alert
        return alert


STATE = web.AppKey("pager_state", PagerState)


async def _body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    try:
        return json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _fault_response(fault: _Fault, provider: str) -> tuple[int, dict[str, Any], web.Response]:
    headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
    if provider == OPSGENIE and fault.status == 429:
        headers["X-RateLimit-State"] = "THROTTLED"
    if isinstance(fault.body, str):
        response = web.Response(status=fault.status, text=fault.body, headers=headers)
        return fault.status, {"text": fault.body}, response
    body = dict(fault.body)
    if provider == OPSGENIE:
        body = {"message": "Internal Server Error", **body, "took": 0.0, "requestId": str(uuid.uuid4())}
    return fault.status, body, web.json_response(body, status=fault.status, headers=headers)


# -- PagerDuty Events API v2 ----------------------------------------------------------------------


def _pd_errors(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["Event object is not valid JSON"]
    errors: list[str] = []
    key = body.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or blank")
    elif len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = body.get("event_action")
    if action not in PD_ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        errors += _pd_payload_errors(body.get("payload"))
    return errors


def _pd_payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or blank"]
    errors = [
        f"'payload.{name}' is missing or blank"
        for name in ("summary", "source", "severity")
        if not isinstance(payload.get(name), str) or not payload[name].strip()
    ]
    if isinstance(payload.get("severity"), str) and payload["severity"] not in PD_SEVERITIES:
        errors.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
    return errors


def _pd_apply(state: PagerState, body: dict[str, Any]) -> str:
    """PagerDuty answers 202 even for an acknowledge or resolve it has nothing to apply to."""
    key = body.get("dedup_key") or uuid.uuid4().hex
    action = body["event_action"]
    alert = state.alert(PAGERDUTY, key)
    if action == "trigger":
        payload = body["payload"]
        state.open_or_new(PAGERDUTY, key, payload["summary"][:1024], payload["severity"], "resolved")
    elif action == "acknowledge" and alert is not None and alert.status == "triggered":
        alert.move("acknowledged")
    elif action == "resolve" and alert is not None and alert.status != "resolved":
        alert.move("resolved")
    return key


async def _pagerduty(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request)
    recorded = {k: v for k, v in body.items() if k != "routing_key"} if isinstance(body, dict) else {}
    action = str(recorded.get("event_action", ""))
    key = recorded.get("dedup_key")
    fault = state.take_fault(PAGERDUTY)
    if fault is not None:
        status, answer, response = _fault_response(fault, PAGERDUTY)
    elif errors := _pd_errors(body):
        status, answer = (
            400,
            {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        )
        response = web.json_response(answer, status=status)
    else:
        key = _pd_apply(state, body)
        status, answer = 202, {"status": "success", "message": "Event processed", "dedup_key": key}
        response = web.json_response(answer, status=status)
    state.events.append(
        PagerEvent(PAGERDUTY, action, key, recorded, status, answer, state.clock(), fault is not None)
    )
    return response


# -- Opsgenie Alert API ---------------------------------------------------------------------------


class _Refusal(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, **({"errors": errors} if errors else {})}


def _og_authorize(request: web.Request, key: str) -> None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme != "GenieKey" or not given.strip():
        raise _Refusal(401, "Could not authenticate")
    if not _UUID.match(given.strip()):
        raise _Refusal(422, "Key format is not valid!")
    if given.strip() != key:
        raise _Refusal(401, "Could not authenticate")


def _og_create_errors(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        return {"body": "Request body could not be parsed as JSON"}
    errors: dict[str, str] = {}
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        errors["message"] = "Message can not be empty."
    alias = body.get("alias")
    if alias is not None and (not isinstance(alias, str) or len(alias) > 512):
        errors["alias"] = "Alias can not be longer than 512 characters."
    if body.get("priority") is not None and body["priority"] not in OG_PRIORITIES:
        errors["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]."
    details = body.get("details")
    if details is not None and (
        not isinstance(details, dict) or not all(isinstance(v, str) for v in details.values())
    ):
        errors["details"] = "Details should be a map of string keys to string values."
    return errors


_DONE = {"Create": "Created alert", "Acknowledge": "Acknowledged alert", "Close": "Closed alert"}


def _og_accept(
    state: PagerState, request_id: str, action: str, alert: PagerAlert | None, failure: str | None = None
) -> None:
    """Opsgenie says 202 first and applies later; what happened is only visible per request."""
    if alert is None and failure is None:
        failure = "Alert does not exist"
    state.requests[request_id] = {
        "success": failure is None,
        "isSuccess": failure is None,
        "action": action,
        "processedAt": state.clock(),
        "integrationId": "incidentbot-standin",
        "status": failure or _DONE[action],
        "alertId": alert.id if alert else "",
        "alias": alert.key if alert else "",
    }


def _og_create(state: PagerState, body: dict[str, Any], request_id: str) -> str:
    alias = body.get("alias") or body["message"]
    if (rejected := state.take_rejection()) is not None:
        _og_accept(state, request_id, "Create", None, rejected)
        return alias
    alert = state.open_or_new(OPSGENIE, alias, body["message"][:130], body.get("priority", "P3"), "closed")
    _og_accept(state, request_id, "Create", alert)
    return alias


def _og_find(state: PagerState, identifier: str, identifier_type: str) -> PagerAlert | None:
    """Without identifierType=alias the identifier is read as an alert id, as Opsgenie does."""
    for alert in state.alerts.values():
        if alert.provider != OPSGENIE:
            continue
        if (alert.key if identifier_type == "alias" else alert.id) == identifier:
            return alert
    return None


def _og_transition(state: PagerState, verb: str, alert: PagerAlert | None, request_id: str) -> None:
    label = "Acknowledge" if verb == "acknowledge" else "Close"
    if (rejected := state.take_rejection()) is not None:
        _og_accept(state, request_id, label, alert, rejected)
        return
    if alert is not None and alert.status == "closed":
        _og_accept(state, request_id, label, alert, "Alert is already closed")
        return
    if alert is not None and not (verb == "acknowledge" and alert.status == "acknowledged"):
        alert.move("acknowledged" if verb == "acknowledge" else "closed")
    _og_accept(state, request_id, label, alert)


async def _opsgenie(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _body(request)
    identifier = request.match_info.get("identifier")
    verb = request.match_info.get("verb", "create")
    key = identifier if identifier is not None else (body.get("alias") if isinstance(body, dict) else None)
    request_id = str(uuid.uuid4())
    fault = state.take_fault(OPSGENIE)
    if fault is not None:
        status, answer, response = _fault_response(fault, OPSGENIE)
    else:
        try:
            _og_authorize(request, state.opsgenie_key)
            if identifier is None:
                if errors := _og_create_errors(body):
                    raise _Refusal(422, "Request body is not processable. Please check the errors.", errors)
                key = _og_create(state, body, request_id)
            else:
                identifier_type = request.query.get("identifierType", "id")
                _og_transition(state, verb, _og_find(state, identifier, identifier_type), request_id)
            status, answer = 202, {"result": "Request will be processed"}
        except _Refusal as refusal:
            status, answer = refusal.status, refusal.body
        answer = {**answer, "took": 0.001, "requestId": request_id}
        response = web.json_response(answer, status=status)
    recorded = body if isinstance(body, dict) else {}
    state.events.append(
        PagerEvent(OPSGENIE, verb, key, recorded, status, answer, state.clock(), fault is not None)
    )
    return response


async def _opsgenie_request_status(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if (fault := state.take_fault(OPSGENIE)) is not None:
        return _fault_response(fault, OPSGENIE)[2]
    try:
        _og_authorize(request, state.opsgenie_key)
    except _Refusal as refusal:
        return web.json_response({**refusal.body, "took": 0.001}, status=refusal.status)
    outcome = state.requests.get(request.match_info["request_id"])
    if outcome is None:
        return web.json_response({"message": "Request not found.", "took": 0.001}, status=404)
    return web.json_response({"data": outcome, "took": 0.001, "requestId": str(uuid.uuid4())})


# -- serving ----------------------------------------------------------------------------------------


def create_pagerduty_app(state: PagerState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_post("/v2/enqueue", _pagerduty)
    return app


def create_opsgenie_app(state: PagerState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_post("/v2/alerts", _opsgenie)
    app.router.add_post("/v2/alerts/{identifier}/{verb:acknowledge|close}", _opsgenie)
    app.router.add_get("/v2/alerts/requests/{request_id}", _opsgenie_request_status)
    return app


@dataclass
class RunningPagers:
    """Both stand-ins on loopback; point `PagerDutyConfig.base_url` / `OpsgenieConfig.base_url` here."""

    pagerduty_url: str
    opsgenie_url: str
    state: PagerState
    runners: list[web.AppRunner]

    @property
    def opsgenie_key(self) -> str:
        return self.state.opsgenie_key

    def fail_next(
        self, provider: str, status: int = 500, body: dict[str, Any] | str | None = None, times: int = 1
    ) -> None:
        self.state.fail_next(provider, status, body, times)

    def rate_limit_next(self, provider: str, retry_after: float = 1, times: int = 1) -> None:
        self.state.rate_limit_next(provider, retry_after, times)

    def reject_next_async(self, reason: str, times: int = 1) -> None:
        self.state.reject_next_async(reason, times)

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()

    async def __aenter__(self) -> RunningPagers:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def _serve(app: web.Application, host: str) -> tuple[str, web.AppRunner]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    return f"http://{host}:{runner.addresses[0][1]}", runner


async def start_pager_standins(state: PagerState | None = None, host: str = "127.0.0.1") -> RunningPagers:
    """Serve PagerDuty and Opsgenie stand-ins on two ephemeral loopback ports, sharing one state."""
    state = state if state is not None else PagerState()
    pagerduty_url, pagerduty = await _serve(create_pagerduty_app(state), host)
    try:
        opsgenie_url, opsgenie = await _serve(create_opsgenie_app(state), host)
    except BaseException:
        await pagerduty.cleanup()
        raise
    return RunningPagers(pagerduty_url, opsgenie_url, state, [pagerduty, opsgenie])
