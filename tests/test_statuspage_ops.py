"""The status page over time and from outside Slack: uptime figures per component and day, scheduled
maintenance (form, list, cancel), resolving a public incident, the CLI (with its exit codes) and the
static export written after every change."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import AppConfig
from bot.domain import EventKind
from bot.oncall.settings import OnCallConfig
from bot.services.statuspage import service_components
from bot.slo.specs import configured_slos
from bot.standin import RunningStandin, eventually
from bot.statuspage.model import PublicDraft
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG, GENERAL, BotUnderTest, Clock, bot_settings, running_bot
from tests.statuspage_helpers import events, fetch, post_public, posted
from tests.test_lifecycle import declare, latest_view

T0 = datetime(2026, 11, 24, 9, 40, tzinfo=UTC)  # 10:40 in Berlin, the status page's zone
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def clocked(
    database_url: str, standin: RunningStandin, app_config: AppConfig, tmp_path: Path
) -> AsyncIterator[tuple[BotUnderTest, Clock]]:
    clock = Clock(T0)
    section = app_config.status_page.model_copy(update={"export_dir": tmp_path / "site"})
    config = app_config.model_copy(update={"oncall": OnCallConfig(), "status_page": section})
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        yield bot, clock


def berlin(day: int, hour: int) -> datetime:
    """A time on a November 2026 day in Berlin (UTC+1), in UTC."""
    return datetime(2026, 11, day, hour, tzinfo=UTC) - timedelta(hours=1)


async def publish(bot: BotUnderTest, incident_id: int, status: str, components: dict[str, str]) -> None:
    draft = PublicDraft(status, "API errors", f"{status} text", components)
    outcome = await bot.runtime.statuspage.post_trusted(
        incident_id, draft, "ops", f"cli:{os.urandom(6).hex()}"
    )
    assert outcome.published


def uptime_titles(page: str) -> dict[str, str]:
    """`day: text` of the API's uptime bar (the first showcase component)."""
    bar = page.split('class="bar"', 2)[1]
    return dict(re.findall(r"<title>(\d{4}-\d\d-\d\d): ([^<]*)</title>", bar))


async def test_uptime_per_day_counts_major_fully_partial_half_and_leaves_maintenance_out(
    clocked: tuple[BotUnderTest, Clock],
) -> None:
    bot, clock = clocked
    first = await declare(bot, "API down")
    clock.at = berlin(24, 10)
    await publish(bot, first.id, "investigating", {"api": "major_outage"})
    clock.at = berlin(24, 16)
    await publish(bot, first.id, "resolved", {})  # 6 h of major outage: 75 % that day

    second = await declare(bot, "API slow")
    clock.at = berlin(25, 10)
    await publish(bot, second.id, "identified", {"api": "partial_outage"})
    assert (await fetch(bot.url, "/api/v2/components.json")).json()["components"][0][
        "status"
    ] == "partial_outage"
    clock.at = berlin(25, 14)
    await publish(bot, second.id, "resolved", {})  # 4 h partial = 2 h down: 91.66 %
    await bot.runtime.statuspage.add_maintenance(
        "API upgrade", "", ["api"], berlin(26, 0), berlin(26, 12), ALICE, "slack", "m1"
    )

    third = await declare(bot, "API down again")
    clock.at = berlin(26, 10)
    await publish(bot, third.id, "investigating", {"api": "major_outage"})
    clock.at = berlin(26, 14)
    await publish(bot, third.id, "resolved", {})  # 10-12 under maintenance (left out), 12-14 down: 2 h of 12

    fourth = await declare(bot, "API sluggish")
    clock.at = berlin(27, 8)
    await publish(bot, fourth.id, "investigating", {"api": "degraded_performance"})
    clock.at = berlin(27, 13)
    await publish(bot, fourth.id, "resolved", {})  # degraded is not down

    clock.at = berlin(28, 0) + timedelta(minutes=30)
    page = (await fetch(bot.url, "/status")).text
    days = uptime_titles(page)
    assert len(days) == 90
    assert days["2026-11-24"] == "75.00% uptime, Major Outage"
    assert days["2026-11-25"] == "91.66% uptime, Partial Outage"
    assert days["2026-11-26"] == "83.33% uptime, Major Outage"
    assert days["2026-11-27"] == "100% uptime, Degraded Performance"
    assert days["2026-11-23"] == "100% uptime" and days["2026-11-28"] == "100% uptime"
    # 10 h down over 90 days less the 12 h of maintenance and the 23.5 h of today not yet lived.
    assert "API: 99.52% uptime over the last 90 days" in page
    checkout = page.split('class="bar"', 3)[2]
    assert "100% uptime over the last 90 days" in checkout  # other components are untouched


