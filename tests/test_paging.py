"""Escalation and paging through Slack with a hand-moved clock: the policy's steps, acknowledgement,
"Escalate now", pages by hand, `/oncall`, PagerDuty and Opsgenie, and a restart mid-wait."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.oncall.settings import OnCallConfig
from bot.services.paging import CONFIRM, CONFIRM_ATTEMPTS, ESCALATE, dedup_key
from bot.standin import RunningStandin, Workspace, eventually
from bot.standin.pagers import RunningPagers
from bot.standin.state import message_text
from tests.fixtures_bot import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    GENERAL,
    BotUnderTest,
    Clock,
    bot_settings,
    running_bot,
)
from tests.test_lifecycle import declare

ERIN = "U0ERIN0000"
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
PAGERDUTY_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"

ONCALL = {
    "schedules": [
        {
            "id": "primary",
            "name": "Primary",
            "timezone": "Europe/Berlin",
            "layers": [{"name": "all", "users": [BOB], "rotation": "weekly", "start": "2026-01-05"}],
        },
        {
            "id": "secondary",
            "name": "Secondary",
            "timezone": "Europe/Berlin",
            "layers": [{"name": "all", "users": [CAROL], "rotation": "weekly", "start": "2026-01-05"}],
        },
    ],
    "escalation": {
        "SEV1": [
            {"notify": {"schedule": "primary"}},
            {"wait": "5m"},
            {"notify": {"schedule": "secondary"}},
            {"wait": "5m"},
            {"notify": {"role": "incident_commander"}},
            {"wait": "5m"},
            {"notify": {"users": [DAVE]}},
            {"wait": "10m"},
            {"notify": {"usergroup": "S0ONCALL00"}},
            {"wait": "10m"},
            {"repeat": {"from_step": 1, "times": 1}},
        ],
        "SEV2": [{"notify": {"schedule": "primary"}}, {"wait": "15m"}, {"notify": {"schedule": "secondary"}}],
    },
}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def paging_config(app_config: AppConfig) -> AppConfig:
    return app_config.model_copy(update={"oncall": OnCallConfig.model_validate(ONCALL)})


@pytest.fixture
async def pbot(
    database_url: str, standin: RunningStandin, paging_config: AppConfig, clock: Clock
) -> AsyncIterator[BotUnderTest]:
    settings = bot_settings(database_url, standin)
    async with running_bot(settings, paging_config, standin.workspace, clock) as bot:
        yield bot


def dms(ws: Workspace, user: str) -> list[Any]:
    """Messages in the bot's DM with `user`."""
    channel = ws.dm_channel(user, create=False)
    return list(channel.messages) if channel else []


def buttons(message: Any) -> dict[str, str]:
    return {
        e["action_id"]: e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    }


async def paged_users(bot: BotUnderTest, incident: Incident) -> list[str]:
    events = await bot.runtime.incidents.store.timeline(incident.id)
    return [e.data["user"] for e in events if e.kind == EventKind.PAGE_SENT and "user" in e.data]


async def declared(bot: BotUnderTest, severity: str = "SEV1") -> Incident:
    incident = await declare(bot, severity={"value": severity})
    await eventually(lambda: bot.runtime.scheduler.store.pending(incident.id, ESCALATE))
    return incident


