"""Socket Mode end to end: the bot dials the stand-in's websocket and every delivery arrives as an envelope.

The bot runs through `bot.server.serve` exactly as `incidentbot serve` runs it with SLACK_APP_TOKEN set,
so what is proven here is the deployment path, not a test double of it. Socket Mode does not touch the
database, so SQLite alone is enough.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import AppConfig, Settings
from bot.server import SocketModeRefused, build_runtime, serve
from bot.standin import RunningStandin, eventually
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG, GENERAL, ROOT, BotUnderTest
from tests.processes import free_port
from tests.test_lifecycle import declare, latest_view

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

APP_TOKEN = "xapp-1-A0SANDBOX0-1234-abcdef"
BOT_TOKEN = "xoxb-test-token"


def socket_settings(database_url: str, standin: RunningStandin, app_token: str, port: int) -> Settings:
    """What an operator sets for Socket Mode: an app token and no signing secret."""
    return Settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=app_token,
        slack_api_url=standin.api_url,
        database_url=database_url,
        config=EXAMPLE_CONFIG,
        host="127.0.0.1",
        port=port,
    )


async def finish(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, 5)


@pytest.fixture
async def socket_bot(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> AsyncIterator[BotUnderTest]:
    """The bot served in Socket Mode, connected; its `driver` delivers over the socket."""
    port = free_port()
    runtime = await build_runtime(socket_settings(database_url, standin, APP_TOKEN, port), app_config)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(runtime, stop))
    hub = standin.socket_mode
    await eventually(lambda: hub.connected or task.done(), message="the bot connects over Socket Mode")
    if task.done():
        task.result()
    driver = hub.driver()
    try:
        yield BotUnderTest(f"http://127.0.0.1:{port}", runtime, driver, standin.workspace)
    finally:
        await finish(stop, task)


@SQLITE_ONLY
async def test_help_is_the_ack_payload(socket_bot: BotUnderTest, standin: RunningStandin) -> None:
    response = await socket_bot.driver.slash(ALICE, GENERAL, "help")

    assert response.status == 200 and response.json is not None
    assert "/incident declare" in response.json["text"]
    shown = socket_bot.workspace.ephemerals_for(ALICE, GENERAL)
    assert shown and "/incident declare" in shown[-1].text
    envelope = standin.socket_mode.envelopes[-1]
    assert envelope.type == "slash_commands" and envelope.accepts_response_payload
    assert envelope.payload["command"] == "/incident" and envelope.payload["text"] == "help"
    assert socket_bot.workspace.calls_to("apps.connections.open")[-1].ok
    assert socket_bot.workspace.errors() == []


@SQLITE_ONLY
async def test_declare_over_the_socket(socket_bot: BotUnderTest, standin: RunningStandin) -> None:
    incident = await declare(socket_bot)

    assert incident.channel_id in socket_bot.workspace.channels
    assert [i.id for i in await socket_bot.runtime.incidents.list_open()] == [incident.id]
    channel = socket_bot.workspace.channels[incident.channel_id or ""]
    assert channel.name.startswith("inc-") and ALICE in channel.members
    kinds = [(e.type, e.payload.get("type")) for e in standin.socket_mode.envelopes]
    assert kinds == [("slash_commands", None), ("interactive", "view_submission")]
    assert standin.socket_mode.envelopes[1].accepts_response_payload
    metrics = socket_bot.runtime.metrics.exposition().decode()
    assert 'incidentbot_slack_requests_total{kind="command"} 1.0' in metrics
    assert 'incidentbot_slack_requests_total{kind="interactive"} 1.0' in metrics
    assert "incidentbot_slack_ack_seconds_count 2.0" in metrics
    errors = socket_bot.workspace.errors()
    assert errors == [], [(c.method, c.error, c.details) for c in errors]


@SQLITE_ONLY
async def test_invalid_submission_gets_errors_back(socket_bot: BotUnderTest) -> None:
    """A `response_action: errors` ack travels back over the socket and keeps the modal open."""
    await socket_bot.driver.slash(ALICE, GENERAL, "declare Checkout is down")
    view = await latest_view(socket_bot, ALICE, "declare_incident")

    ack = await socket_bot.driver.submit_view(
        ALICE, view.id, {"title": {"value": "   "}, "severity": {"value": "SEV2"}}
    )

    assert ack.view_errors and "title" in ack.view_errors
    assert socket_bot.workspace.views[view.id].is_open
    assert await socket_bot.runtime.incidents.list_open() == []


@SQLITE_ONLY
async def test_http_serves_health_but_not_slack_events(socket_bot: BotUnderTest) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{socket_bot.url}/healthz") as health:
            assert health.status == 200
            assert (await health.json())["status"] == "healthy"
        async with http.post(f"{socket_bot.url}/slack/events", data=b"command=%2Fincident") as events:
            assert events.status in (404, 405)


@SQLITE_ONLY
async def test_reconnects_when_slack_asks(socket_bot: BotUnderTest, standin: RunningStandin) -> None:
    """Slack sends `disconnect` a few times a day; the bot must dial a fresh URL and keep answering."""
    hub = standin.socket_mode
    await hub.disconnect()

    await eventually(lambda: hub.connections_made == 2 and len(hub.connections) == 1)
    response = await socket_bot.driver.slash(ALICE, GENERAL, "help")

    assert response.status == 200
    assert len(socket_bot.workspace.calls_to("apps.connections.open")) == 2


async def test_connections_open_wants_an_app_token(standin: RunningStandin) -> None:
    client = AsyncWebClient(base_url=standin.api_url)
    try:
        opened = await client.apps_connections_open(app_token=APP_TOKEN)
        assert opened["url"].startswith(standin.url.replace("http://", "ws://") + "socket/")
        with pytest.raises(SlackApiError) as refused:
            await client.apps_connections_open(app_token=BOT_TOKEN)
        assert refused.value.response["error"] == "not_allowed_token_type"
    finally:
        if client.session is not None:
            await client.session.close()


async def test_a_ticket_admits_one_connection(standin: RunningStandin) -> None:
    """The URL is single-use, so a client that reconnects must ask for a new one, as slack_sdk does."""
    client = AsyncWebClient(base_url=standin.api_url)
    try:
        url = (await client.apps_connections_open(app_token=APP_TOKEN))["url"]
    finally:
        if client.session is not None:
            await client.session.close()
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as first:
        hello = await first.receive_json(timeout=2)
        assert hello["type"] == "hello" and hello["connection_info"]["app_id"] == "A0SANDBOX0"
        with pytest.raises(aiohttp.WSServerHandshakeError) as again:
            await http.ws_connect(url)
        assert again.value.status == 401
    assert [c.error for c in standin.workspace.calls_to("socket_mode.connect")] == [None, "invalid_ticket"]


@SQLITE_ONLY
async def test_bot_token_as_app_token_stops_serve_with_one_line(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    """Left to the SDK, this retries every 10 s forever with a stack trace each time; serve must stop."""
    port = free_port()
    runtime = await build_runtime(socket_settings(database_url, standin, BOT_TOKEN, port), app_config)

    with pytest.raises(SocketModeRefused) as refused:
        await asyncio.wait_for(serve(runtime, asyncio.Event()), 5)

    message = str(refused.value)
    assert "\n" not in message
    assert "not_allowed_token_type" in message and "SLACK_APP_TOKEN" in message and "xapp-" in message
    assert not standin.socket_mode.connections
    with socket.socket() as again:  # serve cleaned up: its HTTP port is free again
        again.bind(("127.0.0.1", port))


@SQLITE_ONLY
async def test_cli_serve_exits_2_with_the_message(
    database_url: str, standin: RunningStandin, tmp_path: Path
) -> None:
    """What an operator sees: `incidentbot serve` says what is wrong in one line, no traceback."""
    env: dict[str, Any] = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": BOT_TOKEN,
        "INCIDENTBOT_SLACK_API_URL": standin.api_url,
        "INCIDENTBOT_DATABASE_URL": database_url,
        "INCIDENTBOT_CONFIG": str(EXAMPLE_CONFIG),
        "INCIDENTBOT_HOST": "127.0.0.1",
        "INCIDENTBOT_PORT": str(free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from bot.cli import main; sys.argv[0] = 'incidentbot'; main()",
        "serve",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 20)

    assert process.returncode == 2, stderr.decode()
    text = stderr.decode()
    assert "Traceback" not in text
    assert text.strip().splitlines()[-1].startswith("error: Slack refused SLACK_APP_TOKEN")
    assert "not_allowed_token_type" in text
