"""The first five minutes in Slack (issue 18), driven by signed requests against the stand-in: the notice
where the incident was declared, the announcement with its Join button, the channel's welcome checklist
and bookmarks, the page DM and its Join, and "Engaged" in the pinned summary."""

from __future__ import annotations

import asyncio
from typing import Any

from bot import welcome as ui
from bot.domain import EventKind, Incident
from bot.messages import ACTION_JOIN
from bot.standin import eventually
from bot.standin.state import Message, message_text
from tests.fixtures_bot import ALICE, ANNOUNCEMENTS, BOB, GENERAL, BotUnderTest, Clock
from tests.test_lifecycle import declare
from tests.test_paging import ESCALATE, buttons, clock, dms, paging_config, pbot  # noqa: F401 - fixtures

ERIN = "U0ERIN0000"


def blocks_of(message: Message, kind: str) -> list[dict[str, Any]]:
    return [b for b in message.blocks if b.get("type") == kind]


def welcome_message(bot: BotUnderTest, incident: Incident) -> Message | None:
    return next(
        (
            m
            for m in bot.workspace.messages(incident.channel_id or "")
            if "the first five minutes" in message_text(m)
        ),
        None,
    )


async def test_the_source_channel_and_the_announcement_say_what_and_where_with_a_join_button(
    bot: BotUnderTest,
) -> None:
    incident = await declare(bot, "Checkout is down", severity={"value": "SEV1"})
    [notice] = await eventually(
        lambda: [m for m in bot.workspace.messages(GENERAL) if "declared *INC-" in message_text(m)] or None
    )
    text = message_text(notice)
    assert f"<@{ALICE}> declared *{incident.reference}*" in text and "SEV1" in text
    assert "Checkout is down" in text and f"<#{incident.channel_id}>" in text
    [join] = blocks_of(notice, "actions")[0]["elements"]
    assert (join["action_id"], join["value"]) == (ACTION_JOIN, str(incident.id))

    [announcement] = [
        m for m in bot.workspace.messages(ANNOUNCEMENTS) if incident.reference in message_text(m)
    ]
    body = announcement.blocks[0]["text"]["text"]
    assert "*Impact:* Customers cannot pay" in body and "*Service:* Checkout" in body
    assert f"*Incident Commander:* <@{ALICE}>" in body and "*Declared:* <!date^" in body
    assert message_text(announcement).count(f"<#{incident.channel_id}>") == 1

    # Erin is not in the channel; one click on Join puts her there.
    channel = bot.workspace.channels[incident.channel_id or ""]
    assert ERIN not in channel.members
    await bot.driver.click(ERIN, ACTION_JOIN, channel_id=ANNOUNCEMENTS, message_ts=announcement.ts)
    await eventually(lambda: ERIN in channel.members)


async def test_a_private_incident_never_shows_its_title_where_it_was_declared(bot: BotUnderTest) -> None:
    incident = await declare(
        bot, "Leaked credentials", severity={"value": "SEV1"}, private={"value": ["private"]}
    )
    assert incident.private
    [notice] = await eventually(
        lambda: [m for m in bot.workspace.messages(GENERAL) if "private incident" in message_text(m)] or None
    )
    assert "Leaked credentials" not in message_text(notice) and blocks_of(notice, "actions") == []