async def test_maintenance_from_the_form_shows_up_then_goes_when_cancelled(
    clocked: tuple[BotUnderTest, Clock],
) -> None:
    bot, clock = clocked
    await bot.driver.slash(ALICE, GENERAL, "maintenance")
    form = await latest_view(bot, ALICE, "statuspage_maintenance")
    starts, ends = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    refused = await bot.driver.submit_view(
        ALICE,
        form.id,
        {
            "title": {"value": "Database upgrade"},
            "components": {"value": ["db", "api"]},
            "starts": {"value": int(starts.timestamp())},
            "ends": {"value": int(ends.timestamp())},
        },
    )
    assert refused.json and refused.json["errors"] == {"ends": "It must end after it starts."}
    ends = T0 + timedelta(hours=4)
    await bot.driver.submit_view(ALICE, form.id, {"ends": {"value": int(ends.timestamp())}})
    upcoming = await eventually(
        lambda: _maintenances(bot, "/api/v2/scheduled-maintenances/upcoming.json"), timeout=5
    )
    [planned] = upcoming
    assert planned["name"] == "Database upgrade" and planned["status"] == "scheduled"
    assert planned["impact"] == "maintenance" and planned["scheduled_for"] == "2026-11-24T11:40:00.000Z"
    assert {c["id"] for c in planned["components"]} == {"api", "db"}
    assert "Database upgrade" in (await fetch(bot.url, "/status")).text
    listed = await bot.driver.slash(ALICE, GENERAL, "maintenance list")
    assert "Database upgrade" in listed.body and "12:40 CET" in listed.body

    clock.at = starts + timedelta(minutes=1)  # it begins: the page says so without any change
    summary = (await fetch(bot.url, "/api/v2/summary.json")).json()
    assert summary["status"]["description"] == "Service Under Maintenance"
    assert {c["id"]: c["status"] for c in summary["components"]}["db"] == "under_maintenance"
    assert [m["status"] for m in (await fetch(bot.url, "/api/v2/scheduled-maintenances/active.json")).json()[
        "scheduled_maintenances"
    ]] == ["in_progress"]  # fmt: skip
    exported = bot.runtime.statuspage.export_dir
    assert exported is not None
    assert await bot.runtime.statuspage.refresh_export()  # a static host learns it began too
    active = (exported / "api" / "v2" / "scheduled-maintenances" / "active.json").read_text()
    assert '"status":"in_progress"' in active
    assert not await bot.runtime.statuspage.refresh_export()  # nothing changed since
    await bot.driver.slash(ALICE, GENERAL, f"maintenance cancel {planned['id'].removeprefix('m')}")
    assert await eventually(lambda: _maintenances(bot, "/api/v2/scheduled-maintenances.json", empty=True))
    assert "Database upgrade" not in (await fetch(bot.url, "/status")).text


async def _maintenances(bot: BotUnderTest, path: str, empty: bool = False) -> list[dict[str, object]] | bool:
    found = (await fetch(bot.url, path)).json()["scheduled_maintenances"]
    return found == [] if empty else found


