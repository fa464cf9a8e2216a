"""SLO figures where responders see them: `/incident slo`, the declare and resolve snapshots, /healthz.

The bot runs against the real Prometheus fixture (known synthetic data) and the Slack stand-in; its clock
is pinned to the end of the data, so the figures it shows can be compared with the generated numbers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import AppConfig
from bot.domain import EventKind
from bot.slo.blocks import slo_summary
from bot.slo.model import SLO, SLOStatus
from bot.standin import RunningStandin, Workspace, eventually
from bot.standin.blockkit import validate_message
from bot.standin.state import message_text
from tests.fixtures_bot import ALICE, BOB, GENERAL, BotUnderTest, bot_settings, running_bot
from tests.fixtures_prometheus import RunningPrometheus
from tests.test_lifecycle import declare, latest_view
from tests.test_slo_specs import OPENSLO_ORCHESTRATOR, SLOTH_ORCHESTRATOR

MONTH = timedelta(days=30)
SPECS = "\n---\n".join(
    [
        SLOTH_ORCHESTRATOR.replace("orchestrator", "checkout").replace("99.5", "99.9"),
        OPENSLO_ORCHESTRATOR.replace("orchestrator", "search"),
    ]
).replace("requests-success", "availability")
"""Checkout (Sloth, 99.9 %) burns fast at the end of the data; search (OpenSLO, 99.5 %) slowly."""


@pytest.fixture
def slo_config(app_config: AppConfig, tmp_path: Path) -> AppConfig:
    spec = tmp_path / "slos.yml"
    spec.write_text(SPECS, encoding="utf-8")
    return app_config.model_copy(update={"slos": [spec]})


async def slo_bot(
    database_url: str,
    standin: RunningStandin,
    config: AppConfig,
    prometheus_url: str | None,
    now: Callable[[], datetime] | None = None,
) -> AsyncIterator[BotUnderTest]:
    settings = bot_settings(database_url, standin, prometheus_url=prometheus_url)
    async with running_bot(settings, config, standin.workspace, now) as under_test:
        yield under_test


@pytest.fixture
async def bot_with_slos(
    database_url: str, standin: RunningStandin, slo_config: AppConfig, prometheus: RunningPrometheus
) -> AsyncIterator[BotUnderTest]:
    # The clock stands still at the end of the data: Prometheus's figures then match the generated ones.
    async for under_test in slo_bot(database_url, standin, slo_config, prometheus.url, lambda: prometheus.at):
        yield under_test


async def response_with(ws: Workspace, text: str) -> Any:
    """The response_url post (the command's delayed answer) whose text mentions `text`."""
    return await eventually(
        lambda: next((r for r in ws.responses if r.ok and text in str(r.blocks) + r.text), None),
        message=f"a response mentioning {text!r}",
    )


def pct(value: float, digits: int = 3) -> str:
    return f"{value * 100:.{digits}f} %"


async def test_slo_command_shows_the_figures_prometheus_computes(
    bot_with_slos: BotUnderTest, prometheus: RunningPrometheus
) -> None:
    bot, data = bot_with_slos, prometheus.data
    response = await bot.driver.slash(ALICE, GENERAL, "slo checkout")
    assert response.status == 200 and "Querying Prometheus for checkout" in response.body
    post = await response_with(bot.workspace, "checkout · availability")
    text = str(post.blocks)
    e_period = data.availability_ratio("checkout", MONTH, prometheus.at)
    assert e_period is not None
    assert f"SLI {pct(1 - e_period)}" in text
    assert f"{pct(1 - e_period / 0.001, 1)} left" in text
    assert ":red_circle: page" in text  # the last-hour burst burns far above 14.4×
    burn_1h = data.availability_ratio("checkout", timedelta(hours=1), prometheus.at) / 0.001
    assert f"1h {burn_1h:.2f}×" in text
    assert "search" not in text
    assert bot.workspace.errors() == []


async def test_slo_without_service_lists_every_slo_and_unknown_service_says_which_exist(
    bot_with_slos: BotUnderTest,
) -> None:
    bot = bot_with_slos
    await bot.driver.slash(ALICE, GENERAL, "slo")
    post = await response_with(bot.workspace, "search · availability")
    assert "checkout · availability" in str(post.blocks)
    assert ":large_green_circle: OK" in str(post.blocks)  # search burns slowly
    await bot.driver.slash(ALICE, GENERAL, "slo payroll")
    await response_with(bot.workspace, "No SLOs for service 'payroll' (services with SLOs: checkout, search)")


async def test_declare_and_resolve_take_snapshots_of_the_affected_service(
    bot_with_slos: BotUnderTest, prometheus: RunningPrometheus
) -> None:
    bot, ws = bot_with_slos, bot_with_slos.workspace
    incident = await declare(bot)  # service: checkout
    channel = incident.channel_id or ""
    posted = await eventually(
        lambda: [m for m in ws.messages(channel) if "SLOs of checkout at declared" in message_text(m)]
    )
    assert "checkout · availability" in str(posted[0].blocks)

    async def snapshots() -> list[Any]:
        events = await bot.runtime.incidents.store.timeline(incident.id)
        return [e for e in events if e.kind == EventKind.SLO_SNAPSHOT]

    [declared] = await eventually(snapshots)
    [figures] = declared.data["slos"]
    expected = prometheus.data.availability_ratio("checkout", MONTH, prometheus.at)
    assert declared.data["moment"] == "declared" and figures["id"] == "checkout/availability"
    assert figures["error_ratio"] == pytest.approx(expected, rel=1e-9)
    assert figures["alert"] == "page" and figures["error"] is None

    # In the incident channel `/incident slo` means the incident's service.
    await bot.driver.slash(BOB, channel, "slo")
    await response_with(ws, "SLOs of checkout")

    await bot.driver.click(BOB, "incident_resolve", channel_id=channel, message_ts=incident.summary_ts)
    view = await latest_view(bot, BOB, "resolve_incident")
    await bot.driver.submit_view(BOB, view.id, {"resolution": {"value": "Rolled back."}})
    both = await eventually(lambda: _two(snapshots))
    assert [s.data["moment"] for s in both] == ["declared", "resolved"]
    await eventually(lambda: [m for m in ws.messages(channel) if "at resolved" in message_text(m)])
    assert ws.errors() == []


async def _two(snapshots: Callable[[], Any]) -> list[Any] | None:
    found = await snapshots()
    return found if len(found) == 2 else None


async def test_unreachable_prometheus_is_said_within_five_seconds_and_declare_still_works(
    database_url: str, standin: RunningStandin, slo_config: AppConfig, unreachable_prometheus_url: str
) -> None:
    async for bot in slo_bot(database_url, standin, slo_config, unreachable_prometheus_url):
        started = time.monotonic()
        await bot.driver.slash(ALICE, GENERAL, "slo checkout")
        post = await response_with(bot.workspace, "Prometheus unreachable (")
        assert time.monotonic() - started < 5
        assert "checkout · availability" in str(post.blocks)

        incident = await declare(bot)
        channel = bot.workspace.channels[incident.channel_id or ""]
        said = await eventually(
            lambda c=channel: [m for m in c.messages if "Prometheus unreachable" in message_text(m)]
        )
        assert "SLOs of checkout at declared" in message_text(said[0])
        assert incident.summary_ts in channel.pins

        async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/healthz") as response:
            report = await response.json()
        assert report["status"] == "degraded"
        assert report["checks"]["prometheus"]["ok"] is False
        assert report["checks"]["prometheus"]["error"].startswith("Prometheus unreachable")


async def test_without_prometheus_url_the_command_says_how_to_configure_it(
    database_url: str, standin: RunningStandin, slo_config: AppConfig
) -> None:
    async for bot in slo_bot(database_url, standin, slo_config, None):
        await bot.driver.slash(ALICE, GENERAL, "slo checkout")
        await response_with(bot.workspace, "set INCIDENTBOT_PROMETHEUS_URL")


def test_summary_of_sixty_slos_stays_within_block_kit_limits() -> None:
    at = datetime(2026, 11, 1)
    statuses = [
        SLOStatus(
            SLO(
                f"service-{n:02d}-" + "x" * 60,
                "availability-" + "y" * 60,
                0.999,
                MONTH,
                "a[{{.window}}]",
                "b",
            ),
            at,
            error_ratio=0.0004,
            burn_rates={"1h": 2.0, "5m": 1.5},
            budget_history=[1.0 - k / 30 for k in range(24)],
        )
        for n in range(60)
    ]
    message = slo_summary(statuses, "SLOs")
    assert validate_message(message.text, message.blocks) == []
    assert len(message.blocks) <= 50
    assert "14 more" in str(message.blocks[-1])
