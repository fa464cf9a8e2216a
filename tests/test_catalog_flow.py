"""The catalog at work, driven as Slack drives the bot (issue 20): declaring on a catalog service tells
its owner team and pages its on-call; the pinned summary shows the tier, the RTO counting down on a
hand-moved clock and what is at risk; the RTO breach is a timeline event, a channel post and a mail to
management (a real SMTP server); dependents join the status page draft; `/incident service` shows a card."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.catalog.messages import ACTION_ADD_AT_RISK
from bot.changes.deploys import DeployNotice
from bot.changes.store import DeployStore
from bot.domain import EventKind, Incident
from bot.oncall.schedules import on_call
from bot.services.catalog import ServiceCatalog
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from bot.workflows.settings import Workflow
from tests.fixtures_bot import ALICE, BOB, GENERAL, BotUnderTest, Clock
from tests.fixtures_smtp import SmtpServer
from tests.test_communication_deadlines import T0, clock, events  # noqa: F401  (clock: a fixture)
from tests.test_deploys import what_changed_post
from tests.test_drills import the_drill
from tests.test_email_flow import CTO, clocked_bot, resolve
from tests.test_lifecycle import declare, latest_view
from tests.test_slo_slack import response_with

PLATFORM, INTEGRATIONS = "C0PLATFORM", "C0INTEGRAT"


Start = Callable[[Any], AbstractAsyncContextManager[BotUnderTest]]


@pytest.fixture
def start_clocked(
    database_url: str,
    standin: RunningStandin,
    smtp_server: SmtpServer,
    clock: Clock,  # noqa: F811
) -> Start:
    """A clocked bot (timers fire on `run_due`, no paging policies) with the config given."""
    return lambda config: clocked_bot(database_url, standin, config, smtp_server, clock)


@pytest.fixture
async def clocked(start_clocked: Start, app_config: Any) -> AsyncIterator[BotUnderTest]:
    async with start_clocked(app_config) as running:
        yield running


def summary_text(bot: BotUnderTest, incident: Incident) -> str:
    summary = bot.workspace.message(incident.channel_id or "", incident.summary_ts or "")
    assert summary is not None
    return message_text(summary)


def catalog_lines(bot: BotUnderTest, incident: Incident) -> list[str]:
    return [
        line for line in summary_text(bot, incident).splitlines() if line.startswith((":jigsaw:", ":link:"))
    ]


def said(bot: BotUnderTest, channel: str, text: str) -> list[str]:
    return [message_text(m) for m in bot.workspace.messages(channel) if text in message_text(m)]


async def test_declare_on_a_catalog_service_tells_the_owner_team_and_pages_its_on_call(
    bot: BotUnderTest,
) -> None:
    incident = await declare(bot, "PMS sync failing", service={"value": "pms"})
    # The owner team's channel gets one message with the incident's channel.
    [told] = await eventually(lambda: said(bot, INTEGRATIONS, incident.reference))
    assert f"<#{incident.channel_id}>" in told and "*PMS*" in told and "integrations" in told
    [event] = await events(bot, incident, EventKind.OWNER_TEAM_TOLD)
    assert event.data == {"service": "pms", "team": "integrations", "channel": INTEGRATIONS}
    # PMS answers to the secondary schedule, which SEV2's policy reaches only after 15 minutes: it is
    # paged at declare, through the paging service (a page row, a DM with Acknowledge).
    schedule = bot.runtime.config.oncall.schedule("secondary")
    assert schedule is not None
    shift = on_call(schedule, datetime.now(UTC))
    assert shift is not None

    async def paged() -> list[Any]:
        pages = await bot.runtime.paging.store.pages(incident.id)
        return [p for p in pages if p.target == shift.user and "answers for PMS" in p.reason]

    [page] = await eventually(paged)
    assert page.status == "sent"
    lines = await eventually(lambda: catalog_lines(bot, incident) or None)
    assert lines[0].startswith(":jigsaw: *PMS* · Tier 2 (important) · RTO 2 h · 1 h 59 min left (by")
    assert lines[0].endswith("· RPO 2 h · SLA 99.5 %")
    assert lines[1] == ":link: also at risk: Booking (pre-reservations)"


async def test_a_private_incident_keeps_its_title_from_the_owner_team_and_the_card(bot: BotUnderTest) -> None:
    incident = await declare(bot, "Leaked API keys", service={"value": "api"}, private={"value": ["private"]})
    [told] = await eventually(lambda: said(bot, PLATFORM, incident.reference))
    assert "a private incident" in told and "Leaked" not in told and f"<#{incident.channel_id}>" not in told
    await bot.driver.slash(BOB, GENERAL, "service api")
    card = await response_with(bot.workspace, f"{incident.reference} (private)")
    assert "Leaked" not in str(card.blocks)


async def test_a_service_that_the_policy_pages_first_is_not_paged_twice(bot: BotUnderTest) -> None:
    incident = await declare(bot, "API errors", service={"value": "api"})
    await eventually(lambda: said(bot, PLATFORM, incident.reference))
    await eventually(lambda: catalog_lines(bot, incident) or None)
    pages = await bot.runtime.paging.store.pages(incident.id)
    assert all("answers for" not in p.reason for p in pages)  # SEV2 starts with `primary` already


async def test_rto_counts_down_and_its_breach_is_told_once_in_the_channel_and_to_management(
    clocked: BotUnderTest,
    clock: Clock,  # noqa: F811
    smtp_server: SmtpServer,
) -> None:
    bot = clocked
    incident = await declare(bot, "Bookings not created", service={"value": "booking"})
    [line, graph] = catalog_lines(bot, incident)
    assert line.startswith(
        ":jigsaw: *Booking (pre-reservations)* · Tier 1 (critical) · RTO 30 min · 30 min left"
    )
    assert f"(by <!date^{int(T0.timestamp()) + 1800}^{{time}}|03:30 CET>)" in line  # 02:30 UTC
    assert graph == ":link: depends on Public API, PMS, WhatsApp messaging"
    await bot.runtime.scheduler.run_due()
    mails_at_declare = len(smtp_server.handler.to(CTO))

    clock.advance(minutes=18)
    await bot.runtime.incidents.refresh_summary(incident.id)
    assert "RTO 30 min · 12 min left" in catalog_lines(bot, incident)[0]
    clock.advance(minutes=2)  # 10 minutes before: a heads-up, and the countdown refreshed by itself
    await bot.runtime.scheduler.run_due()
    [soon] = said(bot, incident.channel_id or "", "passes in 10 min")
    assert soon.startswith(":hourglass_flowing_sand: The RTO of 30 min for *Booking (pre-reservations)*")
    assert "RTO 30 min · 10 min left" in catalog_lines(bot, incident)[0]
    await bot.runtime.scheduler.run_due()
    assert await events(bot, incident, EventKind.RTO_BREACHED) == []

    clock.advance(minutes=11)  # 31 minutes after the declaration
    await bot.runtime.scheduler.run_due()
    [breach] = await events(bot, incident, EventKind.RTO_BREACHED)
    assert breach.data["service"] == "booking" and breach.data["tier"] == 1
    assert breach.data["rto_seconds"] == 1800
    assert "has been open for 31 min" in breach.text
    [post] = said(bot, incident.channel_id or "", "RTO passed")
    assert "The RTO of 30 min for Booking (pre-reservations) (tier 1 (critical)) has passed" in post
    assert ":warning: RTO 30 min · *passed 1 min ago*" in catalog_lines(bot, incident)[0]
    told = [
        e
        for e in await events(bot, incident, EventKind.AUDIENCE_TOLD)
        if e.data.get("audience") == "management"
    ]
    assert len(told) == 2  # at declare (automatic) and at the breach
    await bot.runtime.scheduler.run_due()  # the mail leaves through the outbox
    mails = await eventually(lambda: _more(smtp_server.handler.to(CTO), mails_at_declare), timeout=10)
    assert "The RTO of 30 min for Booking" in mails[-1].part("plain")

    clock.advance(minutes=30)
    await bot.runtime.scheduler.run_due()
    assert len(await events(bot, incident, EventKind.RTO_BREACHED)) == 1

    await resolve(bot, incident, "PMS credentials rotated.")
    resolved = await eventually(lambda: _resolved(bot, incident.id))
    await eventually(lambda: _says(bot, resolved, "RTO 30 min *missed* by 31 min (resolved in 1 h 1 min)"))
    document = await bot.runtime.postmortems.markdown(incident.id)
    assert (
        "## Recovery objective\n\n**Booking (pre-reservations)** "
        "(tier 1 · RTO 30 min · RPO 15 min · SLA 99.9 %): "
        "RTO missed by 31 min (resolved in 1 h 1 min); the breach was told 2026-11-24 03:31"
    ) in document


async def test_resolved_within_the_rto_nothing_is_breached(
    clocked: BotUnderTest,
    clock: Clock,  # noqa: F811
) -> None:
    bot = clocked
    incident = await declare(bot, "API slow", service={"value": "api"})
    clock.advance(minutes=20)
    await resolve(bot, incident, "Cache warmed.")
    resolved = await eventually(lambda: _resolved(bot, incident.id))
    await eventually(lambda: _says(bot, resolved, "RTO 1 h met (resolved in 20 min)"))
    document = await bot.runtime.postmortems.markdown(incident.id)
    assert "): RTO met (resolved in 20 min).\n" in document and "breach" not in document
    clock.advance(hours=2)
    await bot.runtime.scheduler.run_due()
    assert await events(bot, incident, EventKind.RTO_BREACHED) == []
    assert said(bot, incident.channel_id or "", "passes in") == []  # the heads-up was cancelled too


async def test_an_rto_breach_starts_the_workflows_that_wait_for_it(
    start_clocked: Start,
    app_config: Any,
    clock: Clock,  # noqa: F811
) -> None:
    flow = Workflow.model_validate(
        {
            "name": "rto-director",
            "on": "rto.breached",
            "if": {"service": "booking"},
            "do": [{"post": {"channel": "C0ALERTS00", "template": "team_heads_up"}}],
        }
    )
    config = app_config.model_copy(update={"workflows": [flow]})
    async with start_clocked(config) as bot:
        incident = await declare(bot, "Bookings lost", service={"value": "booking"})
        await bot.runtime.scheduler.run_due()
        assert said(bot, "C0ALERTS00", "rto-director") == []
        clock.advance(minutes=31)
        await bot.runtime.scheduler.run_due()  # the breach, then the workflow run it started
        await bot.runtime.scheduler.run_due()
        [post] = await eventually(lambda: said(bot, "C0ALERTS00", "Heads-up from workflow rto-director"))
        assert incident.reference in post


async def test_a_reopened_incident_counts_down_again_from_its_declaration(
    clocked: BotUnderTest,
    clock: Clock,  # noqa: F811
) -> None:
    bot = clocked
    incident = await declare(bot, "Bookings duplicated", service={"value": "booking"})
    channel = incident.channel_id or ""
    assert await rto_timers(bot, incident) == ["catalog.rto:1:0", "catalog.rto:1:0:soon"]
    clock.advance(minutes=10)
    await resolve(bot, incident, "Dedup job fixed.")
    await eventually(lambda: _none(rto_timers(bot, incident)))  # cancelled with the resolution
    clock.advance(minutes=10)
    answer = await bot.driver.slash(ALICE, channel, "reopen")
    assert f"Reopening {incident.reference}" in answer.body
    # The RTO still counts from the declaration: 10 minutes left, too few for a heads-up.
    assert await eventually(lambda: rto_timers(bot, incident)) == ["catalog.rto:1:1"]
    await eventually(lambda: _says(bot, incident, "RTO 30 min · 10 min left"))
    clock.advance(minutes=11)  # 31 minutes after the declaration, open again
    await bot.runtime.scheduler.run_due()
    [breach] = await events(bot, incident, EventKind.RTO_BREACHED)
    assert "has been open for 31 min" in breach.text
    clock.advance(hours=1)
    await bot.runtime.scheduler.run_due()
    assert len(await events(bot, incident, EventKind.RTO_BREACHED)) == 1


async def test_the_rto_timer_outlives_a_restart(
    start_clocked: Start,
    app_config: Any,
    clock: Clock,  # noqa: F811
) -> None:
    async with start_clocked(app_config) as first:
        incident = await declare(first, "Bookings stuck", service={"value": "booking"})
    clock.advance(minutes=45)  # the bot was down when the RTO passed
    async with start_clocked(app_config) as second:
        await second.runtime.scheduler.run_due()
        [breach] = await events(second, incident, EventKind.RTO_BREACHED)
        assert "has been open for 45 min" in breach.text
        assert said(second, incident.channel_id or "", "RTO passed")
        assert said(second, incident.channel_id or "", "passes in") == []  # too late for a heads-up


async def rto_timers(bot: BotUnderTest, incident: Incident) -> list[str]:
    pending = await bot.runtime.scheduler.store.pending(incident.id)
    return sorted(t.key or "" for t in pending if t.kind.startswith("catalog.rto"))


async def _none(found: Awaitable[list[str]]) -> bool:
    return not await found


async def test_dependents_on_the_status_page_can_join_the_draft(clocked: BotUnderTest) -> None:
    bot = clocked
    incident = await declare(bot, "Primary down", service={"value": "database"})
    channel = incident.channel_id or ""
    [offer] = await eventually(lambda: said(bot, channel, "Add them to the status page draft"))
    assert offer.startswith(":link: API depend on *Database*")  # booking has no status component
    message = next(m for m in bot.workspace.messages(channel) if "status page draft" in message_text(m))
    await bot.driver.click(ALICE, ACTION_ADD_AT_RISK, channel_id=channel, message_ts=message.ts)
    await eventually(lambda: said(bot, channel, "added api to the status page draft"))
    draft = await bot.runtime.statuspage.default_draft(await bot.incident(incident.id))
    assert list(draft.components) == ["db", "api"]
    [added] = await events(bot, incident, EventKind.AT_RISK_ADDED)
    assert added.actor == ALICE and added.data == {"components": ["api"]}
    catalog: ServiceCatalog = bot.runtime.catalog
    assert await catalog.add_at_risk(incident.id, ["api"], ALICE) == []  # a second click adds nothing
    both = await asyncio.gather(*(catalog.add_at_risk(incident.id, ["checkout"], u) for u in (ALICE, BOB)))
    assert sorted(both) == [[], ["checkout"]]  # two people at once: one adds it
    assert len(await events(bot, incident, EventKind.AT_RISK_ADDED)) == 2


async def test_a_drill_on_a_catalog_service_tells_no_real_team(clocked: BotUnderTest) -> None:
    bot = clocked
    await bot.driver.slash(ALICE, GENERAL, f"drill db-down <@{BOB}>")
    incident = await eventually(lambda: the_drill(bot))
    await eventually(lambda: said(bot, incident.channel_id or "", "drill preview: data would be told"))
    assert said(bot, "C0DATATEAM", incident.reference) == []
    assert await events(bot, incident, EventKind.OWNER_TEAM_TOLD) == []


async def test_the_card_shows_the_recent_production_deploys_of_the_change_tracking(bot: BotUnderTest) -> None:
    deploys = DeployStore(bot.runtime.incidents.store.sessions)
    now = datetime.now(UTC)
    for version, ago, environment in (
        ("v7", 2, "production"),
        ("v8", 1, "staging"),
        ("v6", 30, "production"),
    ):
        at = now - timedelta(hours=ago)
        notice = DeployNotice(service="pms", version=version, deployed_at=at, environment=environment)
        await deploys.record(notice, notice.key("test"), "test", at)
    await bot.driver.slash(ALICE, GENERAL, "service pms")
    card = await response_with(bot.workspace, "*Recent deploys:*")
    text = str(card.blocks)
    assert "*pms* v7" in text and "v8" not in text and "v6" not in text  # production, last 24 h


async def test_what_changed_at_declare_covers_the_services_dependencies(bot: BotUnderTest) -> None:
    deploys = DeployStore(bot.runtime.incidents.store.sessions)
    now = datetime.now(UTC)
    for service, version in (("database", "pg-16.4"), ("checkout", "v99")):
        at = now - timedelta(hours=1)
        notice = DeployNotice(service=service, version=version, deployed_at=at)
        await deploys.record(notice, notice.key("test"), "test", at)
    incident = await declare(bot, "Bookings failing", service={"value": "booking"})
    post = await eventually(lambda: what_changed_post(bot, incident))
    # booking depends on the API, which depends on the database: its deploy is a change to booking too
    assert "*database* pg-16.4" in message_text(post) and "v99" not in message_text(post)


async def test_service_card_and_unknown_service(bot: BotUnderTest) -> None:
    deploys: list[tuple[str, int]] = []

    async def recent(service_id: str, hours: int) -> list[str]:
        deploys.append((service_id, hours))
        return ["v1.4.2 to production"]

    bot.runtime.catalog.recent_deploys = recent
    incident = await declare(bot, "Payments of bookings stuck", service={"value": "booking"})
    response = await bot.driver.slash(ALICE, GENERAL, "service Booking (pre-reservations)")
    assert response.status == 200 and "Gathering the card of Booking" in response.body
    card = await response_with(bot.workspace, "Recent deploys")
    text = str(card.blocks)
    assert "platform · <#C0PLATFORM> · <!subteam^S0PLATFORM>" in text
    assert "Primary on-call: <@U0" in text
    assert "*Targets:* tier 1 (critical) · RTO 30 min · RPO 15 min · SLA 99.9 %" in text
    assert "*Depends on:* Public API, PMS, WhatsApp messaging" in text
    assert f"{incident.reference} Payments of bookings stuck (SEV2, investigating)" in text
    assert "*Recent deploys:* v1.4.2 to production" in text and deploys == [("booking", 24)]
    assert "PMS integration failure (RTO 30 min)" in text
    response = await bot.driver.slash(ALICE, GENERAL, "service api")
    card = await response_with(bot.workspace, "api/availability: Prometheus is not configured")
    assert "`high-error-rate`" in str(card.blocks)

    response = await bot.driver.slash(ALICE, GENERAL, "service")
    assert "Usage: `/incident service <name>`. Known services: `api`" in response.body
    response = await bot.driver.slash(ALICE, GENERAL, "service payroll")
    assert "No service 'payroll' in the catalog. Known services: `api`, `booking`, `cache`" in response.body


async def test_the_declare_forms_service_picker_lists_the_catalog(bot: BotUnderTest) -> None:
    await bot.driver.slash(ALICE, GENERAL, "declare Guests get no replies")
    view = await latest_view(bot, ALICE, "declare_incident")
    [block] = [b for b in view.view["blocks"] if b.get("block_id") == "service"]
    options = {o["value"]: o["text"]["text"] for o in block["element"]["options"]}
    assert options["whatsapp"] == "WhatsApp messaging" and options["booking"] == "Booking (pre-reservations)"
    assert options["api"] == "Public API" and "checkout" in options  # extended, and a plain service


def _says(bot: BotUnderTest, incident: Incident, text: str) -> bool:
    return text in catalog_lines(bot, incident)[0]


def _more(mails: list[Any], than: int) -> list[Any] | None:
    return mails if len(mails) > than else None


async def _resolved(bot: BotUnderTest, incident_id: int) -> Incident | None:
    incident = await bot.incident(incident_id)
    return incident if incident.resolved_at is not None else None
