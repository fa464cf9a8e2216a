"""Every click acts once: N concurrent signed deliveries of one action (a double click, two people on
one form) change the incident once, and the slower ones are told who was first and when."""

from __future__ import annotations

import re
from typing import Any

from bot.domain import EventKind, Incident
from bot.standin import Workspace, eventually
from bot.standin.state import Message, message_text
from tests.fixtures_bot import ALICE, BOB, CAROL, DAVE, BotUnderTest, at_once
from tests.test_lifecycle import declare, latest_view

WHEN = r"at <!date\^\d+\^\{time\}\|\d\d:\d\d>\."  # each reader sees their own zone


async def events(bot: BotUnderTest, incident: Incident, kind: EventKind) -> list[Any]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == kind]


def told(ws: Workspace, pattern: str) -> list[str]:
    """Ephemeral answers (to a button, a command or a form) matching `pattern`."""
    found = [message_text(m) for messages in ws.ephemerals.values() for m in messages]
    return [text for text in found if re.search(pattern, text)]


def posted(ws: Workspace, channel: str | None, text: str) -> list[Message]:
    return [m for m in ws.messages(channel or "") if text in message_text(m)]


def page_dm(ws: Workspace) -> Message | None:
    for channel in ws.channels.values():
        for message in channel.messages if channel.is_im else []:
            actions = [e for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]
            if any(e["action_id"] == "page_ack" for e in actions):
                return message
    return None


async def test_a_double_clicked_acknowledge_records_one_acknowledgement(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot, severity={"value": "SEV1"})
    page = await eventually(lambda: page_dm(ws), timeout=10)
    paged = next(u for u in ws.channels[page.channel].members if u != ws.bot_user_id)
    await at_once(
        4, lambda i: bot.driver.click(paged, "page_ack", channel_id=page.channel, message_ts=page.ts)
    )
    await eventually(lambda: len(told(ws, rf"already acknowledged by <@{paged}> {WHEN}")) == 3)
    # A later click may tell of the acknowledgement before the first one has written it on the timeline.
    await eventually(lambda: events(bot, incident, EventKind.PAGE_ACKED))
    notice = "acknowledged the page; time to acknowledge"
    await eventually(lambda: posted(ws, incident.channel_id, notice))
    assert len(posted(ws, incident.channel_id, notice)) == 1
    assert len(await events(bot, incident, EventKind.PAGE_ACKED)) == 1


async def test_two_resolution_forms_submitted_together_resolve_once(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot)
    summary = incident.summary_ts or ""
    views = []
    for user in (ALICE, CAROL, DAVE):
        await bot.driver.click(user, "incident_resolve", channel_id=incident.channel_id, message_ts=summary)
        views.append((user, await latest_view(bot, user, "resolve_incident")))
    values = {"resolution": {"value": "Rolled back the deploy"}}
    acks = await at_once(3, lambda i: bot.driver.submit_view(views[i][0], views[i][1].id, values))
    # A later submission is refused in the form; one submitted at the same moment is told who won.
    refused = [a for a in acks if a.view_errors and "already resolved" in a.view_errors["resolution"]]
    already = rf"was already resolved by <@U0\w+> {WHEN}"
    await eventually(lambda: len(told(ws, already)) + len(refused) == 2)
    [resolved] = await events(bot, incident, EventKind.RESOLVED)
    assert resolved.actor in (ALICE, CAROL, DAVE)
    finals = [c for c in ws.calls_to("chat.postMessage") if "Rolled back the deploy" in str(c.args)]
    assert len({str(c.args.get("channel")) for c in finals}) == len(finals)  # one final update per place


