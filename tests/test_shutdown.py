"""A deploy stops the bot while it is still setting up an incident Slack was already told about."""

from __future__ import annotations

import logging
import time

import pytest

from bot.config import AppConfig
from bot.server import app as server
from bot.standin import RunningStandin, eventually
from bot.standin.entities import Channel
from tests.fixtures_bot import ALICE, GENERAL, BotUnderTest, bot_settings, start_bot
from tests.test_lifecycle import latest_view


async def _declare_then_stop(bot: BotUnderTest, runner: object, title: str) -> float:
    """Submit the declare modal, wait until the set-up is held up at pins.add, stop; seconds to stop."""
    await bot.driver.slash(ALICE, GENERAL, f"declare {title}")
    view = await latest_view(bot, ALICE, "declare_incident")
    ack = await bot.driver.submit_view(ALICE, view.id, {"severity": {"value": "SEV2"}})
    assert ack.json and ack.json["response_action"] == "update"
    await eventually(lambda: bot.workspace.calls_to("pins.add"))
    started = time.monotonic()
    await bot.driver.close()
    await runner.cleanup()  # type: ignore[attr-defined]
    await bot.runtime.close()
    return time.monotonic() - started


def _incident_channel(bot: BotUnderTest, slug: str) -> Channel:
    [channel] = [c for c in bot.workspace.channels.values() if c.name.endswith(slug)]
    return channel


async def test_stopping_finishes_the_set_up_of_an_acked_declare(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    bot, runner = await start_bot(bot_settings(database_url, standin), app_config, standin.workspace)
    bot.workspace.rate_limit_next("pins.add", retry_after=2)
    took = await _declare_then_stop(bot, runner, "Checkout is down")
    channel = _incident_channel(bot, "checkout-is-down")
    assert len(channel.pins) == 1, "the summary was pinned after the rate limit, before the bot stopped"
    assert [c.status for c in bot.workspace.calls_to("pins.add")] == [429, 200]
    assert 1 < took < server.SHUTDOWN_GRACE_SECONDS


async def test_a_handler_still_running_after_the_grace_period_is_cancelled_and_logged(
    database_url: str,
    standin: RunningStandin,
    app_config: AppConfig,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(server, "SHUTDOWN_GRACE_SECONDS", 0.5)
    bot, runner = await start_bot(bot_settings(database_url, standin), app_config, standin.workspace)
    bot.workspace.rate_limit_next("pins.add", retry_after=30)
    with caplog.at_level(logging.INFO, logger="bot.server.inflight"):
        took = await _declare_then_stop(bot, runner, "Search is slow")
    assert took < 3
    assert "waiting up to 0.5 s for 1 Slack handler(s) to finish" in caplog.text
    assert "cancelled 1 Slack handler(s) still running after 0.5 s" in caplog.text
    assert not _incident_channel(bot, "search-is-slow").pins
