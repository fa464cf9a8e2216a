"""A channel Slack will not create for two minutes: the incident is recorded and paged at once, the
announcement and the declarer say the channel is pending, the bot keeps trying with backoff, and when
the channel comes the announcement, the page and the declarer show it."""

from __future__ import annotations

from datetime import timedelta

from bot.standin import eventually, message_text
from tests.fixtures_bot import ALICE, ANNOUNCEMENTS, BOB, GENERAL, BotUnderTest, Clock
from tests.test_lifecycle import latest_view
from tests.test_paging import T0, clock, dms, paging_config, pbot  # noqa: F401 - fixtures

FAILING_FOR = timedelta(minutes=2)


async def test_a_channel_refused_for_two_minutes_is_created_and_everyone_is_told(
    pbot: BotUnderTest,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    bot, ws = pbot, pbot.workspace
    ws.fail_next(
        "conversations.create", "internal_error", times=1000, when=lambda _: clock() < T0 + FAILING_FOR
    )
    await bot.driver.slash(ALICE, GENERAL, "declare Payments are failing")
    view = await latest_view(bot, ALICE, "declare_incident")
    await bot.driver.submit_view(ALICE, view.id, {"severity": {"value": "SEV1"}})
    await eventually(lambda: "Could not create the incident channel yet" in str(ws.views[view.id].view))
    incident = await bot.only_incident()
    assert incident.channel_id is None
    [announcement] = [m for m in ws.messages(ANNOUNCEMENTS) if "Payments are failing" in message_text(m)]
    assert "has not created the incident channel yet" in message_text(announcement)

    await bot.runtime.scheduler.run_due()  # the page does not wait for the channel
    [page] = dms(ws, BOB)
    assert "no channel yet" in message_text(page)

    while clock() < T0 + FAILING_FOR + timedelta(minutes=1) and not incident.channel_id:
        clock.advance(seconds=5)
        await bot.runtime.scheduler.run_due()
        incident = await bot.incident(incident.id)
    assert incident.channel_id, "created once Slack took it again"
    creates = ws.calls_to("conversations.create")
    assert [c.ok for c in creates][-1] and sum(not c.ok for c in creates) >= 4  # backed off, not hammered
    assert clock() - T0 < FAILING_FOR + timedelta(minutes=1)

    channel = ws.channels[incident.channel_id]
    assert incident.summary_ts in channel.pins
    announcement = ws.message(ANNOUNCEMENTS, announcement.ts)
    assert f"<#{incident.channel_id}>" in message_text(announcement)
    assert "has not created the incident channel yet" not in message_text(announcement)
    [page] = dms(ws, BOB)
    assert f"<#{incident.channel_id}>" in message_text(page)  # the page was edited
    told = [message_text(m) for m in dms(ws, ALICE)]
    assert any("exists now" in text and f"<#{incident.channel_id}>" in text for text in told), told
    # The communication plan's call task waited for the channel (SEV1: Acme Corp is to be called).
    tasks = await eventually(
        lambda: [m for m in channel.messages if "Call customers about" in message_text(m)] or None
    )
    assert len(tasks) == 1 and "Acme Corp" in message_text(tasks[0])
