"""The close-out an Incident Commander trusts: impact times that cannot lie, said in the team's zone, and a
resolve form that captures the impact end, a follow-up and the post-mortem's owner and due date."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.oncall.settings import OnCallConfig
from bot.standin import RunningStandin, eventually
from tests.fixtures_bot import ALICE, BOB, BotUnderTest, Clock, bot_settings, running_bot
from tests.test_lifecycle import declare, latest_view

T0 = datetime(2026, 11, 24, 9, 40, tzinfo=UTC)  # 10:40 in Berlin, the example config's zone


@pytest.fixture
async def cbot(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> AsyncIterator[tuple[BotUnderTest, Clock]]:
    clock = Clock(T0)
    config = app_config.model_copy(update={"oncall": OnCallConfig()})
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        yield bot, clock


def stamp(moment: datetime) -> int:
    return int(moment.timestamp())


async def open_resolve(bot: BotUnderTest, incident: Incident) -> str:
    channel = incident.channel_id or ""
    await bot.driver.click(ALICE, "incident_resolve", channel_id=channel, message_ts=incident.summary_ts)
    return (await latest_view(bot, ALICE, "resolve_incident")).id


async def test_impossible_impact_times_are_refused_inline_with_the_zone_named(
    cbot: tuple[BotUnderTest, Clock],
) -> None:
    bot, clock = cbot
    incident = await declare(bot)  # declared at 10:40 Berlin = 09:40 UTC
    clock.advance(minutes=30)
    view = await open_resolve(bot, incident)
    late_start = {
        "resolution": {"value": "Rolled back."},
        "impact_started_at": {"value": stamp(T0 + timedelta(hours=1))},
        "impact_ended_at": {"value": stamp(T0 + timedelta(hours=2))},
    }
    answer = await bot.driver.submit_view(ALICE, view, late_start)
    assert answer.json is not None and answer.json["response_action"] == "errors"
    errors = answer.json["errors"]
    assert errors["impact_started_at"] == (
        "Impact cannot start after the incident was declared (2026-11-24 10:40 Europe/Berlin = 09:40 UTC); "
        "you picked 2026-11-24 11:40 Europe/Berlin = 10:40 UTC."
    )
    assert errors["impact_ended_at"].startswith("Impact cannot end in the future")
    assert (await bot.incident(incident.id)).status != "resolved"  # nothing happened

    # The post-mortem form refuses the same impossible start.
    await bot.driver.slash(ALICE, incident.channel_id or "", "postmortem edit")
    form = await latest_view(bot, ALICE, "postmortem_narrative")
    refused = await bot.driver.submit_view(
        ALICE, form.id, {"impact_started_at": {"value": stamp(T0 + timedelta(hours=1))}}
    )
    assert (
        refused.json is not None
        and "cannot start after the incident was declared" in refused.json["errors"]["impact_started_at"]
    )


async def test_the_resolve_form_records_impact_a_follow_up_and_the_post_mortem_owner(
    cbot: tuple[BotUnderTest, Clock],
) -> None:
    bot, clock = cbot
    incident = await declare(bot)
    clock.advance(minutes=45)
    view = await open_resolve(bot, incident)
    values = {
        "resolution": {"value": "Rolled back to v41."},
        "impact_started_at": {"value": stamp(T0 - timedelta(minutes=12))},
        "impact_ended_at": {"value": stamp(T0 + timedelta(minutes=20))},
        "followup": {"value": "Alert on missing headers"},
        "followup_owner": {"value": BOB},
        "followup_due": {"value": "2026-12-01"},
        "postmortem": {"value": "yes"},
        "postmortem_owner": {"value": ALICE},
        "postmortem_due": {"value": "2026-11-27"},
    }
    answer = await bot.driver.submit_view(ALICE, view, values)
    assert answer.status == 200 and (answer.json or {}).get("response_action") != "errors"

    async def items() -> list:  # type: ignore[type-arg]
        found = await bot.runtime.actions.for_incident(incident.id)
        return found if len(found) == 2 else []

    follow_up, postmortem = await eventually(items)
    assert (follow_up.text, follow_up.owner, str(follow_up.due)) == (
        "Alert on missing headers",
        BOB,
        "2026-12-01",
    )
    assert postmortem.text == f"Write and publish the post-mortem of {incident.reference}"
    assert (postmortem.owner, str(postmortem.due)) == (ALICE, "2026-11-27")
    narrative = (await bot.runtime.postmortems.store.get(incident.id)).narrative  # type: ignore[union-attr]
    assert narrative["impact_started_at"] == (T0 - timedelta(minutes=12)).isoformat()
    assert narrative["impact_ended_at"] == (T0 + timedelta(minutes=20)).isoformat()
    assert (await bot.runtime.postmortems.store.get(incident.id)).updated_by is None  # type: ignore[union-attr]
    timeline = await bot.runtime.incidents.store.timeline(incident.id)
    assert [e.kind for e in timeline].count(EventKind.RESOLVED) == 1
    markdown = await bot.runtime.postmortems.markdown(incident.id)
    assert "Time to detect | 12 min" in markdown
    assert "**Impact ended:** 2026-11-24 11:00:00 CET (given at resolve, 32 min of impact)" in markdown


async def test_follow_up_fields_are_checked(cbot: tuple[BotUnderTest, Clock]) -> None:
    bot, _ = cbot
    incident = await declare(bot)
    view = await open_resolve(bot, incident)
    values = {
        "resolution": {"value": "Fixed."},
        "followup_owner": {"value": BOB},
        "postmortem": {"value": "no"},
        "postmortem_due": {"value": "2026-11-20"},
    }
    answer = await bot.driver.submit_view(ALICE, view, values)
    assert answer.json is not None
    assert answer.json["errors"] == {
        "followup": "Say what needs doing, or leave the owner and due date empty.",
        "postmortem_due": "The due date is in the past.",
        "postmortem": "An owner or due date was given: choose “Post-mortem needed”.",
    }
