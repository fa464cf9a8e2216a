"""The yardstick of bench/ack_latency.py: a bare Bolt app on aiohttp that answers `/incident` with a fixed
text, nothing else. It verifies signatures like the bot, and its client points at the same stand-in.

Run as its own process: `python bench/_bare_bolt.py PORT SLACK_API_URL SIGNING_SECRET`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def bare_app(api_url: str, secret: str) -> AsyncApp:
    app = AsyncApp(client=AsyncWebClient(token="xoxb-bare", base_url=api_url), signing_secret=secret)

    @app.command("/incident")
    async def incident(ack: Any) -> None:
        await ack(text="Open incidents: none")

    return app


def main() -> None:
    port, api_url, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    logging.basicConfig(level=logging.WARNING)
    app = bare_app(api_url, secret).web_app(path="/slack/events")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "healthy"})

    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