async def test_nobody_acknowledges_so_the_policy_walks_every_step_then_stops(
    pbot: BotUnderTest, clock: Clock
) -> None:
    bot = pbot
    incident = await declared(bot)
    run = bot.runtime.scheduler.run_due
    await run()
    assert await paged_users(bot, incident) == [BOB]
    [page] = dms(bot.workspace, BOB)
    assert set(buttons(page)) == {"page_ack", "page_escalate", "incident_join"}
    assert "acknowledge within 5 min" in message_text(page)
    assert "*Impact*" in message_text(page) and f"<@{ALICE}>" in message_text(page)  # who declared it
    channel = bot.workspace.messages(incident.channel_id or "")
    assert any("Paged <@U0BOB00000>; next step in 5 min" in message_text(m) for m in channel)

    expected = [BOB]
    for minutes, users in ((5, [CAROL]), (5, [ALICE]), (5, [DAVE]), (10, [ALICE, BOB])):  # IC is Alice
        clock.advance(minutes=minutes - 1)
        await run()
        assert await paged_users(bot, incident) == expected, f"too early at +{minutes - 1} min"
        clock.advance(minutes=1)
        await run()
        expected += users
        assert await paged_users(bot, incident) == expected
    clock.advance(minutes=10)  # repeat from step 1, once
    await run()
    assert (await paged_users(bot, incident))[-1] == BOB
    for _ in range(6):
        clock.advance(minutes=15)
        await run()
    assert await paged_users(bot, incident) == expected * 2
    kinds = [e.kind for e in await bot.runtime.incidents.store.timeline(incident.id)]
    assert kinds.count(EventKind.ESCALATION_EXHAUSTED) == 1
    assert await bot.runtime.scheduler.store.pending(incident.id, ESCALATE) == []
    assert bot.workspace.errors() == []


async def test_acknowledge_button_stops_the_escalation_and_records_the_time(
    pbot: BotUnderTest, clock: Clock
) -> None:
    bot = pbot
    incident = await declared(bot)
    await bot.runtime.scheduler.run_due()
    clock.advance(minutes=3)
    [page] = dms(bot.workspace, BOB)
    click = await bot.driver.click(BOB, "page_ack", channel_id=page.channel, message_ts=page.ts)
    await eventually(lambda: "Acknowledged by <@U0BOB00000>" in message_text(page))
    events = await bot.runtime.incidents.store.timeline(incident.id)
    [ack] = [e for e in events if e.kind == EventKind.PAGE_ACKED]
    assert ack.actor == BOB
    assert ack.data["time_to_acknowledge_seconds"] == 180 and ack.data["target_met"] is True
    assert ack.data["target_seconds"] == 300
    channel = bot.workspace.messages(incident.channel_id or "")
    assert any("time to acknowledge 3 min (SEV1 target 5 min: met)" in message_text(m) for m in channel)
    clock.advance(hours=2)
    await bot.runtime.scheduler.run_due()  # only the update reminders are left to fire
    assert await paged_users(bot, incident) == [BOB]

    # Slack's retry of the click changes nothing; an acknowledgement from elsewhere is told it was done.
    await bot.driver.redeliver(click, retry_num=1)
    assert "already acknowledged by <@U0BOB00000>" in await bot.runtime.paging.acknowledge(incident.id, CAROL)
    assert len(await _events(bot, incident, EventKind.PAGE_ACKED)) == 1


async def test_a_late_acknowledgement_misses_the_target(pbot: BotUnderTest, clock: Clock) -> None:
    bot = pbot
    incident = await declared(bot, "SEV2")  # 15 min target
    await bot.runtime.scheduler.run_due()
    clock.advance(minutes=16)
    await bot.runtime.scheduler.run_due()  # secondary paged
    [page] = dms(bot.workspace, CAROL)
    await bot.driver.click(CAROL, "page_ack", channel_id=page.channel, message_ts=page.ts)
    [ack] = await eventually(lambda: _events(bot, incident, EventKind.PAGE_ACKED))
    assert ack.data["target_met"] is False and ack.data["time_to_acknowledge_seconds"] == 16 * 60
    [bob_page] = dms(bot.workspace, BOB)
    # every open page is answered, just after the acknowledgement is recorded
    await eventually(lambda: "Acknowledged by <@U0CAROL000>" in message_text(bob_page))


async def _events(bot: BotUnderTest, incident: Incident, kind: EventKind) -> list[Any]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == kind]


