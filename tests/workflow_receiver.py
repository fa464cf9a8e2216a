"""A local HTTP server receiving the workflows' webhooks, as a team's deploy system would: it checks the
signature and answers with the statuses the test queues (200 once the queue is empty)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.workflows.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SECRET = "workflow-hook-secret-0123456789"


@dataclass
class Receiver:
    url: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    """Bodies of correctly signed requests, in order."""
    refused: int = 0
    """Requests whose signature did not verify."""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not verify(SECRET, timestamp, body, signature):
            self.refused += 1
            return web.Response(status=401)
        self.received.append(json.loads(body))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hooks.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hooks.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield hooks
    finally:
        await runner.cleanup()