async def test_resolving_a_public_incident_asks_for_the_resolved_text(
    clocked: tuple[BotUnderTest, Clock],
) -> None:
    bot, clock = clocked
    quiet = await declare(bot, "Nobody outside noticed")
    await bot.driver.click(
        ALICE, "incident_resolve", channel_id=quiet.channel_id, message_ts=quiet.summary_ts
    )
    form = await latest_view(bot, ALICE, "resolve_incident")
    assert "public_resolved" not in {b.get("block_id") for b in form.view["blocks"]}  # not public: not asked

    incident = await declare(bot, "Checkout is down")
    await post_public(bot, ALICE, incident)
    await eventually(lambda: posted(bot, incident.channel_id, "Published on the status page"))
    clock.advance(minutes=40)
    await bot.driver.click(
        ALICE, "incident_resolve", channel_id=incident.channel_id, message_ts=incident.summary_ts
    )
    form = await latest_view(bot, ALICE, "resolve_incident")
    asked = next(b for b in form.view["blocks"] if b.get("block_id") == "public_resolved")
    assert asked["element"]["initial_value"].startswith(
        "This incident has been resolved: Checkout is operating"
    )
    await bot.driver.submit_view(ALICE, form.id, {"resolution": {"value": "Rolled back."}})
    resolved = await eventually(lambda: _resolved(bot, incident.id))
    assert resolved["incident_updates"][0]["body"].startswith("This incident has been resolved")
    assert resolved["incident_updates"][0]["affected_components"] == [
        {"code": "checkout", "name": "Checkout", "old_status": "partial_outage", "new_status": "operational"}
    ]
    summary = (await fetch(bot.url, "/api/v2/summary.json")).json()
    assert summary["incidents"] == [] and summary["status"]["indicator"] == "none"
    page = (await fetch(bot.url, "/status")).text
    assert "Past incidents" in page and "This incident has been resolved" in page
    # The export was rewritten after the change.
    exported = bot.runtime.statuspage.export_dir
    assert exported is not None
    assert "This incident has been resolved" in (exported / "status" / "index.html").read_text()
    assert (exported / "status" / "incidents" / str(incident.id) / "index.html").is_file()
    assert len(await events(bot, incident, EventKind.STATUS_PAGE_PUBLISHED)) == 2


async def _resolved(bot: BotUnderTest, incident_id: int) -> dict[str, object] | None:
    incidents = (await fetch(bot.url, "/api/v2/incidents.json")).json()["incidents"]
    found = next((i for i in incidents if i["id"] == str(incident_id)), None)
    return found if found and found["status"] == "resolved" else None


async def cli(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "INCIDENTBOT_DATABASE_URL": database_url, "INCIDENTBOT_CONFIG": str(EXAMPLE_CONFIG)}
    env.pop("SLACK_BOT_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "statuspage", *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_posts_shows_and_exports_with_its_exit_codes(
    bot: BotUnderTest, database_url: str, tmp_path: Path
) -> None:
    incident = await declare(bot, "Checkout is down")
    private = await declare(bot, "Quiet one", private={"value": ["private"]})
    code, out, err = await cli(
        database_url, "post", f"INC-{incident.id}", "--status", "identified", "--body", "We found the cause.",
        "--component", "api=partial_outage", "--as", "ops-oncall",
    )  # fmt: skip
    assert code == 0, err
    assert "Published on the status page" in out and "not echoed in Slack" in err
    # The running bot notices the change made by another process within a second.
    page = await eventually(lambda: _page_with(bot, "We found the cause."))
    assert "Partial Outage" in page
    [published] = await events(bot, incident, EventKind.STATUS_PAGE_PUBLISHED)
    assert published.data["source"] == "cli" and published.data["author"] == "ops-oncall"

    code, out, _ = await cli(database_url, "show")
    assert code == 0 and "Checkout is down — Identified, impact major" in out and "API: Partial Outage" in out
    code, out, _ = await cli(database_url, "show", "--format", "json")
    assert code == 0 and '"indicator": "major"' in out
    code, _, err = await cli(database_url, "post", str(private.id), "--status", "identified", "--body", "x")
    assert code == 2 and "private incident" in err
    code, _, err = await cli(database_url, "post", "INC-999", "--status", "identified", "--body", "x")
    assert code == 1 and "there is no incident INC-999" in err
    code, _, err = await cli(
        database_url,
        "post",
        str(incident.id),
        "--status",
        "identified",
        "--body",
        "x",
        "--component",
        "web=up",
    )
    assert code == 2 and "Unknown component 'web'" in err
    code, _, err = await cli(database_url, "post", str(incident.id), "--status", "fixed", "--body", "x")
    assert code == 2 and "invalid choice" in err
    code, _, err = await cli(database_url, "maintenance", "cancel", "42")
    assert code == 1 and "no maintenance #42" in err
    code, out, _ = await cli(
        database_url, "maintenance", "add", "--title", "DB upgrade", "--start", "2030-01-01T10:00",
        "--end", "2030-01-01T12:00", "--component", "db",
    )  # fmt: skip
    assert code == 0 and "scheduled maintenance #1" in out
    code, out, _ = await cli(database_url, "maintenance", "list")
    assert code == 0 and "DB upgrade" in out and "2030-01-01 11:00 CET" in out
    code, _, err = await cli(database_url, "maintenance", "add", "--title", "Late", "--start", "2020-01-01",
                             "--end", "2020-01-02")  # fmt: skip
    assert code == 2 and "in the past" in err

    code, out, _ = await cli(database_url, "export", str(tmp_path / "site"))
    assert code == 0 and "wrote" in out
    site = tmp_path / "site"
    assert "We found the cause." in (site / "index.html").read_text()
    assert "Quiet one" not in "".join(p.read_text() for p in site.rglob("*") if p.is_file())
    assert (site / "api" / "v2" / "summary.json").is_file() and (site / "history.atom").is_file()


