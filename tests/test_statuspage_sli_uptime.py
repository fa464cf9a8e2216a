"""Uptime from an SLI: a component with `uptime_slo` shows each day's 1 − error ratio from the real
Prometheus fixture (known data), in the page's time zone, instead of the public updates' outages."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import AppConfig
from bot.standin import RunningStandin
from bot.statuspage.pages import percent
from tests.fixtures_bot import EXAMPLE_CONFIG, BotUnderTest
from tests.fixtures_prometheus import RunningPrometheus
from tests.processes import refusing_port
from tests.statuspage_helpers import fetch
from tests.test_slo_slack import SPECS, slo_bot


@pytest.fixture
def uptime_config(app_config: AppConfig, tmp_path: Path) -> AppConfig:
    """The SLO specs of the SLO tests; the Checkout component takes its uptime from checkout/availability."""
    spec = tmp_path / "slos.yml"
    spec.write_text(SPECS, encoding="utf-8")
    return _with_uptime_slo(app_config.model_copy(update={"slos": [spec]}))


@pytest.fixture
async def bot(
    database_url: str, standin: RunningStandin, uptime_config: AppConfig, prometheus: RunningPrometheus
) -> AsyncIterator[BotUnderTest]:
    config = uptime_config
    async for under_test in slo_bot(database_url, standin, config, prometheus.url, lambda: prometheus.at):
        yield under_test


def _with_uptime_slo(config: AppConfig) -> AppConfig:
    section = config.status_page
    components = [
        c.model_copy(update={"uptime_slo": "checkout/availability"}) if c.id == "checkout" else c
        for c in section.components
    ]
    return config.model_copy(update={"status_page": section.model_copy(update={"components": components})})


def bar_of(page: str, name: str) -> str:
    return page.split(f'aria-label="{name}: ', 1)[1].split("</svg>", 1)[0]


async def test_a_component_with_an_uptime_slo_shows_each_days_sli(
    bot: BotUnderTest, prometheus: RunningPrometheus
) -> None:
    assert await bot.runtime.statuspage.refresh_uptime()
    page = (await fetch(bot.url, "/status")).text
    checkout, api = bar_of(page, "Checkout"), bar_of(page, "API")
    # Berlin is UTC+1: 31 Oct (local) is 30 Oct 23:00 → 31 Oct 23:00 UTC; 1 Nov is its first hour.
    end_of_31st = datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert prometheus.at == end_of_31st + timedelta(hours=1)
    day = 1 - prometheus.data.availability_ratio("checkout", timedelta(days=1), end_of_31st)
    today = 1 - prometheus.data.availability_ratio("checkout", timedelta(hours=1), prometheus.at)
    assert 0 < day < 1 and 0 < today < day  # the data ends in a burst of errors
    assert f"2026-10-31: {percent(day)} uptime" in checkout
    assert f"2026-11-01: {percent(today)} uptime" in checkout
    assert "2026-10-31: 100% uptime" in api  # no uptime_slo: the public updates' figure (no outage)
    assert not await bot.runtime.statuspage.refresh_uptime()  # nothing new: the page is not rendered again


async def test_prometheus_away_leaves_the_public_updates_figures(
    database_url: str, standin: RunningStandin, uptime_config: AppConfig, prometheus: RunningPrometheus
) -> None:
    with refusing_port() as port:
        config = uptime_config
        url = f"http://127.0.0.1:{port}"
        async for bot in slo_bot(database_url, standin, config, url, lambda: prometheus.at):
            assert not await bot.runtime.statuspage.refresh_uptime()
            checkout = bar_of((await fetch(bot.url, "/status")).text, "Checkout")
            assert "2026-10-31: 100% uptime" in checkout


def test_config_check_names_an_uptime_slo_that_does_not_exist(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["slos"] = [str(EXAMPLE_CONFIG.parent / "slos")]
    raw["status_page"]["components"][0]["uptime_slo"] = "api/latency-typo"
    config = tmp_path / "incidentbot.yml"
    config.write_text(yaml.safe_dump(raw))
    checked = subprocess.run(
        [sys.executable, "-m", "bot.cli", "config", "check", "--config", str(config)],
        capture_output=True, text=True, cwd=EXAMPLE_CONFIG.parent.parent, check=False,
    )  # fmt: skip
    assert checked.returncode == 1, checked.stderr
    assert "status_page.components.api.uptime_slo: no SLO 'api/latency-typo'" in checked.stderr
    assert "api/availability" in checked.stderr  # the ones that exist are named
