"""The push to a hosted Atlassian Statuspage (examples/statuspage-atlassian.yml), against its stand-in:
what the public reads on our page reaches the hosted one in order, once, through outages of Statuspage."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import AppConfig
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from bot.standin.statuspage_api import API_KEY, StatuspageState, running_statuspage
from bot.statuspage.settings import AtlassianPush
from tests.fixtures_bot import ALICE, BOB, EXAMPLE_CONFIG, BotUnderTest, bot_settings, running_bot
from tests.statuspage_helpers import approval_request, fetch, join, post_public, posted
from tests.test_lifecycle import declare

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "statuspage-atlassian.yml"
API = "cmp0api00001"


@pytest.fixture
async def hosted() -> AsyncIterator[StatuspageState]:
    async with running_statuspage() as state:
        yield state


@asynccontextmanager
async def pushing_bot(
    database_url: str,
    standin: RunningStandin,
    app_config: AppConfig,
    hosted: StatuspageState,
    key: str = API_KEY,
) -> AsyncIterator[BotUnderTest]:
    raw = yaml.safe_load(EXAMPLE.read_text())["atlassian"]
    push = AtlassianPush.model_validate({**raw, "api_url": hosted.api_url, "retry_seconds": 1})
    config = app_config.model_copy(
        update={"status_page": app_config.status_page.model_copy(update={"atlassian": push})}
    )
    settings = bot_settings(database_url, standin, statuspage_api_key=key)
    async with running_bot(settings, config, standin.workspace) as bot:
        yield bot


@pytest.fixture
async def bot(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hosted: StatuspageState
) -> AsyncIterator[BotUnderTest]:
    async with pushing_bot(database_url, standin, app_config, hosted) as bot:
        yield bot


async def publish(bot: BotUnderTest, incident_id: int, status: str, body: str, api: str) -> None:
    incident = await bot.incident(incident_id)
    await post_public(
        bot,
        ALICE,
        incident,
        {
            "public_status": {"value": status},
            "public_body": {"value": body},
            "public_component_api": {"value": api},
        },
    )


def hosted_bodies(hosted: StatuspageState) -> list[list[str]]:
    return [[u["body"] for u in i["incident_updates"]] for i in hosted.incidents.values()]


async def test_public_updates_reach_the_hosted_page_in_order_and_once(
    bot: BotUnderTest, hosted: StatuspageState
) -> None:
    incident = await declare(bot, "Checkout errors")
    await publish(bot, incident.id, "investigating", "We are looking into it.", "partial_outage")
    await eventually(lambda: hosted_bodies(hosted) == [["We are looking into it."]])
    await publish(bot, incident.id, "monitoring", "A fix is out.", "degraded_performance")
    await eventually(lambda: hosted_bodies(hosted) == [["A fix is out.", "We are looking into it."]])
    [(hosted_id, shown)] = hosted.incidents.items()
    assert (shown["name"], shown["status"]) == ("Checkout errors", "monitoring")
    assert hosted.components[API] == "degraded_performance"
    opened = hosted.calls[0][2]["incident"]
    assert opened["components"] == {API: "partial_outage"} and opened["impact_override"] in {"major", "minor"}
    assert [(m, p) for m, p, _ in hosted.calls] == [
        ("POST", "/v1/pages/kctbh9vrtdwd/incidents"),
        ("PATCH", f"/v1/pages/kctbh9vrtdwd/incidents/{hosted_id}"),
    ]


async def test_statuspage_down_then_back_gets_the_update_once_and_the_channel_is_told(
    bot: BotUnderTest, hosted: StatuspageState
) -> None:
    incident = await declare(bot, "Checkout errors")
    hosted.fail_next(503, {"error": "Service Unavailable"})
    hosted.fail_next(429, {"error": "Rate limited"}, {"Retry-After": "1"})
    await publish(bot, incident.id, "investigating", "We are looking into it.", "partial_outage")
    warned = await eventually(lambda: posted(bot, incident.channel_id, "Could not push to the hosted"))
    assert "HTTP 503" in message_text(warned[0])
    await eventually(lambda: hosted_bodies(hosted) == [["We are looking into it."]], timeout=15)
    await eventually(lambda: posted(bot, incident.channel_id, "on the hosted Atlassian Statuspage now"))
    assert len(posted(bot, incident.channel_id, "Could not push to the hosted")) == 1
    assert len(hosted.calls) == 3


async def test_a_refusal_that_retrying_cannot_fix_is_said_at_once(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hosted: StatuspageState
) -> None:
    async with pushing_bot(database_url, standin, app_config, hosted, key="revoked") as bot:
        incident = await declare(bot, "Checkout errors")
        await publish(bot, incident.id, "investigating", "We are looking into it.", "partial_outage")
        [said] = await eventually(lambda: posted(bot, incident.channel_id, "Not pushed to the hosted"))
        assert "API key was refused" in message_text(said) and "trying again cannot fix" in message_text(said)
        assert "We are looking into it." in (await fetch(bot.url, "/status")).text
        assert hosted.incidents == {} and len(hosted.calls) == 1


async def test_maintenance_is_scheduled_on_the_hosted_page_and_completed_when_cancelled(
    bot: BotUnderTest, hosted: StatuspageState
) -> None:
    starts = bot.runtime.statuspage.now() + timedelta(days=1)
    ends = starts + timedelta(hours=2)
    maintenance = ("Database upgrade", "Writes pause for a minute.", ["api", "db"], starts, ends)
    added = await bot.runtime.statuspage.add_maintenance(*maintenance, ALICE, "cli", "test-maintenance")
    assert added is not None
    [shown] = await eventually(lambda: list(hosted.incidents.values()))
    assert (shown["status"], shown["impact"], shown["components"]) == ("scheduled", "maintenance", [API])
    assert shown["scheduled_for"] == starts.isoformat()
    await bot.runtime.statuspage.cancel_maintenance(added.id, ALICE)
    await eventually(lambda: shown["status"] == "completed")


async def test_an_update_posted_from_the_cli_is_pushed_by_the_serving_bot(
    bot: BotUnderTest, hosted: StatuspageState, database_url: str, tmp_path: Path
) -> None:
    """The CLI has no API key: it queues the push, and the bot that has one makes it."""
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["status_page"]["atlassian"] = {
        **yaml.safe_load(EXAMPLE.read_text())["atlassian"],
        "api_url": hosted.api_url,
    }
    config = tmp_path / "incidentbot.yml"
    config.write_text(yaml.safe_dump(raw))
    incident = await declare(bot, "Checkout errors")
    env = {**os.environ, "INCIDENTBOT_DATABASE_URL": database_url, "INCIDENTBOT_CONFIG": str(config)}
    for name in ("SLACK_BOT_TOKEN", "INCIDENTBOT_STATUSPAGE_API_KEY"):
        env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "statuspage", "post", f"INC-{incident.id}", "--status", "identified",
        "--body", "Found it.", "--component", "api=major_outage", env=env, cwd=config.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    await eventually(lambda: hosted_bodies(hosted) == [["Found it."]])
    assert hosted.components[API] == "major_outage"


async def test_an_update_approved_after_a_later_one_reaches_the_hosted_page_in_publication_order(
    bot: BotUnderTest, hosted: StatuspageState
) -> None:
    incident = await declare(bot, "Checkout errors")  # Alice is the IC
    join(bot, incident, BOB)
    await post_public(bot, BOB, incident, {"public_body": {"value": "Asked for first."}})
    request = await approval_request(bot, incident)
    await publish(bot, incident.id, "investigating", "Published first.", "partial_outage")
    await eventually(lambda: hosted_bodies(hosted) == [["Published first."]])
    await bot.driver.click(ALICE, "statuspage_approve", channel_id=request.channel, message_ts=request.ts)
    await eventually(lambda: hosted_bodies(hosted) == [["Asked for first.", "Published first."]])