async def test_no_notice_for_a_severity_the_config_keeps_quiet(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Typo on the pricing page", severity={"value": "SEV4"})
    await eventually(lambda: welcome_message(bot, incident))  # the set-up is done
    assert not [m for m in bot.workspace.messages(GENERAL) if incident.reference in message_text(m)]


async def test_the_welcome_checklist_ticks_once_and_lands_on_the_timeline(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Checkout is down", severity={"value": "SEV1"})
    welcome = await eventually(lambda: welcome_message(bot, incident))
    items = bot.runtime.config.checklist("SEV1")
    ticks = [b for b in welcome.blocks if b.get("accessory", {}).get("action_id") == ui.ACTION_TICK]
    assert len(ticks) == len(items) == 5
    assert items[1] in message_text(welcome)
    # The runbooks for the checkout service, each with Open.
    opens = [
        b["accessory"]["value"]
        for b in welcome.blocks
        if b.get("accessory", {}).get("action_id") == "runbook_open"
    ]
    assert "deployment-failure" in opens

    value = ui.tick_value(incident.id, 1)
    where = {"channel_id": incident.channel_id, "message_ts": welcome.ts, "value": value}
    first, _ = await asyncio.gather(  # two people on one button, and Slack's retry of one click
        bot.driver.click(BOB, ui.ACTION_TICK, **where), bot.driver.click(ALICE, ui.ACTION_TICK, **where)
    )
    await bot.driver.redeliver(first, retry_num=1)

    async def ticked() -> list[Any]:
        timeline = await bot.runtime.incidents.store.timeline(incident.id)
        return [e for e in timeline if e.kind == EventKind.CHECKLIST_TICKED]

    [event] = await eventually(ticked)
    assert event.actor in (ALICE, BOB) and event.data["item"] == items[1]
    loser = ALICE if event.actor == BOB else BOB

    def updated() -> str | None:
        message = bot.workspace.message(incident.channel_id or "", welcome.ts)
        text = message_text(message) if message else ""
        return text if ":white_check_mark:" in text else None

    text = await eventually(updated)
    assert f"<@{event.actor}>" in text and "(1/5 done)" in text
    assert await eventually(
        lambda: any("already ticked by" in message_text(m) for m in bot.workspace.ephemerals_for(loser))
    )
    assert len(await ticked()) == 1


async def test_the_channel_gets_its_bookmarks_once(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Checkout is down", severity={"value": "SEV1"})
    await eventually(lambda: welcome_message(bot, incident))
    channel = bot.workspace.channels[incident.channel_id or ""]
    links = {b["title"]: b["link"] for b in channel.bookmarks}
    assert links["Video bridge"] == f"https://meet.example.com/{incident.reference}"
    assert links["Checkout dashboard"].startswith("https://grafana.example.com/d/checkout")
    assert links["Status page"].endswith("/status")
    # A resumed set-up (here: the hook run again) adds nothing twice and posts no second welcome.
    welcome = next(h for h in bot.runtime.incidents.hooks if type(h).__name__ == "Welcome")
    await welcome.set_up(await bot.incident(incident.id))
    assert len(channel.bookmarks) == len(links)
    assert len([m for m in channel.messages if "the first five minutes" in message_text(m)]) == 1


async def test_engaged_shows_who_was_paged_and_who_acknowledged(pbot: BotUnderTest, clock: Clock) -> None:  # noqa: F811
    bot = pbot
    incident = await declare(bot, severity={"value": "SEV1"})
    await eventually(lambda: bot.runtime.scheduler.store.pending(incident.id, ESCALATE))
    await bot.runtime.scheduler.run_due()
    [page] = dms(bot.workspace, BOB)
    assert "*Impact*" in message_text(page) and "Customers cannot pay" in message_text(page)

    def summary() -> str:
        message = bot.workspace.message(incident.channel_id or "", incident.summary_ts or "")
        return message_text(message) if message else ""

    await eventually(lambda: f"*Engaged:* <@{BOB}> paged" in summary())
    assert "next step at <!date^" in summary()

    await bot.driver.click(
        BOB, "page_ack", channel_id=page.channel, message_ts=page.ts, value=buttons(page)["page_ack"]
    )
    await eventually(lambda: f"<@{BOB}> acknowledged" in summary())
    said = await eventually(
        lambda: (
            [
                message_text(m)
                for m in bot.workspace.ephemerals_for(BOB)
                if "You acknowledged" in message_text(m)
            ]
            or None
        )
    )
    assert f"Join <#{incident.channel_id}>" in said[0]  # BOB is not in the channel yet