async def _page_with(bot: BotUnderTest, text: str) -> str | None:
    page = (await fetch(bot.url, "/status")).text
    return page if text in page else None


async def test_config_check_renders_the_status_page_templates(tmp_path: Path) -> None:
    """An override with a misspelt variable fails `config check` (exit 1), not the page in an incident."""
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw |= {"templates_dir": str(tmp_path), "slos": [str(ROOT / "examples" / "slos")]}
    raw["runbooks"]["directory"] = str(ROOT / "examples" / "runbooks")
    config = tmp_path / "incidentbot.yml"
    config.write_text(yaml.safe_dump(raw))
    (tmp_path / "status_incident.html.j2").write_text("{{ incident.nmae }}")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "config", "check", "--config", str(config), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 1
    assert "status_incident.html.j2: UndefinedError" in err.decode() and "nmae" in err.decode()


def test_a_service_finds_its_component_in_the_config_or_in_its_slos(
    app_config: AppConfig, tmp_path: Path
) -> None:
    """`status_component` on a service wins; a service without one takes the label of its SLO spec."""
    spec = (ROOT / "examples" / "slos" / "pms.yml").read_text()
    (tmp_path / "pms.yml").write_text(
        spec.replace("  team: property", "  team: property\n  status_component: api")
    )
    slos = configured_slos([tmp_path], tmp_path / "incidentbot.yml")
    found = service_components(app_config, slos)
    assert found["pms"] == "api" and found["checkout"] == "checkout" and found["database"] == "db"
    assert "orchestrator" not in found


def test_the_section_names_only_known_severities_roles_and_components() -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["status_page"] |= {"impact": {"P1": "critical"}, "approver_roles": ["nobody"]}
    raw["services"][0]["status_component"] = "website"
    with pytest.raises(ValueError) as refused:
        AppConfig.model_validate(raw)
    for problem in (
        "status_page.impact: unknown severity 'P1'",
        "status_page.approver_roles: unknown role 'nobody'",
        "services.checkout.status_component: no status_page component 'website'",
    ):
        assert problem in str(refused.value)


async def test_a_serving_bot_keeps_the_export_current(
    database_url: str, standin: RunningStandin, app_config: AppConfig, tmp_path: Path
) -> None:
    section = app_config.status_page.model_copy(update={"export_dir": tmp_path / "site"})
    config = app_config.model_copy(update={"status_page": section})
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace):
        page = await eventually(lambda: (tmp_path / "site" / "index.html").is_file())
        assert page and "All Systems Operational" in (tmp_path / "site" / "index.html").read_text()
