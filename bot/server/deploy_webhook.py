"""`POST /webhooks/deployments`: GitHub's `deployment_status` event (signed with the GitHub secret), or a
pipeline's generic JSON with the bearer token (Argo CD, GitLab, Jenkins notifications).

Like the Alertmanager webhook, a request that can never succeed gets a 4xx with the reason, and a passing
problem on our side a 503 (both GitHub and the usual notifiers retry that). A replayed delivery (GitHub's
"Redeliver", a notifier's retry) is answered 200 `duplicate` and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.changes.deploys import DeployNotice, InvalidNotice, generic_notice, github_notice
from bot.server.webhooks import WebhookRefused, check_bearer, json_answer, read_body
from bot.services.changes import ChangeTracking

log = logging.getLogger(__name__)

PATH = "/webhooks/deployments"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRefused(400, "invalid", f"body is not JSON: {exc}") from None


def _check_github_signature(request: web.Request, body: bytes, secret: bytes | None) -> None:
    if secret is None:
        raise WebhookRefused(
            401, "unauthorized", "GitHub deliveries are off: set INCIDENTBOT_GITHUB_WEBHOOK_SECRET"
        )
    given = request.headers.get("X-Hub-Signature-256", "")
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not given:
        raise WebhookRefused(
            401, "unauthorized", "missing X-Hub-Signature-256: set the webhook's secret on GitHub"
        )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRefused(401, "unauthorized", "X-Hub-Signature-256 does not match the body")


def add_deploy_routes(
    app: web.Application, changes: ChangeTracking, webhook_token: str | None, github_secret: str | None
) -> None:
    token = webhook_token.encode() if webhook_token else None
    secret = github_secret.encode() if github_secret else None
    config = changes.config

    async def notice_of(request: web.Request) -> tuple[DeployNotice, str, str] | web.Response:
        event = request.headers.get("X-GitHub-Event")
        if event is None:
            check_bearer(request, token, "your pipeline's notification: an Authorization header")
            notice = generic_notice(_json(await read_body(request)), config.changes)
            return notice, notice.key("generic"), "generic"
        body = await read_body(request, advice="deployment events are a few KiB")
        _check_github_signature(request, body, secret)
        if event == "ping":
            return json_answer(200, status="ok", result="pong")
        if event != "deployment_status":
            return json_answer(
                202, status="ignored", reason=f"{event} events are not read; send deployment_status"
            )
        notice, key = github_notice(_json(body), config.changes)
        return notice, key, "github"

    async def deployments(request: web.Request) -> web.Response:
        try:
            got = await notice_of(request)
            if isinstance(got, web.Response):
                return got
            notice, key, source = got
            try:
                recorded = await changes.record(notice, key, source)
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.error("deploy webhook: database unavailable for %s: %s: %s", key, type(exc).__name__, exc)
                raise WebhookRefused(503, "unavailable", "database unavailable; send it again") from None
            known = config.service(notice.service) is not None
            warning = (
                {}
                if known
                else {"warning": f"unknown service {notice.service!r}: stored, matched to no incident"}
            )
            return json_answer(
                200,
                status="ok",
                result=recorded.outcome,
                deploy_id=recorded.deploy.id,
                service=notice.service,
                **warning,
            )
        except InvalidNotice as exc:
            log.warning("deploy webhook from %s refused: %s", request.remote, exc.reason)
            return json_answer(400, status="error", error=exc.reason)
        except WebhookRefused as refused:
            if refused.status != 503:
                log.warning(
                    "deploy webhook from %s refused (%s): %s", request.remote, refused.status, refused.reason
                )
            response = json_answer(refused.status, status="error", error=refused.reason)
            if refused.status == 413:
                response.force_close()
            return response
        except Exception as exc:  # a bug: 500 so the sender retries, and the trace in the log
            log.exception("deploy webhook failed")
            return json_answer(500, status="error", error=f"internal error: {type(exc).__name__}")

    app.router.add_post(PATH, deployments)
