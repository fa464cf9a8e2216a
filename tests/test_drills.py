"""Drills end to end (issue 21), through signed Slack requests, the stand-in and a hand-moved clock, on both
databases: `/incident drill db-down @bob` runs the seeds' scenario as a practice incident whose injects
fire at their offsets (once, across a restart), whose every message carries the banner, whose pages reach
only the participants (a configured PagerDuty gets nothing), whose audiences and public status page get
previews only, whose runbook steps are simulated (the injected check fails), and whose end posts a
scorecard that reports leave out unless asked."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cli.main import run as cli
from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.drills.scenario import participants_of
from bot.drills.settings import ScheduledDrill
from bot.messages import DRILL_BANNER
from bot.oncall.settings import OnCallConfig
from bot.standin import RunningStandin, eventually
from bot.standin.pagers import RunningPagers
from bot.standin.state import message_text
from tests.fixtures_bot import (
    ALICE,
    ANNOUNCEMENTS,
    BOB,
    CAROL,
    EXAMPLE_CONFIG,
    GENERAL,
    MANAGEMENT,
    BotUnderTest,
    Clock,
    bot_settings,
    running_bot,
)
from tests.test_paging import PAGERDUTY_KEY

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ONCALL = {
    "schedules": [
        {
            "id": "primary",
            "name": "Primary",
            "timezone": "Europe/Berlin",
            "layers": [{"name": "all", "users": [CAROL], "rotation": "weekly", "start": "2026-01-05"}],
        }
    ],
    "escalation": {
        "SEV1": [
            {"notify": {"schedule": "primary"}},
            {"wait": "5m"},
            {"notify": {"role": "incident_commander"}},
        ]
    },
}


@pytest.fixture
def drill_config(
    app_config: AppConfig, pagers: RunningPagers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AppConfig:
    monkeypatch.setenv("INCIDENTBOT_PAGERDUTY_ROUTING_KEY", PAGERDUTY_KEY)
    paging = type(app_config.paging).model_validate({"pagerduty": {"base_url": pagers.pagerduty_url}})
    postmortems = app_config.postmortems.model_copy(update={"directory": tmp_path / "postmortems"})
    return app_config.model_copy(
        update={"oncall": OnCallConfig.model_validate(ONCALL), "paging": paging, "postmortems": postmortems}
    )


async def the_drill(bot: BotUnderTest) -> Incident | None:
    found = [i for i in await bot.runtime.incidents.list_open() if i.drill and i.channel_id]
    return found[0] if found else None


async def events(bot: BotUnderTest, incident: Incident, kind: EventKind) -> list[Any]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == kind]


def texts(bot: BotUnderTest, channel: str) -> list[str]:
    return [message_text(m) for m in bot.workspace.messages(channel)]


async def at(bot: BotUnderTest, clock: Clock, minutes: float) -> None:
    clock.at = T0 + timedelta(minutes=minutes)
    await bot.runtime.scheduler.run_due()


async def test_a_drill_runs_its_injects_marked_scored_and_left_out_of_reports(
    database_url: str, standin: RunningStandin, drill_config: AppConfig, pagers: RunningPagers
) -> None:
    clock = Clock(T0)
    settings = bot_settings(database_url, standin)
    async with running_bot(settings, drill_config, standin.workspace, clock) as bot:
        response = await bot.driver.slash(ALICE, GENERAL, f"drill db-down <@{BOB}>")
        assert response.status == 200
        incident = await eventually(lambda: the_drill(bot))
        channel = incident.channel_id or ""
        assert incident.title == "Drill: Database down" and incident.severity == "SEV1"
        assert bot.workspace.channels[channel].name.startswith("drill-")
        await eventually(lambda: {ALICE, BOB} <= set(bot.workspace.channels[channel].members))
        await at(bot, clock, 0)  # the first inject: the PostgresDown alert
        [alert] = await eventually(lambda: events(bot, incident, EventKind.ALERT_RECEIVED))
        assert alert.data["drill"] is True and alert.data["alert"]["labels"]["drill"] == "true"
        await at(bot, clock, 1)
        await at(bot, clock, 2)
        assert len(await events(bot, incident, EventKind.DRILL_INJECT)) == 3
    # the bot restarts mid-drill: the remaining injects fire, each once
    async with running_bot(settings, drill_config, standin.workspace, clock) as bot:
        for minute in (2.5, 3, 4, 5, 6):
            await at(bot, clock, minute)
        fired = await events(bot, incident, EventKind.DRILL_INJECT)
        assert [e.data["kind"] for e in fired] == ["alert", "page", "message", "check", "slo", "alert"]
        shown = texts(bot, channel)
        assert any("Customer report" in t and "Error 500" in t for t in shown)
        assert any("simulated: nobody real is paged" in t for t in shown)
        # every message in the drill's channel carries the banner; nothing reached the real audiences
        for message in bot.workspace.messages(channel):
            assert message.text.startswith("[DRILL]"), message.text
            assert DRILL_BANNER in json.dumps(message.blocks, ensure_ascii=False)
        assert not any("Database down" in t for t in texts(bot, ANNOUNCEMENTS) + texts(bot, MANAGEMENT))
        # pages: the participants only (not Carol, the real on-call), marked; PagerDuty got nothing
        paged = [e.data.get("user") for e in await events(bot, incident, EventKind.PAGE_SENT)]
        assert set(paged) - {None} <= {ALICE, BOB} and CAROL not in paged
        dm = bot.workspace.dm_channel(ALICE, create=False) or bot.workspace.dm_channel(BOB, create=False)
        assert dm is not None and all(m.text.startswith("[DRILL]") for m in dm.messages)
        assert pagers.state.accepted() == []
        # /incident slo shows the scenario's figures, marked
        await bot.driver.slash(ALICE, channel, "slo")

        def figures() -> str | None:
            said = [message_text(m) for m in bot.workspace.ephemerals_for(ALICE, channel)]
            return next((t for t in said if "scenario figures" in t), None)

        assert "api-availability" in await eventually(figures)
        # the end: /incident drill stop, the scorecard in the channel, as a file and on the timeline
        await bot.runtime.incidents.assign_role(incident.id, "incident_commander", BOB, BOB)
        clock.at = T0 + timedelta(minutes=20)
        await bot.driver.slash(BOB, channel, "drill stop")
        [scored] = await eventually(lambda: events(bot, incident, EventKind.DRILL_SCORED))
        assert scored.data["scenario"] == "db-down" and scored.data["team"] == "platform"
        verdicts = {r["what"]: r["verdict"] for r in scored.data["results"]}
        assert verdicts["Incident Commander assigned"] == "missed" and verdicts["resolved"] == "met"
        await eventually(lambda: any(t.startswith("[DRILL] Drill scorecard") for t in texts(bot, channel)))
        document = (drill_config.postmortems.directory / f"{incident.reference}-drill-db-down.md").read_text()
        assert "DRILL — not a real incident" in document and f"score **{scored.data['score']} %**" in document

    # reports leave the drill out, unless asked
    def count(*more: str) -> int:
        out = io.StringIO()
        args = ["report", "--format", "json", "--since", "2026-12-01", "--until", "2026-12-04"]
        with contextlib.redirect_stdout(out):
            assert cli([*args, "--database-url", database_url, "--config", str(EXAMPLE_CONFIG), *more]) == 0
        return int(json.loads(out.getvalue())["overall"]["count"])

    assert await asyncio.to_thread(count) == 0
    assert await asyncio.to_thread(count, "--include-drills") == 1

    def pages(*more: str) -> int:
        out = io.StringIO()
        args = ["oncall", "report", "--format", "json", "--since", "2026-12-01", "--until", "2026-12-04"]
        with contextlib.redirect_stdout(out):
            assert cli([*args, "--database-url", database_url, "--config", str(EXAMPLE_CONFIG), *more]) == 0
        return sum(int(p["pages"]) for p in json.loads(out.getvalue())["people"])

    assert await asyncio.to_thread(pages) == 0  # on-call load: the drill's pages are practice
    assert await asyncio.to_thread(pages, "--include-drills") >= 1


async def test_a_drill_publishes_nothing_and_runs_no_real_step(
    database_url: str, standin: RunningStandin, drill_config: AppConfig
) -> None:
    clock = Clock(T0)
    async with running_bot(
        bot_settings(database_url, standin), drill_config, standin.workspace, clock
    ) as bot:
        incident = await bot.runtime.drills.start("db-down", [BOB], ALICE, "drill:test")
        incident = await eventually(lambda: the_drill(bot))
        channel = incident.channel_id or ""
        await at(bot, clock, 3)  # the check inject: query-errors fails during the drill
        statuspage = bot.runtime.statuspage
        draft = await statuspage.default_draft(incident)
        outcome = await statuspage.submit(incident.id, draft, ALICE, "drill-public")
        assert outcome.update is None and "DRILL" in outcome.said
        async with aiohttp.ClientSession() as http, http.get(bot.url + "/api/v2/incidents.json") as answer:
            assert (await answer.json())["incidents"] == []
        assert any("DRILL: not published" in t for t in texts(bot, channel))
        [told] = await events(bot, incident, EventKind.STATUS_PAGE_PUBLISHED)
        assert told.data["drill_preview"] is True
        runbooks = bot.runtime.rollbacks.runbooks
        await runbooks.post(incident.id, "database-down", ALICE)
        [posted] = await events(bot, incident, EventKind.RUNBOOK_POSTED)
        run_id = int(posted.data["run_id"])
        await runbooks.request_run(run_id, "query-errors", ALICE, {}, self_approve=False)
        await runbooks.request_run(run_id, "exporter-up", ALICE, {}, self_approve=False)
        ran = {e.data["step"]: e.data for e in await eventually(lambda: _two_steps(bot, incident))}
        assert ran["query-errors"]["passed"] is False and "38 %" in ran["query-errors"]["summary"]
        assert ran["exporter-up"]["passed"] is True and ran["exporter-up"]["summary"].startswith(
            "drill: not run"
        )


async def _two_steps(bot: BotUnderTest, incident: Incident) -> list[Any] | None:
    found = await events(bot, incident, EventKind.RUNBOOK_STEP_RUN)
    return found if len(found) >= 2 else None


async def test_unknown_scenarios_and_stop_outside_a_drill_are_told(bot: BotUnderTest) -> None:
    await bot.driver.slash(ALICE, GENERAL, "drill lunch-break")
    await bot.driver.slash(ALICE, GENERAL, "drill stop")
    await bot.driver.slash(ALICE, GENERAL, "drill")

    def said() -> list[str] | None:
        found = [message_text(m) for m in bot.workspace.ephemerals_for(ALICE, GENERAL)]
        return found if len(found) >= 3 else None

    answers = " ".join(await eventually(said))
    assert "No drill scenario 'lunch-break'" in answers and "`db-down`" in answers
    assert "Type `/incident drill stop` in the drill's channel" in answers
    assert "Usage: `/incident drill <scenario>" in answers
    assert await bot.runtime.incidents.list_open() == []


async def test_a_game_day_reminder_starts_one_drill_and_the_report_shows_scores_and_skips(
    database_url: str, standin: RunningStandin, drill_config: AppConfig
) -> None:
    entry = {
        "scenario": "db-down",
        "every": "monthly",
        "day": 1,
        "at": "10:00",
        "channel": GENERAL,
        "participants": [BOB],
    }
    drills = drill_config.drills.model_copy(update={"schedule": [ScheduledDrill.model_validate(entry)]})
    config = drill_config.model_copy(update={"drills": drills})
    clock = Clock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        clock.at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
        await bot.runtime.scheduler.run_due()
        reminder = await eventually(
            lambda: next((m for m in bot.workspace.messages(GENERAL) if "Game day" in message_text(m)), None)
        )
        clicks = [
            bot.driver.click(user, "drill_start", channel_id=GENERAL, message_ts=reminder.ts)
            for user in (ALICE, ALICE)
        ]
        await asyncio.gather(*clicks)
        incident = await eventually(lambda: the_drill(bot))
        assert set(participants_of(incident)) == {ALICE, BOB}
        await bot.runtime.scheduler.run_due()
        assert len([i for i in await bot.runtime.incidents.list_open() if i.drill]) == 1
        nxt = [t for t in await bot.runtime.scheduler.store.pending(None, "drill.remind")]
        assert [t.due_at for t in nxt] == [datetime(2027, 1, 1, 9, 0, tzinfo=UTC)]
        await bot.runtime.drills.stop(incident.id, ALICE)
        await eventually(lambda: events(bot, incident, EventKind.DRILL_SCORED))

    def drill_report() -> dict[str, Any]:
        out = io.StringIO()
        args = ["drill", "report", "--since", "60d", "--format", "json", "--database-url", database_url]
        with contextlib.redirect_stdout(out):
            assert cli([*args, "--config", str(EXAMPLE_CONFIG)]) == 0
        return json.loads(out.getvalue())

    report = await asyncio.to_thread(drill_report)
    [past] = report["drills"]
    assert (past["scenario"], past["team"], past["reference"]) == ("db-down", "platform", incident.reference)
    assert [s["due"][:10] for s in report["skipped"] if s["scenario"] == "db-down"] == ["2026-11-01"]
