"""Status-update reminders through Slack with a hand-moved clock: nag, update, snooze, resolve, restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.communication.settings import CommunicationConfig
from bot.config import AppConfig
from bot.domain import EventKind, Incident, UpdateDraft
from bot.oncall.settings import OnCallConfig
from bot.services.reminders import REMINDER
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import ALICE, BOB, BotUnderTest, Clock, bot_settings, running_bot
from tests.test_lifecycle import declare

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def quiet_config(app_config: AppConfig) -> AppConfig:
    """No escalation policies and no communication plan: only update reminders use timers here, so
    `run_due` counts them."""
    return app_config.model_copy(update={"oncall": OnCallConfig(), "communication": CommunicationConfig()})


@pytest.fixture
async def timed_bot(
    database_url: str, standin: RunningStandin, quiet_config: AppConfig, clock: Clock
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(
        bot_settings(database_url, standin), quiet_config, standin.workspace, clock
    ) as bot:
        yield bot


async def reminder_due(bot: BotUnderTest, incident: Incident) -> list[datetime]:
    return [t.due_at for t in await bot.runtime.scheduler.store.pending(incident.id, REMINDER)]


def nags(bot: BotUnderTest, incident: Incident) -> list[str]:
    texts = [message_text(m) for m in bot.workspace.messages(incident.channel_id or "")]
    return [t for t in texts if ":alarm_clock:" in t]


async def events(bot: BotUnderTest, incident: Incident, kind: EventKind) -> list[object]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == kind]


async def test_an_overdue_update_nags_the_commander_until_one_is_posted(
    timed_bot: BotUnderTest, clock: Clock
) -> None:
    bot = timed_bot
    incident = await declare(bot, severity={"value": "SEV1"})  # SEV1: an update every 30 min
    assert await eventually(lambda: reminder_due(bot, incident)) == [T0 + timedelta(minutes=30)]

    clock.advance(minutes=29)
    assert await bot.runtime.scheduler.run_due() == 0 and nags(bot, incident) == []
    clock.advance(minutes=2)
    assert await bot.runtime.scheduler.run_due() == 1
    [nag] = nags(bot, incident)
    assert f"<@{ALICE}>" in nag and "31 min" in nag and "every 30 min" in nag
    assert len(await events(bot, incident, EventKind.REMINDER_SENT)) == 1
    assert await reminder_due(bot, incident) == [clock() + timedelta(minutes=30)]  # it keeps nagging

    # An update with "next update in 15 min" moves the reminder to that promise.
    clock.advance(minutes=5)
    draft = UpdateDraft("identified", "Bad deploy", "Rolling back", 15, ("channel",))
    await bot.runtime.incidents.post_update(incident.id, draft, ALICE)
    assert await reminder_due(bot, incident) == [clock() + timedelta(minutes=15)]

    await bot.runtime.incidents.resolve(incident.id, "Rolled back", ALICE)
    assert await reminder_due(bot, incident) == []
    clock.advance(hours=2)
    assert await bot.runtime.scheduler.run_due() == 0 and len(nags(bot, incident)) == 1


async def test_snooze_button_moves_the_reminder_thirty_minutes(timed_bot: BotUnderTest, clock: Clock) -> None:
    bot = timed_bot
    incident = await declare(bot, severity={"value": "SEV1"})
    await eventually(lambda: reminder_due(bot, incident))
    clock.advance(minutes=30)
    await bot.runtime.scheduler.run_due()
    nag = next(m for m in bot.workspace.messages(incident.channel_id or "") if ":alarm_clock:" in m.text)
    clock.advance(minutes=1)
    await bot.driver.click(BOB, "reminder_snooze", channel_id=incident.channel_id, message_ts=nag.ts)
    await eventually(lambda: "snoozed the update reminder" in message_text(nag))
    assert await reminder_due(bot, incident) == [clock() + timedelta(minutes=30)]
    [snoozed] = await events(bot, incident, EventKind.REMINDER_SNOOZED)
    assert snoozed.actor == BOB  # type: ignore[attr-defined]
    clock.advance(minutes=29)
    assert await bot.runtime.scheduler.run_due() == 0
    clock.advance(minutes=1)
    assert await bot.runtime.scheduler.run_due() == 1
    assert [":alarm_clock:" in text for text in nags(bot, incident)] == [
        True
    ]  # the first one now says snoozed
    assert "1 h 1 min" in nags(bot, incident)[0]
    assert len(await events(bot, incident, EventKind.REMINDER_SENT)) == 2


async def test_low_severities_are_not_nagged(timed_bot: BotUnderTest, clock: Clock) -> None:
    incident = await declare(timed_bot, severity={"value": "SEV3"})
    await asyncio.sleep(0.3)  # the declare hooks run after the channel is announced
    assert await reminder_due(timed_bot, incident) == []


async def test_a_reminder_survives_a_restart_and_fires_once(
    database_url: str, standin: RunningStandin, quiet_config: AppConfig, clock: Clock
) -> None:
    settings = bot_settings(database_url, standin)
    async with running_bot(settings, quiet_config, standin.workspace, clock) as first:
        incident = await declare(first, severity={"value": "SEV2"})  # SEV2: every 60 min
        await eventually(lambda: reminder_due(first, incident))
    clock.advance(minutes=61)
    async with running_bot(settings, quiet_config, standin.workspace, clock) as second:
        assert await second.runtime.scheduler.run_due() == 1
        assert await second.runtime.scheduler.run_due() == 0
        assert len(nags(second, incident)) == 1
