"""The communication plan's deadlines (issue 17), driven as Slack drives the bot, on a hand-moved clock:
the countdown in the pinned summary, the owner reminded before and at a deadline, Send now, Not needed,
a severity raised mid-incident, the status page counting as telling users, and the enterprise calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.communication import messages as ui
from bot.communication.settings import Audience, CommunicationConfig
from bot.domain import EventKind, Incident, TimelineEvent
from bot.standin import RunningStandin, eventually
from bot.standin.state import Message, message_text
from bot.statuspage.model import PublicDraft
from tests.fixtures_bot import ALICE, BOB, BotUnderTest, Clock
from tests.fixtures_smtp import SmtpServer
from tests.test_email_flow import clocked_bot
from tests.test_lifecycle import declare, latest_view

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def bot(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer, clock: Clock
) -> AsyncIterator[BotUnderTest]:
    async with clocked_bot(database_url, standin, app_config, smtp_server, clock) as running:
        yield running


async def events(bot: BotUnderTest, incident: Incident, kind: EventKind) -> list[TimelineEvent]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == kind]


def channel(bot: BotUnderTest, incident: Incident) -> list[Message]:
    return bot.workspace.messages(incident.channel_id or "")


def summary_line(bot: BotUnderTest, incident: Incident) -> str:
    summary = bot.workspace.message(incident.channel_id or "", incident.summary_ts or "")
    assert summary is not None
    return next(line for line in message_text(summary).splitlines() if line.startswith(":mega:"))


def reminders(bot: BotUnderTest, incident: Incident, audience: str) -> list[Message]:
    return [
        m
        for m in channel(bot, incident)
        if any(b.get("block_id") == f"communication_due:{audience}" for b in m.blocks)
    ]


def call_tasks(bot: BotUnderTest, incident: Incident) -> list[Message]:
    return [m for m in channel(bot, incident) if "Call customers about" in message_text(m)]


async def test_sev1_summary_counts_down_and_the_owner_is_reminded_before_and_at_the_deadline(
    bot: BotUnderTest, clock: Clock
) -> None:
    incident = await declare(bot, "Checkout down", severity={"value": "SEV1"})
    line = summary_line(bot, incident)
    # Management was told at declare (automatic); users owe a status page post by 02:15 UTC (03:15 in
    # Berlin), enterprise customers a call by 02:30.
    assert "*Management* told" in line and "✓" in line
    assert "*Users (status page)* due" in line and "03:15" in line and "in 15 min" in line
    assert "*Enterprise (calls)* due" in line and "03:30" in line and "0/1 called" in line
    [task] = call_tasks(bot, incident)
    assert "Acme Corp" in message_text(task) and "+49 30 1234567" in message_text(task)
    assert "Call script" in message_text(task)

    clock.advance(minutes=9)
    await bot.runtime.scheduler.run_due()
    assert reminders(bot, incident, "users") == []
    clock.advance(minutes=1)  # 5 minutes before the deadline
    await bot.runtime.scheduler.run_due()
    [soon] = reminders(bot, incident, "users")
    assert f"<@{ALICE}>" in message_text(soon) and "(in 5 min)" in message_text(soon)

    clock.advance(minutes=5)
    await bot.runtime.scheduler.run_due()
    [_, due] = reminders(bot, incident, "users")
    assert "now: it was due" in message_text(due)
    assert "*due now*" in summary_line(bot, incident)
    due_events = await events(bot, incident, EventKind.COMMUNICATION_DUE)
    assert [(e.data["audience"], e.data["phase"]) for e in due_events] == [
        ("users", "soon"),
        ("users", "due"),
    ]

    # Each deadline is reminded once before and once at it, not again.
    clock.advance(minutes=1)
    await bot.runtime.scheduler.run_due()
    assert len(await events(bot, incident, EventKind.COMMUNICATION_DUE)) == 2


async def test_send_now_opens_the_update_form_for_that_audience_and_publishing_tells_users(
    bot: BotUnderTest, clock: Clock
) -> None:
    incident = await declare(bot, "Search slow", severity={"value": "SEV1"})
    clock.advance(minutes=10)
    await bot.runtime.scheduler.run_due()
    [soon] = reminders(bot, incident, "users")
    value = ui.plan_value(incident.id, "users")
    await bot.driver.click(
        ALICE, ui.ACTION_SEND_NOW, channel_id=incident.channel_id, message_ts=soon.ts, value=value
    )
    form = await latest_view(bot, ALICE, "post_update")
    ticked = form.view["blocks"]
    audiences = next(b for b in ticked if b.get("block_id") == "audiences")["element"]
    assert [o["value"] for o in audiences["initial_options"]] == ["status_page"]

    # Published on the status page (here by the operator's path): users count as told at 02:12.
    clock.advance(minutes=2)
    draft = PublicDraft("investigating", "Search is slow", "We are looking into it.")
    await bot.runtime.statuspage.post_trusted(incident.id, draft, "ops", "publish-1")
    await eventually(lambda: "*Users (status page)* told" in summary_line(bot, incident))
    assert "next by" in summary_line(bot, incident)  # every 30 min for SEV1
    clock.advance(minutes=5)  # the 02:15 deadline passes: met, nobody is reminded
    await bot.runtime.scheduler.run_due()
    assert len(reminders(bot, incident, "users")) == 1


async def test_not_needed_asks_why_records_it_and_a_raised_severity_lifts_it(
    bot: BotUnderTest, clock: Clock
) -> None:
    incident = await declare(bot, "Exports late")  # SEV2: users within 2 h, no enterprise calls
    assert "Enterprise" not in summary_line(bot, incident) and call_tasks(bot, incident) == []
    clock.advance(minutes=115)
    await bot.runtime.scheduler.run_due()
    [soon] = reminders(bot, incident, "users")
    value = ui.plan_value(incident.id, "users")
    await bot.driver.click(
        BOB, ui.ACTION_NOT_NEEDED, channel_id=incident.channel_id, message_ts=soon.ts, value=value
    )
    form = await latest_view(bot, BOB, ui.NOT_NEEDED_VIEW)
    empty = await bot.driver.submit_view(BOB, form.id, {"reason": {"value": "  "}})
    assert empty.json and empty.json["response_action"] == "errors" and "reason" in empty.json["errors"]
    assert await events(bot, incident, EventKind.AUDIENCE_NOT_NEEDED) == []

    ok = await bot.driver.submit_view(BOB, form.id, {"reason": {"value": "Internal reports only"}})
    assert ok.status == 200
    [waived] = await eventually(lambda: events(bot, incident, EventKind.AUDIENCE_NOT_NEEDED))
    assert waived.actor == BOB and waived.data["reason"] == "Internal reports only"
    await eventually(lambda: "*Users (status page)* not needed" in summary_line(bot, incident))
    clock.advance(minutes=10)  # past the 2 h deadline: nobody is reminded any more
    await bot.runtime.scheduler.run_due()
    assert len(reminders(bot, incident, "users")) == 1

    # Raised to SEV1 at 04:05: users are owed a notice within 15 min again, enterprise a call in 30.
    raised_at = clock()
    await bot.runtime.incidents.set_severity(incident.id, "SEV1", ALICE)
    line = await eventually(lambda: _with(summary_line(bot, incident), "Enterprise"))
    local = (raised_at + timedelta(minutes=15)).astimezone(bot.runtime.config.zone).strftime("%H:%M")
    assert "*Users (status page)* due" in line and local in line
    [task] = await eventually(lambda: call_tasks(bot, incident))
    assert "Acme Corp" in message_text(task)


async def test_call_outcomes_go_on_the_timeline_and_the_last_reached_customer_tells_enterprise(
    bot: BotUnderTest, clock: Clock
) -> None:
    incident = await declare(bot, "Payments failing", severity={"value": "SEV1"})
    [task] = call_tasks(bot, incident)
    value = f"{incident.id}:enterprise:0"
    clock.advance(minutes=3)
    await bot.driver.click(
        ALICE, f"{ui.ACTION_CALL}_no_answer", channel_id=incident.channel_id, message_ts=task.ts, value=value
    )
    [first] = await eventually(lambda: events(bot, incident, EventKind.CUSTOMER_CALL))
    assert first.data == {"audience": "enterprise", "contact": "Acme Corp", "outcome": "no_answer"}
    await eventually(lambda: "no answer" in message_text(bot.workspace.message(task.channel, task.ts)))
    assert "Enterprise (calls)* due" in summary_line(bot, incident)

    clock.advance(minutes=4)
    response = await bot.driver.click(
        ALICE, f"{ui.ACTION_CALL}_called", channel_id=incident.channel_id, message_ts=task.ts, value=value
    )
    assert response.status == 200
    await eventually(lambda: _count(events(bot, incident, EventKind.CUSTOMER_CALL), 2))
    await eventually(lambda: "*Enterprise (calls)* told" in summary_line(bot, incident))
    # Slack's retry of the same click is not a third call.
    await bot.driver.redeliver(response, retry_num=1)
    clock.advance(minutes=30)
    await bot.runtime.scheduler.run_due()
    assert len(await events(bot, incident, EventKind.CUSTOMER_CALL)) == 2
    assert reminders(bot, incident, "enterprise") == []


def _with(text: str, part: str) -> str | None:
    return text if part in text else None


async def _count(found: Any, n: int) -> bool:
    return len(await found) == n


async def test_send_now_mails_an_audience_the_update_form_does_not_offer(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer, clock: Clock
) -> None:
    legal = Audience(email=["legal@example.com"], first={"SEV1": "10m"}, template="management_email")
    audiences = {**app_config.communication.audiences, "legal": legal}
    config = app_config.model_copy(update={"communication": CommunicationConfig(audiences=audiences)})
    async with clocked_bot(database_url, standin, config, smtp_server, clock) as bot:
        incident = await declare(bot, "Customer data exposed", severity={"value": "SEV1"})
        assert "*Legal* due" in summary_line(bot, incident)
        clock.advance(minutes=5)
        await bot.runtime.scheduler.run_due()
        [soon] = reminders(bot, incident, "legal")
        click = await bot.driver.click(
            ALICE,
            ui.ACTION_SEND_NOW,
            channel_id=incident.channel_id,
            message_ts=soon.ts,
            value=ui.plan_value(incident.id, "legal"),
        )
        await bot.driver.redeliver(click, retry_num=1)  # Slack's retry: still one notice

        async def mailed() -> list[Any]:
            await bot.runtime.scheduler.run_due()
            return smtp_server.handler.to("legal@example.com")

        [mail] = await eventually(mailed, timeout=10)
        assert "Customer data exposed" in mail.part("plain")
        await eventually(lambda: "*Legal* told" in summary_line(bot, incident))
        told = [
            e for e in await events(bot, incident, EventKind.AUDIENCE_TOLD) if e.data["audience"] == "legal"
        ]
        assert len(told) == 1 and told[0].data["via"] == ["email"]
        clock.advance(minutes=10)  # the 10-minute deadline passes: met, no reminder at it
        await bot.runtime.scheduler.run_due()
        assert len(reminders(bot, incident, "legal")) == 1
