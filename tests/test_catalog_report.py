"""RTO figures in `incidentbot report` (issue 20), from a scripted history with known times, on SQLite and
Postgres. Every figure is worked out by hand next to it.

Catalog: api (tier 1, RTO 1 h), database (tier 1, RTO 30 min), cache (tier 2, RTO 4 h); checkout is a
plain service without an RTO. On 2026-03-02 (UTC):
- A api 10:00 → 10:40 (40 min: met)          - B api 11:00 → 12:30 (90 min: missed)
- C database 12:00 → 12:20 (20 min: met)     - D database 13:00, still open (older than 30 min: missed)
- E cache 19:00, still open                  - F checkout 09:00 → 09:10 (no RTO: not counted)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.catalog import CatalogConfig
from bot.catalog.report import rto_figures
from bot.domain import DeclareRequest, EventKind, Incident
from bot.store import IncidentStore, NewEvent
from tests.cli_helpers import cli, config_env

Sessions = async_sessionmaker[AsyncSession]
ALICE = "U0ALICE000"
CATALOG = """
services: [{id: checkout, name: Checkout}]
catalog:
  components:
    - {id: api, tier: 1, rto: 1h}
    - {id: database, tier: 1, rto: 30m}
    - {id: cache, tier: 2, rto: 4h}
"""
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


async def build(sessions: Sessions) -> None:
    store = IncidentStore(sessions)
    script = [
        ("A", "api", at(10), at(10, 40)),
        ("B", "api", at(11), at(12, 30)),
        ("C", "database", at(12), at(12, 20)),
        ("D", "database", at(13), None),
        ("E", "cache", at(19), None),
        ("F", "checkout", at(9), at(9, 10)),
    ]
    for key, service, declared, resolved in script:
        request = DeclareRequest(f"incident {key}", "SEV2", "", ALICE, service=service)
        incident, _ = await store.create(
            request, f"rto-{key}", "investigating", "incident_commander", declared
        )
        if resolved is not None:
            done = NewEvent(EventKind.RESOLVED, ALICE, "fixed", {"summary": "fixed"})
            await store.change(incident.id, resolved, done, status="resolved", resolved_at=resolved)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return config_env("timezone: UTC\n" + CATALOG, database_url, tmp_path, monkeypatch)


async def test_report_gives_rto_met_and_missed_per_service_and_tier_and_mttr_against_the_rto(
    cli_env: Path, sessions: Sessions, capsys: pytest.CaptureFixture[str]
) -> None:
    await build(sessions)
    window = ["report", "--since", "2026-03-02", "--until", "2026-03-03", "--format", "json"]
    assert await cli(*window) == 0
    rto = json.loads(capsys.readouterr().out)["rto"]
    services = {row["service"]: row for row in rto["services"]}
    assert list(services) == ["api", "database", "cache"]  # catalog order; checkout has no RTO
    # api: A met, B missed; MTTR (40 + 90) / 2 = 65 min, over its 1 h
    assert services["api"] == {
        "service": "api",
        "tier": 1,
        "rto": "1h",
        "rto_seconds": 3600.0,
        "incidents": 2,
        "rto_met": 1,
        "rto_missed": 1,
        "open": 0,
        "mttr_seconds": 3900.0,
        "mttr_vs_rto": "over",
    }
    # database: C met; D open for days now, past its 30 min: missed; MTTR of the resolved C: 20 min
    database = services["database"]
    assert (database["rto_met"], database["rto_missed"], database["mttr_seconds"]) == (1, 1, 1200.0)
    assert database["mttr_vs_rto"] == "within"
    # cache: E open past 4 h (the report runs long after): missed, no MTTR yet
    assert (services["cache"]["rto_missed"], services["cache"]["mttr_seconds"]) == (1, None)
    tiers = {row["tier"]: row for row in rto["tiers"]}
    one = tiers[1]
    assert (one["incidents"], one["rto_met"], one["rto_missed"], one["attainment"]) == (4, 2, 2, 0.5)
    # tier 1 MTTR: (40 + 90 + 20) / 3 = 50 min
    assert one["mttr_seconds"] == 3000.0
    assert (tiers[2]["incidents"], tiers[2]["attainment"]) == (1, 0.0)

    assert await cli(*window[:-2]) == 0  # Markdown
    markdown = capsys.readouterr().out
    assert "## Recovery time objectives" in markdown
    assert "| api | tier 1 | 1 h | 2 | 1 | 1 | 0 | 1 h 5 min | over |" in markdown
    assert "| tier 1 | 4 | 2 | 2 | 0 | 50% |" in markdown

    assert await cli(*window[:-1], "csv") == 0
    csv_text = capsys.readouterr().out
    assert "rto:api,,,2,3900.0,,,0.5,1,2,1h,over" in csv_text
    assert "rto:tier-2,,,1,,,,0.0,0,1,," in csv_text


def test_an_open_incident_younger_than_its_rto_is_not_judged_yet() -> None:
    section = CatalogConfig.model_validate({"components": [{"id": "cache", "tier": 2, "rto": "4h"}]})
    young = Incident(1, "t", "SEV2", "investigating", "", "cache", False, ALICE, at(19))
    [cache], [tier] = rto_figures(section, [young], now=at(20))
    assert (cache.open, cache.met, cache.missed, cache.mttr) == (1, 0, 0, None)
    assert tier.attainment is None
    [cache], _ = rto_figures(section, [young], now=at(23, 1))
    assert cache.missed == 1
