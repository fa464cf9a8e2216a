"""The bot under test: real Bolt app, real HTTP server, real database, the Slack stand-in behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import AppConfig, Settings, load_config
from bot.domain import Incident
from bot.server import Runtime, build_runtime, make_web_app
from bot.standin import RunningStandin, SlackDriver, Workspace
from bot.standin.driver import DriverResponse

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "incidentbot.yml"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ALICE, BOB, CAROL, DAVE = "U0ALICE000", "U0BOB00000", "U0CAROL000", "U0DAVE0000"
GENERAL, ANNOUNCEMENTS, MANAGEMENT = "C0GENERAL0", "C0INCIDENT", "C0MGMT0000"


class Clock:
    """A clock the test moves by hand, for timers (escalation waits, reminders) without waiting."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


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


async def start_bot(
    settings: Settings, config: AppConfig, workspace: Workspace, now: Callable[[], datetime] | None = None
) -> tuple[BotUnderTest, Any]:
    runtime = await build_runtime(settings, config, **({"now": now} if now else {}))
    if now is None:
        runtime.start()  # with a hand-moved clock the test fires timers itself (scheduler.run_due)
    runner = web.AppRunner(make_web_app(runtime))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    driver = SlackDriver(url, SIGNING_SECRET, workspace, settings.slack_api_url.removesuffix("api/"))
    return BotUnderTest(url, runtime, driver, workspace), runner


@asynccontextmanager
async def running_bot(
    settings: Settings, config: AppConfig, workspace: Workspace, now: Callable[[], datetime] | None = None
) -> AsyncIterator[BotUnderTest]:
    """A bot with its own settings or config, for tests the `bot` fixture does not fit."""
    under_test, runner = await start_bot(settings, config, workspace, now)
    try:
        yield under_test
    finally:
        await under_test.driver.close()
        await runner.cleanup()
        await under_test.runtime.close()


def bot_settings(database_url: str, standin: RunningStandin, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": "xoxb-test-token",
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": standin.api_url,
        "database_url": database_url,
        "config": EXAMPLE_CONFIG,
    }
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture
def app_config() -> AppConfig:
    """The example config without its example workflows, which would act in every test's incidents
    (tests/test_workflows.py runs workflows of its own), nor its game-day reminders."""
    config = load_config(EXAMPLE_CONFIG)
    return config.model_copy(
        update={"workflows": [], "drills": config.drills.model_copy(update={"schedule": []})}
    )


@pytest.fixture
async def bot(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(bot_settings(database_url, standin), app_config, standin.workspace) as under_test:
        yield under_test


async def at_once(n: int, deliver: Callable[[int], Awaitable[DriverResponse]]) -> list[DriverResponse]:
    """`n` signed deliveries of one action sent together, as a double click or two people on one form
    make them: each is its own delivery (own trigger id, action_ts, timestamp), all acked at once."""
    responses = await asyncio.gather(*(deliver(i) for i in range(n)))
    assert [r.status for r in responses] == [200] * n, [r.body for r in responses]
    return list(responses)
