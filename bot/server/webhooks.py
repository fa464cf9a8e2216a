"""Inbound webhooks: `POST /webhooks/alertmanager`.

Answers are chosen for Alertmanager, which retries a 5xx (with backoff, until the next group_interval)
and treats a 4xx as final: a request that can never succeed (no or wrong token, not JSON, wrong schema,
too large) gets a 4xx with the reason in a JSON body and in the log, so whoever wired the receiver sees
what is wrong; a passing problem on our side (the database is away) gets a 503 so the notification comes
again. The body is read only after the token is checked, and never beyond 1 MiB.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.alerts.webhook import InvalidNotification, parse_notification
from bot.metrics import Metrics
from bot.services.alerts import AlertService

log = logging.getLogger(__name__)

PATH = "/webhooks/alertmanager"
MAX_BODY = 1024 * 1024
"""Alertmanager 0.25 sends a few KiB per group; `max_alerts` on the receiver keeps big groups small."""
_CHUNK = 64 * 1024


class WebhookRefused(Exception):
    def __init__(self, status: int, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.outcome, self.reason = status, outcome, reason


def json_answer(http_status: int, **body: Any) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="incidentbot"'} if http_status == 401 else None
    return web.json_response(body, status=http_status, headers=headers)


def check_bearer(
    request: web.Request,
    expected: bytes | None,
    where: str = "Alertmanager: http_config.authorization.credentials",
) -> None:
    if expected is None:
        raise WebhookRefused(401, "unauthorized", "webhooks are disabled: set INCIDENTBOT_WEBHOOK_TOKEN")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise WebhookRefused(
            401,
            "unauthorized",
            f"missing bearer token: send 'Authorization: Bearer <INCIDENTBOT_WEBHOOK_TOKEN>' ({where})",
        )
    if not hmac.compare_digest(given.strip().encode(), expected):
        raise WebhookRefused(401, "unauthorized", "wrong bearer token")


async def read_body(
    request: web.Request, limit: int = MAX_BODY, advice: str = "lower max_alerts on the Alertmanager receiver"
) -> bytes:
    """The body, refusing anything over `limit` from Content-Length before reading, or while reading."""
    too_large = WebhookRefused(413, "too_large", f"body too large: the limit is {limit:,} bytes; {advice}")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def add_webhook_routes(
    app: web.Application, alerts: AlertService, webhook_token: str | None, metrics: Metrics
) -> None:
    expected = webhook_token.encode() if webhook_token else None

    async def alertmanager(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            check_bearer(request, expected)
            body = await read_body(request)
            try:
                notification = parse_notification(body)
            except InvalidNotification as exc:
                raise WebhookRefused(400, "invalid", exc.reason) from None
            try:
                result = await alerts.receive(notification)
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.error(
                    "alertmanager webhook: database unavailable for group %s: %s: %s",
                    notification.group_key,
                    type(exc).__name__,
                    exc,
                )
                raise WebhookRefused(
                    503, "unavailable", "database unavailable; Alertmanager will retry"
                ) from None
            return json_answer(200, status="ok", result=result)
        except WebhookRefused as refused:
            metrics.alert_notification(refused.outcome)
            if refused.status != 503:
                log.warning(
                    "alertmanager webhook from %s refused (%s): %s",
                    request.remote,
                    refused.status,
                    refused.reason,
                )
            response = json_answer(refused.status, status="error", error=refused.reason)
            if refused.status == 413:
                response.force_close()  # the rest of the body is unread: close, rather than drain megabytes
            return response
        except Exception as exc:  # a bug: 500 so Alertmanager retries, and the trace in the log
            log.exception("alertmanager webhook failed")
            metrics.alert_notification("error")
            return json_answer(500, status="error", error=f"internal error: {type(exc).__name__}")
        finally:
            metrics.alert_webhook_seconds.observe(time.perf_counter() - started)

    app.router.add_post(PATH, alertmanager)
