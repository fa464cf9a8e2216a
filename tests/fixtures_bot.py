"""The bot under test: real Bolt app, real HTTP server, real database, the Slack stand-in behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import AppConfig, Settings, load_config
from bot.domain import Incident
from bot.server import Runtime, build_runtime, make_web_app
from bot.standin import RunningStandin, SlackDriver, Workspace

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "incidentbot.yml"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ALICE, BOB, CAROL, DAVE = "U0ALICE000", "U0BOB00000", "U0CAROL000", "U0DAVE0000"
GENERAL, ANNOUNCEMENTS, MANAGEMENT = "C0GENERAL0", "C0INCIDENT", "C0MGMT0000"


@dataclass
class BotUnderTest:
    url: str
    runtime: Runtime
    driver: SlackDriver
    workspace: Workspace

    async def incident(self, incident_id: int) -> Incident:
        return await self.runtime.incidents.get(incident_id)

    async def only_incident(self) -> Incident:
        incidents = await self.runtime.incidents.list_open()
        assert len(incidents) == 1, incidents
        return incidents[0]

    def views_opened(self) -> list[dict[str, Any]]:
        return [c.args for c in self.workspace.calls_to("views.open") if c.ok]


async def start_bot(settings: Settings, config: AppConfig, workspace: Workspace) -> tuple[BotUnderTest, Any]:
    runtime = await build_runtime(settings, config)
    runner = web.AppRunner(make_web_app(runtime))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    driver = SlackDriver(url, SIGNING_SECRET, workspace, settings.slack_api_url.removesuffix("api/"))
    return BotUnderTest(url, runtime, driver, workspace), runner


def bot_settings(database_url: str, standin: RunningStandin, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=standin.api_url,
        database_url=database_url,
        config=EXAMPLE_CONFIG,
        **overrides,
    )


@pytest.fixture
def app_config() -> AppConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture
async def bot(database_url: str, standin: RunningStandin, app_config: AppConfig) -> AsyncIterator[BotUnderTest]:
    under_test, runner = await start_bot(bot_settings(database_url, standin), app_config, standin.workspace)
    try:
        yield under_test
    finally:
        await under_test.driver.close()
        await runner.cleanup()
        await under_test.runtime.close()
