"""pytest fixtures for the Slack stand-in: a fresh workspace, the running Web API, a real client, drivers.

Flow tests point the bot's `AsyncWebClient` at `standin.api_url` and drive it with `slack_driver(...)`;
nothing Slack-shaped is mocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.standin import RunningStandin, SlackDriver, Workspace, eventually, start_standin
from bot.standin.pagers import RunningPagers, start_pager_standins

__all__ = ["BOT_TOKEN", "SIGNING_SECRET", "eventually"]

BOT_TOKEN = "xoxb-standin-0000-token"
SIGNING_SECRET = "standin-signing-secret-0123456789abcdef"


@pytest.fixture
def workspace() -> Workspace:
    """A fresh seeded workspace (alice…erin, #general, #incidents, #incident-management, #alerts)."""
    return Workspace()


@pytest.fixture
async def standin(workspace: Workspace) -> AsyncIterator[RunningStandin]:
    """The Web API stand-in serving `workspace` on an ephemeral 127.0.0.1 port."""
    running = await start_standin(workspace)
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def slack_client(standin: RunningStandin) -> AsyncIterator[AsyncWebClient]:
    """slack_sdk's own async client against the stand-in, retrying 429s as the bot's client does."""
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=standin.api_url,
        timeout=5,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    yield client
    if client.session is not None:
        await client.session.close()


@pytest.fixture
async def slack_driver(
    standin: RunningStandin,
) -> AsyncIterator[Callable[..., SlackDriver]]:
    """Factory: `slack_driver(bot_url, signing_secret=SIGNING_SECRET)`; drivers are closed afterwards."""
    drivers: list[SlackDriver] = []

    def make(bot_url: str, signing_secret: str = SIGNING_SECRET) -> SlackDriver:
        driver = SlackDriver(bot_url, signing_secret, standin.workspace, standin.url)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        await driver.close()


@pytest.fixture
async def pagers() -> AsyncIterator[RunningPagers]:
    """The PagerDuty and Opsgenie stand-ins."""
    async with await start_pager_standins() as running:
        yield running