async def test_escalate_button_pages_the_next_step_at_once(pbot: BotUnderTest, clock: Clock) -> None:
    bot = pbot
    incident = await declared(bot)
    await bot.runtime.scheduler.run_due()
    [page] = dms(bot.workspace, BOB)
    await bot.driver.click(BOB, "page_escalate", channel_id=page.channel, message_ts=page.ts)
    await eventually(lambda: _events(bot, incident, EventKind.ESCALATED))
    await bot.runtime.scheduler.run_due()
    assert await paged_users(bot, incident) == [BOB, CAROL]
    clock.advance(minutes=5)  # the old 5-minute wait was cancelled; the next wait starts from the escalation
    await bot.runtime.scheduler.run_due()
    assert await paged_users(bot, incident) == [BOB, CAROL, ALICE]


async def test_page_by_hand_and_oncall(pbot: BotUnderTest) -> None:
    bot = pbot
    incident = await declare(bot, severity={"value": "SEV3"})  # no SEV3 policy here: nobody paged
    channel = incident.channel_id or ""
    response = await bot.driver.slash(ALICE, channel, f"page <@{DAVE}|dave>")
    assert ":pager: Paging" in response.body
    await eventually(lambda: dms(bot.workspace, DAVE))
    await bot.driver.slash(ALICE, channel, "page secondary")
    await eventually(lambda: dms(bot.workspace, CAROL))
    response = await bot.driver.slash(ALICE, channel, "page nightshift")
    await eventually(
        lambda: [r for r in bot.workspace.responses if "Unknown schedule 'nightshift'" in r.text]
    )
    response = await bot.driver.slash(ALICE, GENERAL, "page @dave")
    assert "works in an incident channel" in response.body

    response = await bot.driver.slash(ALICE, GENERAL, "", command="/oncall")
    assert "Primary" in response.body and "<@U0BOB00000>" in response.body and "Secondary" in response.body
    response = await bot.driver.slash(ALICE, GENERAL, "nope", command="/oncall")
    assert "Unknown schedule 'nope'" in response.body


async def test_resolving_closes_open_pages(pbot: BotUnderTest, clock: Clock) -> None:
    bot = pbot
    incident = await declared(bot)
    await bot.runtime.scheduler.run_due()
    await bot.runtime.incidents.resolve(incident.id, "Fixed", ALICE)
    [page] = dms(bot.workspace, BOB)
    assert "is resolved" in message_text(page) and buttons(page) == {}
    clock.advance(hours=1)
    assert await bot.runtime.scheduler.run_due() == 0


async def test_a_page_survives_a_restart_mid_wait_and_fires_once(
    database_url: str, standin: RunningStandin, paging_config: AppConfig, clock: Clock
) -> None:
    settings = bot_settings(database_url, standin)
    async with running_bot(settings, paging_config, standin.workspace, clock) as first:
        incident = await declared(first)
        await first.runtime.scheduler.run_due()
        assert await paged_users(first, incident) == [BOB]
    clock.advance(minutes=6)
    async with running_bot(settings, paging_config, standin.workspace, clock) as second:
        assert await second.runtime.scheduler.run_due() == 1
        assert await second.runtime.scheduler.run_due() == 0
        assert await paged_users(second, incident) == [BOB, CAROL]
        assert len(dms(standin.workspace, CAROL)) == 1


def with_paging(config: AppConfig, paging: dict[str, Any]) -> AppConfig:
    return config.model_copy(update={"paging": type(config.paging).model_validate(paging)})


