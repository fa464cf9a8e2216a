"""Transfer of command through Slack: asked with `/incident transfer` or the summary's button, confirmed or
declined by the new IC only, once, announced in the channel and the announcement's thread."""

from __future__ import annotations

from bot.domain import EventKind, Incident
from bot.standin import eventually
from bot.standin.state import Message, message_text
from tests.fixtures_bot import ALICE, ANNOUNCEMENTS, BOB, CAROL, BotUnderTest, at_once
from tests.statuspage_helpers import with_button
from tests.test_click_once import events, posted, told
from tests.test_lifecycle import declare, latest_view


async def request(bot: BotUnderTest, incident: Incident, before: str | None = None) -> Message:
    """The newest Accept/Decline request in the channel (newer than `before`)."""

    def found() -> Message | None:
        message = with_button(bot, incident.channel_id or "", "command_transfer_accept")
        return message if message is not None and message.ts != before else None

    return await eventually(found)


def buttons(message: Message) -> list[str]:
    return [e["action_id"] for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


async def test_transfer_confirmed_by_the_new_commander(bot: BotUnderTest) -> None:
    ws, driver = bot.workspace, bot.driver
    incident = await declare(bot)
    channel = incident.channel_id or ""
    assert incident.commander == ALICE

    await driver.slash(ALICE, channel, f"transfer <@{BOB}|bob>")
    asked = await request(bot, incident)
    assert f"<@{BOB}>" in message_text(asked) and "Do you take command?" in message_text(asked)
    assert buttons(asked) == ["command_transfer_accept", "command_transfer_decline"]
    [requested] = await events(bot, incident, EventKind.COMMAND_TRANSFER_REQUESTED)
    assert requested.actor == ALICE and requested.data == {"from": ALICE, "to": BOB}
    assert (await bot.incident(incident.id)).commander == ALICE  # nothing changes before Bob accepts

    # A stranger cannot accept in Bob's place.
    await driver.click(CAROL, "command_transfer_accept", channel_id=channel, message_ts=asked.ts)
    await eventually(lambda: told(ws, rf"Only <@{BOB}> can answer"))
    assert (await bot.incident(incident.id)).commander == ALICE

    # Bob double-clicks Accept: command changes once, the slower click is told it was answered.
    await at_once(
        2, lambda i: driver.click(BOB, "command_transfer_accept", channel_id=channel, message_ts=asked.ts)
    )
    await eventually(lambda: told(ws, rf"already answered by <@{BOB}>"))
    said = "*Command transferred:* <@U0BOB00000> is now the Incident Commander"
    await eventually(lambda: posted(ws, channel, said))
    assert len(posted(ws, channel, said)) == 1
    assert (await bot.incident(incident.id)).commander == BOB
    [handover] = [e for e in await events(bot, incident, EventKind.ROLE_ASSIGNED) if e.data.get("transfer")]
    assert handover.actor == BOB
    assert handover.data == {
        "role": "incident_commander",
        "user": BOB,
        "previous": ALICE,
        "handover": True,
        "transfer": requested.id,
        "requested_by": ALICE,
    }
    # The request's buttons are spent; the announcement's thread hears of it too.
    await eventually(lambda: buttons(ws.message(channel, asked.ts)) == [])  # type: ignore[arg-type]
    assert "accepted command" in message_text(ws.message(channel, asked.ts))  # type: ignore[arg-type]
    thread = [m for m in ws.messages(ANNOUNCEMENTS) if m.thread_ts == incident.announcement_ts and m.is_reply]
    assert [said in message_text(m) for m in thread] == [True]
    summary = ws.message(channel, incident.summary_ts or "")
    assert summary is not None and "incident_transfer_command" in buttons(summary)
    await eventually(lambda: "<@U0BOB00000>" in str(ws.message(channel, incident.summary_ts or "").blocks))  # type: ignore[union-attr]

    # The post-mortem says who held command when.
    await bot.runtime.incidents.resolve(incident.id, "Rolled back", BOB)
    document = await bot.runtime.postmortems.markdown(incident.id)
    command = document.split("### Command", 1)[1].split("\n#", 1)[0]
    lines = [line for line in command.splitlines() if line.startswith("- ")]
    names = await bot.runtime.slack.display_names({ALICE, BOB})
    alice, bob = names[ALICE], names[BOB]
    assert len(lines) == 2, command
    assert lines[0].startswith(f"- {alice}: from ") and lines[0].endswith("; from the declaration")
    assert lines[1].startswith(f"- {bob}: from ") and "until resolved at " in lines[1]
    assert lines[1].endswith(f"; accepted a transfer asked by {alice}")


async def test_a_declined_transfer_changes_nothing_and_tells_the_requester(bot: BotUnderTest) -> None:
    ws, driver = bot.workspace, bot.driver
    incident = await declare(bot)
    channel = incident.channel_id or ""
    # Through the summary's button and its form this time.
    await driver.click(ALICE, "incident_transfer_command", channel_id=channel, message_ts=incident.summary_ts)
    view = await latest_view(bot, ALICE, "transfer_command")
    ack = await driver.submit_view(ALICE, view.id, {"user": {"value": ALICE}})
    assert ack.view_errors and "already is the Incident Commander" in ack.view_errors["user"]
    await driver.submit_view(ALICE, view.id, {"user": {"value": BOB}})
    asked = await request(bot, incident)

    clicked = await driver.click(BOB, "command_transfer_decline", channel_id=channel, message_ts=asked.ts)
    await eventually(lambda: posted(ws, channel, f"<@{ALICE}>, <@{BOB}> declined to take command"))
    await driver.redeliver(clicked, 1)  # Slack's retry of the same click: silently nothing
    [declined] = await events(bot, incident, EventKind.COMMAND_TRANSFER_DECLINED)
    assert declined.actor == BOB and declined.data["from"] == ALICE
    assert (await bot.incident(incident.id)).commander == ALICE
    await eventually(lambda: buttons(ws.message(channel, asked.ts)) == [])  # type: ignore[arg-type]
    assert "declined to take command" in message_text(ws.message(channel, asked.ts))  # type: ignore[arg-type]
    assert told(ws, "already answered") == [] and len(posted(ws, channel, "declined to take command")) == 2


async def test_superseded_and_resolved_requests_are_refused(bot: BotUnderTest) -> None:
    ws, driver = bot.workspace, bot.driver
    incident = await declare(bot)
    channel = incident.channel_id or ""
    await driver.slash(ALICE, channel, f"transfer <@{BOB}>")
    first = await request(bot, incident)
    await driver.slash(ALICE, channel, f"transfer <@{CAROL}>")
    second = await request(bot, incident, before=first.ts)

    await driver.click(BOB, "command_transfer_accept", channel_id=channel, message_ts=first.ts)
    await eventually(lambda: told(ws, rf"superseded: <@{ALICE}> asked <@{CAROL}> since"))
    assert (await bot.incident(incident.id)).commander == ALICE

    await bot.runtime.incidents.resolve(incident.id, "Fixed", ALICE)
    await driver.click(CAROL, "command_transfer_accept", channel_id=channel, message_ts=second.ts)
    await eventually(lambda: told(ws, "is resolved: command can no longer be transferred"))
    assert (await bot.incident(incident.id)).commander == ALICE
    response = await driver.slash(ALICE, channel, f"transfer <@{BOB}>")
    assert "is resolved" in response.body
