"""Action items: how `/incident action` reads, the owner's DM, `/incident actions`, the form, Mark done,
and overdue reminders that survive like every other timer."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from bot.config import AppConfig
from bot.domain import DomainError, EventKind
from bot.oncall.settings import OnCallConfig
from bot.postmortem.action_text import parse_action, parse_due
from bot.services.actions import DUE
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import ALICE, DAVE, GENERAL, BotUnderTest, Clock, at_once, bot_settings, running_bot
from tests.test_lifecycle import declare, latest_view

TODAY = date(2026, 11, 24)  # a Tuesday
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

WHEN = r"at <!date\^\d+\^\{time\}\|\d\d:\d\d>\."
"""An "already done" answer's time, shown in each reader's own zone."""


@pytest.mark.parametrize(
    ("text", "item", "owner", "due"),
    [
        ("Add retries to the payment client", "Add retries to the payment client", None, None),
        ("Add retries <@U0DAVE0000|dave> 2026-12-01", "Add retries", "U0DAVE0000", date(2026, 12, 1)),
        ("Add retries 2026-12-01 <@U0DAVE0000>", "Add retries", "U0DAVE0000", date(2026, 12, 1)),
        ("Write the alert @dave friday", "Write the alert", "@dave", date(2026, 11, 27)),
        ("Tune the pool in 3d", "Tune the pool", None, date(2026, 11, 27)),
        ("Tune the pool 2w", "Tune the pool", None, date(2026, 12, 8)),
        ("Call the vendor tomorrow", "Call the vendor", None, date(2026, 11, 25)),
    ],
)
def test_action_text(text: str, item: str, owner: str | None, due: date | None) -> None:
    parsed = parse_action(text, TODAY)
    assert (parsed.text, parsed.owner, parsed.due) == (item, owner, due)


def test_bad_action_text() -> None:
    with pytest.raises(DomainError, match="Say what needs doing"):
        parse_action("<@U0DAVE0000> tomorrow", TODAY)
    with pytest.raises(DomainError, match="in the past"):
        parse_action("Fix it 2026-01-01", TODAY)
    with pytest.raises(DomainError, match="under 500"):
        parse_action("x" * 501, TODAY)
    assert parse_due("tuesday", TODAY) == date(2026, 12, 1)  # the next one, not today
    assert parse_due("someday", TODAY) is None


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def abot(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock
) -> AsyncIterator[BotUnderTest]:
    config = app_config.model_copy(update={"oncall": OnCallConfig()})  # no pages in these tests
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        yield bot


def dms(bot: BotUnderTest, user: str) -> list[object]:
    channel = bot.workspace.dm_channel(user, create=False)
    return list(channel.messages) if channel else []


async def test_an_action_item_reaches_its_owner_and_is_reminded_until_done(
    abot: BotUnderTest, clock: Clock
) -> None:
    bot = abot
    incident = await declare(bot)
    channel = incident.channel_id or ""
    text = f"action Add retries to the payment client <@{DAVE}|dave> 2026-11-26"
    assert (await bot.driver.slash(ALICE, channel, text)).status == 200
    recorded = "Action item #1 for <@U0DAVE0000>, due 2026-11-26 recorded"
    await eventually(lambda: bot.workspace.find_messages(recorded, include_ephemeral=True))
    # Everyone in the channel sees the follow-up, not only its author.
    public = f"<@{ALICE}> recorded action item #1 for <@{DAVE}>, due 2026-11-26: Add retries"
    await eventually(lambda: [m for m in bot.workspace.messages(channel) if public in message_text(m)])
    [dm] = await eventually(lambda: dms(bot, DAVE))
    assert "Add retries to the payment client" in message_text(dm) and "due 2026-11-26" in message_text(dm)
    events = await bot.runtime.incidents.store.timeline(incident.id)
    [added] = [e for e in events if e.kind == EventKind.ACTION_ITEM_ADDED]
    assert (added.actor, added.data["owner"], added.data["due"]) == (ALICE, DAVE, "2026-11-26")

    response = await bot.driver.slash(ALICE, GENERAL, "actions")
    assert "Open action items (1)" in response.body and incident.reference in response.body

    def overdue_dms() -> list[object]:
        return [m for m in dms(bot, DAVE) if "was due 2026-11-26" in message_text(m)]

    clock.advance(days=2)  # 2026-11-26 10:00 UTC: due today, not overdue yet
    await bot.runtime.scheduler.run_due()  # (the update reminders fire meanwhile)
    assert overdue_dms() == []
    clock.advance(days=1)  # the day after the due date, past 09:00 Berlin
    await bot.runtime.scheduler.run_due()
    assert len(overdue_dms()) == 1
    assert any("was due 2026-11-26" in message_text(m) for m in bot.workspace.messages(channel))

    reminder = next(m for m in dms(bot, DAVE) if "was due" in message_text(m))
    await bot.driver.click(DAVE, "action_item_done", channel_id=reminder.channel, message_ts=reminder.ts)
    done = lambda: any("did action item #1" in message_text(m) for m in bot.workspace.messages(channel))  # noqa: E731
    await eventually(done)
    clock.advance(days=5)
    await bot.runtime.scheduler.run_due()
    assert len(overdue_dms()) == 1
    assert await bot.runtime.scheduler.store.pending(kind=DUE) == []
    response = await bot.driver.slash(ALICE, GENERAL, "actions")
    assert "Open action items: none" in response.body
    with pytest.raises(DomainError, match=rf"Action item #1 was already done by <@{DAVE}> {WHEN}"):
        await bot.runtime.actions.complete(1, DAVE)


async def test_the_form_checks_the_date_and_needs_text(abot: BotUnderTest) -> None:
    bot = abot
    incident = await declare(bot)
    await bot.driver.slash(ALICE, incident.channel_id or "", "action")
    view = await latest_view(bot, ALICE, "action_item")
    values = {"text": {"value": "Fix the pool"}, "due": {"value": "2026-01-01"}}
    ack = await bot.driver.submit_view(ALICE, view.id, values)
    assert ack.view_errors == {"due": "The due date is in the past."}
    values = {"text": {"value": "Fix the pool"}, "owner": {"value": DAVE}, "due": {"value": "2026-12-24"}}
    ack = await bot.driver.submit_view(ALICE, view.id, values)
    assert ack.ok and not ack.view_errors
    await eventually(lambda: dms(bot, DAVE))
    events = await bot.runtime.incidents.store.timeline(incident.id)
    [added] = [e for e in events if e.kind == EventKind.ACTION_ITEM_ADDED]
    assert (added.text, added.data["due"]) == ("Fix the pool", "2026-12-24")


async def test_done_is_kept_when_the_channel_notice_cannot_be_posted(
    abot: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    bot = abot
    incident = await declare(bot)
    channel = incident.channel_id or ""
    await bot.driver.slash(ALICE, channel, f"action Rotate the keys <@{DAVE}|dave> 2026-12-01")
    [dm] = await eventually(lambda: dms(bot, DAVE))
    bot.workspace.fail_next(
        "chat.postMessage", "is_archived", when=lambda args: args.get("channel") == channel
    )
    with caplog.at_level(logging.WARNING, logger="bot.integrations.slack"):
        await bot.driver.click(DAVE, "action_item_done", channel_id=dm.channel, message_ts=dm.ts)  # type: ignore[attr-defined]
        await eventually(lambda: "action item #1: could not post to" in caplog.text)
    assert f"could not post to {channel}: chat.postMessage failed: is_archived" in caplog.text
    response = await bot.driver.slash(ALICE, GENERAL, "actions")
    assert "Open action items: none" in response.body


async def test_done_clicked_three_times_at_once_is_done_once(abot: BotUnderTest) -> None:
    bot = abot
    incident = await declare(bot)
    channel = incident.channel_id or ""
    await bot.driver.slash(ALICE, channel, f"action Add retries <@{DAVE}>")
    [dm] = await eventually(lambda: dms(bot, DAVE))
    await at_once(
        3, lambda i: bot.driver.click(DAVE, "action_item_done", channel_id=dm.channel, message_ts=dm.ts)
    )
    already = rf"Action item #1 was already done by <@{DAVE}> {WHEN}"
    await eventually(
        lambda: (
            len(
                [
                    m
                    for m in bot.workspace.find_messages("already done", include_ephemeral=True)
                    if re.search(already, message_text(m))
                ]
            )
            == 2
        )
    )
    # The first click posts in the channel after it claimed the item; the other two may answer before that.
    posted = await eventually(lambda: bot.workspace.find_messages("did action item #1"))
    done = [
        e
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.ACTION_ITEM_DONE
    ]
    assert len(done) == 1
    assert len(posted) == 1
