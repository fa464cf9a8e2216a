"""Auto-archive with a hand-moved clock: a resolved incident's channel gets a notice with Keep a day
before, Keep postpones it (once per notice), otherwise it is archived; reopening cancels it all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.communication.settings import CommunicationConfig
from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.oncall.settings import OnCallConfig
from bot.services.archive import ARCHIVE, NOTICE
from bot.standin import RunningStandin, eventually
from bot.standin.state import Message, message_text
from tests.fixtures_bot import (
    ALICE,
    ANNOUNCEMENTS,
    BOB,
    CAROL,
    BotUnderTest,
    Clock,
    at_once,
    bot_settings,
    running_bot,
)
from tests.test_click_once import events, told
from tests.test_lifecycle import declare

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def timed_bot(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock
) -> AsyncIterator[BotUnderTest]:
    quiet = app_config.model_copy(update={"oncall": OnCallConfig(), "communication": CommunicationConfig()})
    assert quiet.channels.archive_after_days == 30
    async with running_bot(bot_settings(database_url, standin), quiet, standin.workspace, clock) as bot:
        yield bot


async def due(bot: BotUnderTest, incident: Incident, kind: str) -> list[datetime]:
    return [t.due_at for t in await bot.runtime.scheduler.store.pending(incident.id, kind)]


def notices(bot: BotUnderTest, incident: Incident) -> list[Message]:
    return [
        m for m in bot.workspace.messages(incident.channel_id or "") if ":file_cabinet:" in message_text(m)
    ]


def archived(bot: BotUnderTest, incident: Incident) -> bool:
    return bot.workspace.channels[incident.channel_id or ""].is_archived


async def resolved(bot: BotUnderTest) -> Incident:
    incident = await declare(bot)
    await bot.runtime.incidents.resolve(incident.id, "Rolled back", ALICE)
    return await bot.incident(incident.id)


async def test_notice_a_day_before_keep_postpones_then_archived(
    timed_bot: BotUnderTest, clock: Clock
) -> None:
    bot, driver = timed_bot, timed_bot.driver
    incident = await resolved(bot)
    channel = incident.channel_id or ""
    assert await due(bot, incident, NOTICE) == [T0 + timedelta(days=29)]
    assert await due(bot, incident, ARCHIVE) == [T0 + timedelta(days=30)]

    clock.advance(days=29, minutes=-1)
    await bot.runtime.scheduler.run_due()
    assert notices(bot, incident) == []
    clock.advance(minutes=1)
    await bot.runtime.scheduler.run_due()
    [notice] = notices(bot, incident)
    assert "will be archived <!date^" in message_text(notice) and "another 30 days" in message_text(notice)
    keep = [e for b in notice.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [(e["action_id"], e["text"]["text"]) for e in keep] == [("channel_archive_keep", "Keep channel")]
    assert len(await events(bot, incident, EventKind.ARCHIVE_NOTICE_SENT)) == 1

    # Two people click Keep at once: it is kept once, the slower one is told.
    clock.advance(hours=2)
    await at_once(
        2,
        lambda i: driver.click(
            (BOB, CAROL)[i], "channel_archive_keep", channel_id=channel, message_ts=notice.ts
        ),
    )
    await eventually(lambda: told(bot.workspace, r"already kept by <@U0(BOB|CAROL)"))
    # The slower click may be told before the first one has written the postponement and its timers.
    await eventually(lambda: "kept this channel" in message_text(bot.workspace.message(channel, notice.ts)))  # type: ignore[arg-type]
    [kept] = await events(bot, incident, EventKind.ARCHIVE_POSTPONED)
    until = clock() + timedelta(days=30)
    assert kept.data["until"] == until.isoformat() and kept.actor in (BOB, CAROL)
    assert await due(bot, incident, ARCHIVE) == [until]
    assert await due(bot, incident, NOTICE) == [until - timedelta(days=1)]

    # The first archive time passes: nothing happens.
    clock.advance(days=1)
    await bot.runtime.scheduler.run_due()
    assert not archived(bot, incident)

    # The postponed notice, then the archive.
    clock.at = until
    await bot.runtime.scheduler.run_due()
    assert len(notices(bot, incident)) == 2 and archived(bot, incident)
    [done] = await events(bot, incident, EventKind.CHANNEL_ARCHIVED)
    assert done.data["channel"] == channel and done.data["name"] == incident.channel_name
    # The announcement stays as it was.
    announcement = bot.workspace.message(ANNOUNCEMENTS, incident.announcement_ts or "")
    assert announcement is not None and incident.reference in message_text(announcement)
    # Firing again (a retry, a second replica) does nothing more.
    clock.advance(days=1)
    assert await bot.runtime.scheduler.run_due() == 0
    assert len(await events(bot, incident, EventKind.CHANNEL_ARCHIVED)) == 1


async def test_without_keep_the_channel_is_archived_after_thirty_days(
    timed_bot: BotUnderTest, clock: Clock
) -> None:
    bot = timed_bot
    incident = await resolved(bot)
    clock.advance(days=30)
    await bot.runtime.scheduler.run_due()
    assert len(notices(bot, incident)) == 1 and archived(bot, incident)
    kinds = [e.kind for e in await bot.runtime.incidents.store.timeline(incident.id)]
    assert kinds.index(EventKind.ARCHIVE_NOTICE_SENT) < kinds.index(EventKind.CHANNEL_ARCHIVED)


async def test_reopening_cancels_the_archive(timed_bot: BotUnderTest, clock: Clock) -> None:
    bot = timed_bot
    incident = await resolved(bot)
    clock.advance(days=29)
    await bot.runtime.scheduler.run_due()
    [notice] = notices(bot, incident)
    await bot.runtime.incidents.reopen(incident.id, ALICE)
    assert await due(bot, incident, NOTICE) == [] and await due(bot, incident, ARCHIVE) == []
    # Keep on the old notice is refused: nothing is going to be archived.
    await bot.driver.click(BOB, "channel_archive_keep", channel_id=incident.channel_id, message_ts=notice.ts)
    await eventually(lambda: told(bot.workspace, "is open again"))
    clock.advance(days=2)
    await bot.runtime.scheduler.run_due()
    assert not archived(bot, incident)
    assert await events(bot, incident, EventKind.CHANNEL_ARCHIVED) == []
