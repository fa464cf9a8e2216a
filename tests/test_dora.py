"""DORA's four keys (issue 20) from a scripted history whose answers are computed by hand below, on both
databases, through `incidentbot report --dora` and `/metrics`.

Window: the 10 days before T0. Production deploys (deployed, commit → lead time):

| deploy | service | deployed | lead | status | failed because |
| --- | --- | --- | --- | --- | --- |
| a0 | api | T0-12d | 1 h | success | (outside the window) |
| a1 | api | T0-9d | 2 h | success | a drill marked it (counted only with drills) |
| a2 | api | T0-7d | 6 h | success | |
| a3 | api | T0-5d | 30 h | success | |
| a4 | api | T0-3d | — | success | incident A's suspected cause |
| a5 | api | T0-1d | 1 h | rolled_back | reported rolled back |
| w1 | web | T0-2d | 48 h | success | incident B's rollback watch rolled it back |
| s1 | web | T0-2d | 1 h | success | staging: not counted |

All: 5 successes / 10 days = 0.5 a day (high); leads 2, 6, 30, 48 h → median 18 h (elite), p90 48 h;
3 failed of 6 that reached production = 50 % (low); restores A 2 h and B 30 min → median 1 h 15 min (high).
With drills: 4 of 6 failed; restores 30 min, 2 h, 10 h → median 2 h.
api: 4 / 10 = 0.4 (high); leads 2, 6, 30 h → median 6 h, p90 30 h; 2 of 5 = 40 % (low); restore 2 h.
web: 1 / 10 = 0.1 (medium); lead 48 h (high); 1 of 1 = 100 % (low); restore 30 min (elite).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.changes.deploys import DeployNotice
from bot.changes.store import DeployStore
from bot.cli.main import run as cli
from bot.domain import DeclareRequest, EventKind
from bot.store import IncidentStore, NewEvent
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG, BotUnderTest

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


async def _deploy(
    deploys: DeployStore, service: str, version: str, ago: timedelta, lead: timedelta | None, **more: Any
) -> int:
    at = T0 - ago
    notice = DeployNotice(
        service=service,
        version=version,
        deployed_at=at,
        commit_time=at - lead if lead else None,
        **more,
    )
    return (await deploys.record(notice, notice.key("test"), "test", at)).deploy.id


async def _incident(
    store: IncidentStore,
    service: str,
    declared: datetime,
    lasted: timedelta,
    *events: NewEvent,
    drill: bool = False,
) -> None:
    request = DeclareRequest(f"{service} broke", "SEV2", "", ALICE, service=service)
    incident, _ = await store.create(
        request, f"dora:{service}:{declared.isoformat()}", "investigating", "incident_commander", declared
    )
    for event in events:
        await store.append(incident.id, event, declared + timedelta(minutes=5))
    await store.change(
        incident.id, declared + lasted, resolved_at=declared + lasted, status="resolved", drill=drill
    )


async def script(sessions: async_sessionmaker[AsyncSession]) -> None:
    deploys, store = DeployStore(sessions), IncidentStore(sessions)
    await _deploy(deploys, "api", "a0", 12 * D, H)
    a1 = await _deploy(deploys, "api", "a1", 9 * D, 2 * H)
    await _deploy(deploys, "api", "a2", 7 * D, 6 * H)
    await _deploy(deploys, "api", "a3", 5 * D, 30 * H)
    a4 = await _deploy(deploys, "api", "a4", 3 * D, None)
    await _deploy(deploys, "api", "a5", 1 * D, H, status="rolled_back")
    await _deploy(deploys, "web", "w1", 2 * D, 48 * H)
    await _deploy(deploys, "web", "s1", 2 * D, H, environment="staging")
    suspected = NewEvent(EventKind.CHANGE_SUSPECTED, ALICE, "suspected", {"deploy_id": a4, "service": "api"})
    await _incident(store, "api", T0 - 3 * D + H, 2 * H, suspected)
    breach = NewEvent(EventKind.THRESHOLD_BREACHED, None, "breach", {"service": "web", "version": "w1"})
    asked = NewEvent(
        EventKind.ROLLBACK, None, "rollback", {"phase": "requested", "service": "web", "version": "w1"}
    )
    await _incident(store, "web", T0 - 2 * D + H / 2, H / 2, breach, asked)
    drill_mark = NewEvent(EventKind.CHANGE_SUSPECTED, ALICE, "suspected", {"deploy_id": a1, "service": "api"})
    await _incident(store, "api", T0 - 8 * D, 10 * H, drill_mark, drill=True)
    await _incident(store, "api", T0 - 4 * D, 5 * H)  # not change-caused: not a restore


def report(database_url: str, capsys: pytest.CaptureFixture[str], *more: str) -> dict[str, Any]:
    args = ["report", "--dora", "--until", T0.isoformat(), "--since", "10d", "--format", "json"]
    assert cli([*args, "--database-url", database_url, "--config", str(EXAMPLE_CONFIG), *more]) == 0
    return json.loads(capsys.readouterr().out)


async def test_the_four_keys_match_the_hand_computed_figures(
    database_url: str, sessions: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    await script(sessions)
    figures = await asyncio.to_thread(report, database_url, capsys)
    overall = figures["overall"]
    assert overall["deployments"] == 5 and overall["deployments_per_day"] == 0.5
    assert overall["lead_time_median_seconds"] == 18 * 3600 and overall["lead_time_p90_seconds"] == 48 * 3600
    assert overall["failed_deployments"] == 3 and overall["change_failure_rate"] == 0.5
    assert overall["time_to_restore_median_seconds"] == 75 * 60
    assert overall["bands"] == {
        "deployment_frequency": "high",
        "lead_time": "elite",
        "change_failure_rate": "low",
        "time_to_restore": "high",
    }
    api, web = figures["services"]
    assert (api["scope"], api["deployments_per_day"], api["lead_time_median_seconds"]) == (
        "api",
        0.4,
        6 * 3600,
    )
    assert api["lead_time_p90_seconds"] == 30 * 3600 and api["change_failure_rate"] == 0.4
    assert api["time_to_restore_median_seconds"] == 2 * 3600
    assert web["bands"] == {
        "deployment_frequency": "medium",
        "lead_time": "high",
        "change_failure_rate": "low",
        "time_to_restore": "elite",
    }
    drills = await asyncio.to_thread(report, database_url, capsys, "--include-drills")
    assert drills["overall"]["failed_deployments"] == 4
    assert drills["overall"]["time_to_restore_median_seconds"] == 2 * 3600
    one = await asyncio.to_thread(report, database_url, capsys, "--service", "web")
    assert one["overall"]["deployments"] == 1 and [s["scope"] for s in one["services"]] == ["web"]


def test_markdown_and_csv_and_usage(
    database_url: str, sessions: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(script(sessions))
    base = ["report", "--dora", "--until", T0.isoformat(), "--since", "10d", "--database-url", database_url]
    assert cli([*base, "--config", str(EXAMPLE_CONFIG)]) == 0
    shown = capsys.readouterr().out
    assert "| all services | 5 | 0.50 (high) | 18 h · 2 d (elite) | 50.0 %, 3 failed (low) |" in shown
    assert cli([*base, "--config", str(EXAMPLE_CONFIG), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("scope,deployments,") and lines[1].startswith("all services,5,0.5,")
    assert (
        cli(["report", "--service", "api", "--database-url", database_url, "--config", str(EXAMPLE_CONFIG)])
        == 2
    )
    assert "--service goes with --dora" in capsys.readouterr().err


async def test_metrics_expose_the_last_30_days(bot: BotUnderTest) -> None:
    deploys = bot.runtime.changes.store
    now = datetime.now(UTC)
    for n in range(3):
        notice = DeployNotice(
            service="checkout", version=f"v{n}", deployed_at=now - n * D, commit_time=now - n * D - H
        )
        await deploys.record(notice, notice.key("test"), "test", now)
    async with aiohttp.ClientSession() as session, session.get(bot.url + "/metrics") as response:
        text = await response.text()
    assert 'incidentbot_dora_deployments_per_day{service="all"} 0.1' in text
    assert 'incidentbot_dora_deployments_per_day{service="checkout"} 0.1' in text
    assert 'incidentbot_dora_lead_time_seconds{service="checkout"} 3600.0' in text
    assert 'incidentbot_dora_change_failure_ratio{service="checkout"} 0.0' in text
