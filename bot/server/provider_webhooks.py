"""Acknowledgements coming back from PagerDuty and Opsgenie, so acking there stops our escalation too.

- `POST /webhooks/pagerduty`: a PagerDuty v3 webhook subscription (event `incident.acknowledged`), signed
  with the subscription's secret (`X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>`, several
  signatures comma-separated while a secret is rotated); INCIDENTBOT_PAGERDUTY_WEBHOOK_SECRET.
- `POST /webhooks/opsgenie`: an Opsgenie Webhook integration (action `Acknowledge`) with the custom
  header `Authorization: Bearer <INCIDENTBOT_WEBHOOK_TOKEN>`.

Only our own alerts (dedup key / alias `incidentbot-<id>`) are acted on; anything else is answered 200
and ignored, so a subscription covering a whole PagerDuty account does no harm.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from aiohttp import web

from bot.services.paging import Paging

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return data


def pagerduty_signature_ok(body: bytes, header: str, secret: str) -> bool:
    expected = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, given.strip()) for given in header.split(","))


async def _read(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    return await request.read()


def add_provider_routes(
    app: web.Application, paging: Paging, pagerduty_secret: str | None, webhook_token: str | None
) -> None:
    async def pagerduty(request: web.Request) -> web.Response:
        if not pagerduty_secret:
            raise web.HTTPUnauthorized(
                text="set INCIDENTBOT_PAGERDUTY_WEBHOOK_SECRET to accept PagerDuty webhooks"
            )
        body = await _read(request)
        if not pagerduty_signature_ok(
            body, request.headers.get("X-PagerDuty-Signature", ""), pagerduty_secret
        ):
            raise web.HTTPUnauthorized(text="bad or missing X-PagerDuty-Signature")
        event = _json(body).get("event") or {}
        if event.get("event_type") != "incident.acknowledged":
            return web.json_response({"status": "ignored", "event_type": event.get("event_type")})
        data = event.get("data") or {}
        agent = (event.get("agent") or {}).get("summary") or "someone"
        result = await paging.acknowledge_key(str(data.get("incident_key") or ""), str(agent), "pagerduty")
        return web.json_response({"status": "ok" if result else "ignored", "result": result})

    async def opsgenie(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not webhook_token or not hmac.compare_digest(header.encode(), f"Bearer {webhook_token}".encode()):
            raise web.HTTPUnauthorized(text="missing or wrong bearer token (INCIDENTBOT_WEBHOOK_TOKEN)")
        payload = _json(await _read(request))
        if payload.get("action") != "Acknowledge":
            return web.json_response({"status": "ignored", "action": payload.get("action")})
        alert = payload.get("alert") or {}
        who = str(alert.get("username") or payload.get("source", {}).get("name") or "someone")
        result = await paging.acknowledge_key(str(alert.get("alias") or ""), who, "opsgenie")
        return web.json_response({"status": "ok" if result else "ignored", "result": result})

    app.router.add_post("/webhooks/pagerduty", pagerduty)
    app.router.add_post("/webhooks/opsgenie", opsgenie)