async def test_pagerduty_and_opsgenie_follow_the_incident(
    database_url: str,
    standin: RunningStandin,
    paging_config: AppConfig,
    clock: Clock,
    pagers: RunningPagers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INCIDENTBOT_PAGERDUTY_ROUTING_KEY", PAGERDUTY_KEY)
    monkeypatch.setenv("INCIDENTBOT_OPSGENIE_API_KEY", pagers.opsgenie_key)
    paging = {"pagerduty": {"base_url": pagers.pagerduty_url}, "opsgenie": {"base_url": pagers.opsgenie_url}}
    config = with_paging(paging_config, paging)
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        incident = await declared(bot)
        await bot.runtime.scheduler.run_due()
        key = dedup_key(incident.id)
        await bot.runtime.paging.acknowledge(incident.id, BOB)
        await bot.runtime.incidents.resolve(incident.id, "Fixed", BOB)
        # Opsgenie is asked afterwards whether it applied each request; it did, so nobody hears of it.

        async def three_confirmations() -> bool:
            return len(await bot.runtime.scheduler.store.pending(incident.id, CONFIRM)) == 3

        await eventually(three_confirmations)
        clock.advance(seconds=5)
        await bot.runtime.scheduler.run_due()
        assert await bot.runtime.scheduler.store.pending(incident.id, CONFIRM) == []
        assert await _events(bot, incident, EventKind.PAGE_FAILED) == []
    actions = [(e.provider, e.action, e.key) for e in pagers.state.accepted()]
    assert actions == [
        ("pagerduty", "trigger", key),
        ("opsgenie", "create", key),
        ("pagerduty", "acknowledge", key),
        ("opsgenie", "acknowledge", key),
        ("pagerduty", "resolve", key),
        ("opsgenie", "close", key),
    ]
    trigger = pagers.state.accepted()[0].body
    assert trigger["payload"]["severity"] == "critical" and incident.title in trigger["payload"]["summary"]


async def test_a_provider_failure_is_shown_and_slack_pages_still_go(
    database_url: str,
    standin: RunningStandin,
    paging_config: AppConfig,
    clock: Clock,
    pagers: RunningPagers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INCIDENTBOT_PAGERDUTY_ROUTING_KEY", PAGERDUTY_KEY)
    paging = {"pagerduty": {"base_url": pagers.pagerduty_url}}
    config = with_paging(paging_config, paging)
    pagers.fail_next("pagerduty", status=500, times=3)
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        incident = await declared(bot)
        await bot.runtime.scheduler.run_due()
        assert await paged_users(bot, incident) == [BOB]
        [failed] = await eventually(lambda: _events(bot, incident, EventKind.PAGE_FAILED))
        assert failed.data["provider"] == "pagerduty" and "pagerduty trigger failed" in failed.text
        await eventually(
            lambda: any(
                "pagerduty trigger failed" in message_text(m)
                for m in standin.workspace.messages(incident.channel_id or "")
            )
        )


async def test_opsgenie_accepting_a_page_but_not_applying_it_is_shown(
    database_url: str,
    standin: RunningStandin,
    paging_config: AppConfig,
    clock: Clock,
    pagers: RunningPagers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INCIDENTBOT_OPSGENIE_API_KEY", pagers.opsgenie_key)
    paging = {"opsgenie": {"base_url": pagers.opsgenie_url}}
    config = with_paging(paging_config, paging)
    pagers.reject_next_async("Integration is disabled")
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        incident = await declared(bot)
        await eventually(lambda: bot.runtime.scheduler.store.pending(incident.id, CONFIRM))
        assert await _events(bot, incident, EventKind.PAGE_FAILED) == []  # a 202 is not yet a page
        clock.advance(seconds=5)
        await bot.runtime.scheduler.run_due()
        [failed] = await eventually(lambda: _events(bot, incident, EventKind.PAGE_FAILED))
        assert failed.text == "opsgenie trigger was not applied: Integration is disabled"
        await eventually(lambda: said(standin.workspace, incident, failed.text))

        # Opsgenie loses track of the resolve and never answers: after four questions, say so.
        await bot.runtime.incidents.resolve(incident.id, "Fixed", BOB)
        await eventually(lambda: bot.runtime.scheduler.store.pending(incident.id, CONFIRM))
        for _ in range(CONFIRM_ATTEMPTS):
            pagers.state.requests.clear()
            clock.advance(seconds=20)
            await bot.runtime.scheduler.run_due()
        unknown = "opsgenie accepted the resolve of INC-1 but has not said whether it applied it"
        await eventually(lambda: said(standin.workspace, incident, unknown))
        assert await bot.runtime.scheduler.store.pending(incident.id, CONFIRM) == []


def said(workspace: Workspace, incident: Incident, text: str) -> bool:
    return any(text in message_text(m) for m in workspace.messages(incident.channel_id or ""))


def pagerduty_ack(key: str, secret: str, agent: str = "Pat Pager") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "event": {
                "event_type": "incident.acknowledged",
                "resource_type": "incident",
                "agent": {"summary": agent, "type": "user_reference"},
                "data": {"id": "PGR0VU2", "type": "incident", "incident_key": key, "status": "acknowledged"},
            }
        }
    ).encode()
    signature = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-PagerDuty-Signature": f"v1=old, {signature}"}


async def test_acknowledging_in_pagerduty_or_opsgenie_stops_the_escalation(
    database_url: str, standin: RunningStandin, paging_config: AppConfig, clock: Clock
) -> None:
    settings = bot_settings(
        database_url, standin, pagerduty_webhook_secret="pd-secret", webhook_token="hook-token"
    )
    async with (
        running_bot(settings, paging_config, standin.workspace, clock) as bot,
        aiohttp.ClientSession() as http,
    ):
        first, second = await declared(bot), await declared(bot)
        await bot.runtime.scheduler.run_due()
        clock.advance(minutes=2)

        body, headers = pagerduty_ack(dedup_key(first.id), "wrong-secret")
        async with http.post(f"{bot.url}/webhooks/pagerduty", data=body, headers=headers) as response:
            assert response.status == 401
        body, headers = pagerduty_ack(dedup_key(first.id), "pd-secret")
        async with http.post(f"{bot.url}/webhooks/pagerduty", data=body, headers=headers) as response:
            assert response.status == 200 and (await response.json())["status"] == "ok"
        [ack] = await _events(bot, first, EventKind.PAGE_ACKED)
        assert ack.data["via"] == "pagerduty" and ack.data["user"] == "Pat Pager (pagerduty)"
        assert ack.data["time_to_acknowledge_seconds"] == 120

        opsgenie = {"action": "Acknowledge", "alert": {"alias": dedup_key(second.id), "username": "sam@x.io"}}
        async with http.post(f"{bot.url}/webhooks/opsgenie", json=opsgenie) as response:
            assert response.status == 401  # no bearer token
        auth = {"Authorization": "Bearer hook-token"}
        async with http.post(f"{bot.url}/webhooks/opsgenie", json=opsgenie, headers=auth) as response:
            assert response.status == 200
        [ack] = await _events(bot, second, EventKind.PAGE_ACKED)
        assert ack.data["via"] == "opsgenie"

        not_ours = {"action": "Acknowledge", "alert": {"alias": "someone-elses-alert"}}
        async with http.post(f"{bot.url}/webhooks/opsgenie", json=not_ours, headers=auth) as response:
            assert (await response.json())["status"] == "ignored"
        clock.advance(hours=1)
        await bot.runtime.scheduler.run_due()
        assert await paged_users(bot, first) == [BOB] and await paged_users(bot, second) == [BOB]


async def test_a_policy_ending_on_a_page_runs_out_only_after_the_response_target(
    pbot: BotUnderTest, clock: Clock
) -> None:
    """SEV2 ends on "notify secondary": Carol gets SEV2's 15 minutes before anyone hears "run out"."""
    bot = pbot
    incident = await declared(bot, "SEV2")
    run = bot.runtime.scheduler.run_due
    channel = incident.channel_id or ""

    def ran_out() -> bool:
        return any("has run out" in message_text(m) for m in bot.workspace.messages(channel))

    await run()
    clock.advance(minutes=15)
    await run()
    assert await paged_users(bot, incident) == [BOB, CAROL]
    assert any(
        "Paged <@U0CAROL000>; the policy runs out in 15 min unless acknowledged" in message_text(m)
        for m in bot.workspace.messages(channel)
    )
    assert not ran_out()  # the page just went out: no false alarm in the same second
    clock.advance(minutes=14)
    await run()
    assert not ran_out()
    clock.advance(minutes=1)
    await run()
    assert ran_out()
    kinds = [e.kind for e in await bot.runtime.incidents.store.timeline(incident.id)]
    assert kinds.count(EventKind.ESCALATION_EXHAUSTED) == 1