async def test_a_status_or_severity_typed_twice_changes_once(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot)
    channel = incident.channel_id or ""
    await at_once(3, lambda i: bot.driver.slash((ALICE, BOB, CAROL)[i], channel, "status identified"))
    # Typed at the same moment: told who won; a moment later: told it is so already.
    already = rf"The status of INC-\d+ was already changed by <@U0\w+> {WHEN}|is already identified"
    await eventually(lambda: len(told(ws, already)) == 2)
    assert len(await events(bot, incident, EventKind.STATUS_CHANGED)) == 1
    await eventually(lambda: posted(ws, channel, "changed the status to *identified*"))
    assert len(posted(ws, channel, "changed the status to *identified*")) == 1

    await at_once(3, lambda i: bot.driver.slash(ALICE, channel, "severity SEV1"))
    already = rf"The severity of INC-\d+ was already changed by <@{ALICE}> {WHEN}|is already SEV1"
    await eventually(lambda: len(told(ws, already)) == 2)
    assert len(await events(bot, incident, EventKind.SEVERITY_CHANGED)) == 1
    assert (await bot.incident(incident.id)).severity == "SEV1"


async def test_a_role_given_twice_at_once_is_given_once(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot)
    channel = incident.channel_id or ""
    await at_once(3, lambda i: bot.driver.slash(ALICE, channel, f"assign scribe <@{BOB}>"))
    already = rf"The Scribe of INC-\d+ was already changed by <@{ALICE}> {WHEN}|already is Scribe"
    await eventually(lambda: len(told(ws, already)) == 2)
    [given] = await events(bot, incident, EventKind.ROLE_ASSIGNED)
    assert (await bot.incident(incident.id)).roles["scribe"] == given.data["user"]


async def test_a_status_update_submitted_twice_is_posted_once(bot: BotUnderTest) -> None:
    incident = await declare(bot)
    await bot.driver.slash(ALICE, incident.channel_id or "", "update")
    view = await latest_view(bot, ALICE, "post_update")
    values = {
        "status": {"value": "identified"},
        "known": {"value": "A bad deploy"},
        "audiences": {"value": ["channel"]},
    }
    preview = await bot.driver.submit_view(ALICE, view.id, values)
    assert preview.json and preview.json["response_action"] == "update"
    await at_once(3, lambda i: bot.driver.submit_view(ALICE, view.id))
    await eventually(lambda: events(bot, incident, EventKind.UPDATE_POSTED))
    await eventually(lambda: posted(bot.workspace, incident.channel_id, "A bad deploy"))
    assert len(await events(bot, incident, EventKind.UPDATE_POSTED)) == 1
    assert len(posted(bot.workspace, incident.channel_id, "A bad deploy")) == 1


async def test_reopen_clicked_together_reopens_once(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot)
    channel, summary = incident.channel_id or "", incident.summary_ts or ""
    await bot.driver.click(ALICE, "incident_resolve", channel_id=channel, message_ts=summary)
    view = await latest_view(bot, ALICE, "resolve_incident")
    await bot.driver.submit_view(ALICE, view.id, {"resolution": {"value": "Restarted"}})
    await eventually(lambda: "incident_reopen" in str(ws.message(channel, summary).blocks))  # type: ignore[union-attr]
    await at_once(
        3,
        lambda i: bot.driver.click(
            (ALICE, CAROL, DAVE)[i], "incident_reopen", channel_id=channel, message_ts=summary
        ),
    )
    await eventually(lambda: len(told(ws, rf"INC-\d+ was already reopened by <@U0\w+> {WHEN}")) == 2)
    assert len(await events(bot, incident, EventKind.REOPENED)) == 1
    assert (await bot.incident(incident.id)).status == "investigating"


async def test_escalate_clicked_together_escalates_one_step(bot: BotUnderTest) -> None:
    ws = bot.workspace
    incident = await declare(bot, severity={"value": "SEV1"})
    page = await eventually(lambda: page_dm(ws), timeout=10)
    paged = next(u for u in ws.channels[page.channel].members if u != ws.bot_user_id)
    await at_once(
        3, lambda i: bot.driver.click(paged, "page_escalate", channel_id=page.channel, message_ts=page.ts)
    )
    await eventually(
        lambda: len(told(ws, rf"was already escalated from this page by <@{paged}> {WHEN}")) == 2
    )
    await eventually(lambda: events(bot, incident, EventKind.ESCALATED))
    await eventually(lambda: posted(ws, incident.channel_id, "escalated to the next step"))
    [escalated] = await events(bot, incident, EventKind.ESCALATED)
    assert len(posted(ws, incident.channel_id, "escalated to the next step")) == 1
    assert escalated.actor == paged and escalated.data["step"] == 3  # the next notify step, once
