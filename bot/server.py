"""Composition root: one process serving Slack (HTTP or Socket Mode), /healthz and /metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

import commands
from bot import db
from bot.config import AppConfig, Settings
from bot.integrations.slack import SlackFailure, SlackGateway, make_client
from bot.metrics import Metrics
from bot.services.incidents import IncidentService, utcnow
from bot.store import IncidentStore
from bot.templating import Templates
from commands.deps import Deps

log = logging.getLogger(__name__)
_SLACK_CHECK_TTL = 30.0


@dataclass
class Runtime:
    settings: Settings
    config: AppConfig
    engine: AsyncEngine
    slack: SlackGateway
    metrics: Metrics
    incidents: IncidentService
    bolt: AsyncApp
    _slack_check: tuple[float, str | None] = field(default=(0.0, None))

    async def close(self) -> None:
        await self.engine.dispose()

    async def health(self) -> dict[str, Any]:
        """`unhealthy` when the database is gone (nothing can be recorded), `degraded` when Slack is."""
        checks: dict[str, Any] = {}
        database_error = await db.ping(self.engine)
        checks["database"] = {
            "ok": database_error is None,
            **({"error": database_error} if database_error else {}),
        }
        checked_at, slack_error = self._slack_check
        if time.monotonic() - checked_at > _SLACK_CHECK_TTL or slack_error:
            try:
                await asyncio.wait_for(self.slack.client.auth_test(), timeout=3)
                slack_error = None
            except (SlackFailure, TimeoutError, Exception) as exc:
                slack_error = f"{type(exc).__name__}: {exc}"
            self._slack_check = (time.monotonic(), slack_error)
        checks["slack"] = {"ok": slack_error is None, **({"error": slack_error} if slack_error else {})}
        checks["prometheus"] = {"ok": True, "configured": bool(self.settings.prometheus_url)}
        if database_error:
            status = "unhealthy"
        elif slack_error:
            status = "degraded"
        else:
            status = "healthy"
        return {"status": status, "checks": checks}


async def build_runtime(
    settings: Settings, config: AppConfig, now: Callable[[], datetime] = utcnow
) -> Runtime:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    client = make_client(token, settings.slack_api_url)
    engine = db.make_engine(settings.database_url)
    metrics = Metrics()
    slack = SlackGateway(client)
    templates = Templates(config)
    incidents = IncidentService(
        config, IncidentStore(db.make_sessionmaker(engine)), slack, templates, metrics, now
    )
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    bolt = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=not settings.socket_mode,
        process_before_response=False,
        logger=logging.getLogger("incidentbot.bolt"),
    )
    commands.register_all(bolt, Deps(config=config, incidents=incidents, slack=slack, metrics=metrics))
    return Runtime(settings, config, engine, slack, metrics, incidents, bolt)


def _request_kind(body: str) -> str:
    if body.startswith("{"):
        return "event"
    return "interactive" if body.startswith("payload=") else "command"


def make_web_app(runtime: Runtime) -> web.Application:
    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        bolt_request = await to_bolt_request(request)
        runtime.metrics.slack_requests.labels(_request_kind(bolt_request.raw_body)).inc()
        response = await to_aiohttp_response(await runtime.bolt.async_dispatch(bolt_request))
        runtime.metrics.ack_seconds.observe(time.perf_counter() - started)
        return response

    async def healthz(request: web.Request) -> web.Response:
        report = await runtime.health()
        return web.json_response(report, status=503 if report["status"] == "unhealthy" else 200)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=runtime.metrics.exposition(), headers={"Content-Type": runtime.metrics.content_type}
        )

    app = web.Application(client_max_size=1024 * 1024)
    if not runtime.settings.socket_mode:
        app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(runtime: Runtime, stop: asyncio.Event) -> None:
    """Serve until `stop` is set (signal handler or test)."""
    runner = web.AppRunner(make_web_app(runtime), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, runtime.settings.host, runtime.settings.port)
    await site.start()
    socket_handler = None
    if runtime.settings.socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        app_token = runtime.settings.slack_app_token.get_secret_value()  # type: ignore[union-attr]
        socket_handler = AsyncSocketModeHandler(runtime.bolt, app_token)
        await socket_handler.connect_async()
        log.info("connected to Slack in Socket Mode")
    log.info("incidentbot listening on http://%s:%s", runtime.settings.host, runtime.settings.port)
    try:
        await stop.wait()
    finally:
        if socket_handler is not None:
            await socket_handler.close_async()
        await runner.cleanup()
        await runtime.close()
