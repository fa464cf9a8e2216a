"""An alert storm against a Slack that creates 20 channels per window: nothing waits behind it.

50 Alertmanager groups (14 SEV1) arrive at once while `conversations.create` is rate limited (a sliding
window with Retry-After, in the stand-in; 5 s here instead of Slack's minute, the bot's own budget
likewise, so the test runs in seconds). Every incident is recorded and paged at once, every SEV1
channel is created before any SEV3/SEV4 channel, and in the end every incident has its channel.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.alerts.routing import AlertmanagerConfig
from bot.config import AppConfig
from bot.integrations.slack import Budget
from bot.standin import RunningStandin, eventually
from bot.store.models import IncidentRow, PageRow
from tests.fixtures_bot import BotUnderTest, bot_settings, running_bot
from tests.test_alerts import TOKEN, alert_incidents, drained, notification, post

WINDOW_S, PER_WINDOW = 5.0, 20
COUNTS = {"SEV1": 14, "SEV2": 6, "SEV3": 15, "SEV4": 15}
RULES = {
    "rules": [
        {"match": {"tier": sev[-1]}, "action": "declare", "severity": sev, "title": "{{ alertname }}"}
        for sev in COUNTS
    ]
}
CHANNEL_ID = re.compile(r"^inc-\d{8}-(\d+)-")


@pytest.fixture
async def storm_bot(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> AsyncIterator[BotUnderTest]:
    config = app_config.model_copy(
        update={"alertmanager": AlertmanagerConfig.model_validate({**RULES, "refire_window": "15m"})}
    )
    standin.workspace.rate_limit("conversations.create", PER_WINDOW, WINDOW_S)
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, config, standin.workspace) as bot:
        bot.runtime.slack.budgets["conversations.create"] = Budget(PER_WINDOW, WINDOW_S + 1)
        yield bot


async def paged_incidents(bot: BotUnderTest) -> set[int]:
    async with bot.runtime.alerts.sessions() as session:
        rows = await session.scalars(select(PageRow.incident_id).where(PageRow.status == "sent"))
        return set(rows.all())


async def test_a_storm_pages_everyone_at_once_and_sets_up_sev1_first(storm_bot: BotUnderTest) -> None:
    bot, ws = storm_bot, storm_bot.workspace
    bodies = [
        notification(f"svc{n:02d}", f"Storm{sev}x{n:02d}", tier=sev[-1])
        for sev, count in COUNTS.items()
        for n in range(count)
    ]
    for body in bodies:  # the rule matches the group's common labels
        body["commonLabels"]["tier"] = body["alerts"][0]["labels"]["tier"] = body.pop("tier")
    bodies = [bodies[(i * 7) % len(bodies)] for i in range(len(bodies))]  # severities interleaved
    # The storm arrives as one burst: every incident is recorded before the worker picks set-ups (on a
    # loaded machine a SEV1 request processed after the first set-ups began was set up after a SEV3:
    # arrival order, not the priority this test is about).
    await bot.runtime.scheduler.stop()
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(post(bot, body, session=session) for body in bodies))
    assert [status for status, _ in answers] == [200] * len(bodies)
    sent = time.monotonic()
    bot.runtime.scheduler.start()

    await eventually(lambda: _recorded(bot, len(bodies)), timeout=5, interval=0.1)
    recorded = time.monotonic()
    await eventually(lambda: _paged_all(bot, len(bodies)), timeout=10, interval=0.1)
    paged = time.monotonic()

    await eventually(lambda: drained(bot), timeout=60, message="alert jobs drained")
    incidents = await alert_incidents(bot)
    await eventually(lambda: all(i.channel_id for i in [*incidents]) or _refresh(bot, incidents), timeout=60)
    incidents = await alert_incidents(bot)
    assert all(i.channel_id for i in incidents), [i.reference for i in incidents if not i.channel_id]
    assert len({i.channel_id for i in incidents}) == len(bodies)  # one each, none twice
    severity = {i.id: i.severity for i in incidents}
    created = [
        severity[int(CHANNEL_ID.match(c.args["name"]).group(1))]  # type: ignore[union-attr]
        for c in ws.calls_to("conversations.create")
        if c.ok
    ]
    last_sev1 = max(n for n, sev in enumerate(created) if sev == "SEV1")
    first_low = min(n for n, sev in enumerate(created) if sev in ("SEV3", "SEV4"))
    assert last_sev1 < first_low, created
    assert len(await paged_incidents(bot)) == len(bodies)
    print(
        f"\nstorm: {len(bodies)} groups sent in {sent - started:.2f} s; all recorded after "
        f"{recorded - sent:.2f} s, all paged after {paged - sent:.2f} s; channel order {created}"
    )


async def _recorded(bot: BotUnderTest, wanted: int) -> bool:
    async with bot.runtime.alerts.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(IncidentRow).where(IncidentRow.declare_key.like("alert:%"))
        )
    return (count or 0) >= wanted


async def _paged_all(bot: BotUnderTest, wanted: int) -> bool:
    return len(await paged_incidents(bot)) >= wanted


async def _refresh(bot: BotUnderTest, incidents: list) -> bool:  # type: ignore[type-arg]
    incidents[:] = await alert_incidents(bot)
    return all(i.channel_id for i in incidents)
