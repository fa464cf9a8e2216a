"""A scripted incident through Slack — declare, page and acknowledge, SLO snapshot, update, note, pin,
runbook step, mitigation, resolve — then its post-mortem: offered, written in the form, compiled, published
to the channels and a file, reminded when late, and rewritten without losing what people wrote."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import run
from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.oncall.settings import OnCallConfig
from bot.runbooks.settings import RunbooksConfig
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import (
    ALICE,
    ANNOUNCEMENTS,
    BOB,
    CAROL,
    DAVE,
    BotUnderTest,
    Clock,
    bot_settings,
    running_bot,
)
from tests.fixtures_prometheus import RunningPrometheus
from tests.test_lifecycle import declare, latest_view
from tests.test_slo_slack import SPECS

RUNBOOK = """
name: checkout-rollback
title: Roll back checkout
owner: "@payments"
last_reviewed: 2026-10-01
services: [checkout]
sections:
  recovery:
    - id: rollback
      kind: command
      title: Roll back the deploy
      command: [python3, -c, "print('rolled back to v41')"]
"""
ONCALL = {
    "schedules": [
        {
            "id": "primary",
            "name": "Primary",
            "timezone": "Europe/Berlin",
            "layers": [{"name": "all", "users": [BOB], "rotation": "weekly", "start": "2026-01-05"}],
        }
    ],
    "escalation": {
        "SEV2": [{"notify": {"schedule": "primary"}}, {"wait": "15m"}, {"notify": {"users": [DAVE]}}]
    },
}


@pytest.fixture
def pm_config(app_config: AppConfig, tmp_path: Path) -> AppConfig:
    (tmp_path / "slos.yml").write_text(SPECS, encoding="utf-8")
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "rollback.yml").write_text(RUNBOOK, encoding="utf-8")
    return app_config.model_copy(
        update={
            "slos": [tmp_path / "slos.yml"],
            "oncall": OnCallConfig.model_validate(ONCALL),
            "runbooks": RunbooksConfig(directory=tmp_path / "runbooks"),
            "postmortems": app_config.postmortems.model_copy(update={"directory": tmp_path / "postmortems"}),
        }
    )


@pytest.fixture
async def pm_bot(
    database_url: str, standin: RunningStandin, pm_config: AppConfig, prometheus: RunningPrometheus
) -> AsyncIterator[tuple[BotUnderTest, Clock]]:
    clock = Clock(prometheus.at)  # the end of the synthetic data: the SLO snapshot has figures
    settings = bot_settings(database_url, standin, prometheus_url=prometheus.url)
    async with running_bot(settings, pm_config, standin.workspace, clock) as bot:
        yield bot, clock


async def events(bot: BotUnderTest, incident: Incident) -> list[Any]:
    return await bot.runtime.incidents.store.timeline(incident.id)


async def scripted_incident(bot: BotUnderTest, clock: Clock) -> Incident:
    ws, run = bot.workspace, bot.runtime.scheduler.run_due
    incident = await declare(bot)  # 00:00 UTC = 01:00 CET: SEV2, checkout, Alice
    channel = incident.channel_id or ""
    await eventually(lambda: _has(bot, incident, EventKind.SLO_SNAPSHOT))
    await run()  # step 1 of the policy: page Bob
    [page] = await eventually(lambda: list(ws.dm_channel(BOB, create=False).messages))  # type: ignore[union-attr]

    clock.advance(minutes=3)
    await bot.driver.click(BOB, "page_ack", channel_id=page.channel, message_ts=page.ts)
    await eventually(lambda: _has(bot, incident, EventKind.PAGE_ACKED))

    clock.advance(minutes=4)  # 00:07
    await bot.driver.click(ALICE, "incident_post_update", channel_id=channel, message_ts=incident.summary_ts)
    view = await latest_view(bot, ALICE, "post_update")
    values = {
        "status": {"value": "identified"},
        "known": {"value": "The 23:55 deploy broke card payments."},
        "audiences": {"value": ["channel"]},
    }
    await bot.driver.submit_view(ALICE, view.id, values)
    await bot.driver.submit_view(ALICE, view.id, None)
    await eventually(lambda: _has(bot, incident, EventKind.UPDATE_POSTED))

    clock.advance(minutes=2)  # 00:09
    await bot.driver.slash(CAROL, channel, "note Error rate at 4 %, all regions")
    clock.advance(minutes=1)  # 00:10
    pinned = ws.add_message(channel, CAROL, "Rollback to v41 is safe, schema unchanged")
    await bot.driver.reaction_added(ALICE, channel, pinned.ts)
    await eventually(lambda: _has(bot, incident, EventKind.MESSAGE_PINNED))

    clock.advance(minutes=2)  # 00:12
    await bot.driver.slash(ALICE, channel, "runbook checkout-rollback")
    checklist = await eventually(
        lambda: next(
            (
                m
                for m in ws.messages(channel)
                if "Roll back checkout" in message_text(m) and "runbook_run" in str(m.blocks)
            ),
            None,
        )
    )
    await bot.driver.click(
        ALICE, "runbook_run", channel_id=channel, message_ts=checklist.ts, block_id="step-rollback"
    )
    await eventually(lambda: _has(bot, incident, EventKind.RUNBOOK_STEP_RUN))

    clock.advance(minutes=8)  # 00:20: a fix is in place
    await bot.driver.slash(ALICE, channel, "status monitoring")
    await eventually(lambda: _status(bot, incident, "monitoring"))

    clock.advance(minutes=25)  # 00:45
    await bot.driver.click(ALICE, "incident_resolve", channel_id=channel, message_ts=incident.summary_ts)
    view = await latest_view(bot, ALICE, "resolve_incident")
    await bot.driver.submit_view(ALICE, view.id, {"resolution": {"value": "Rolled back checkout to v41."}})
    await eventually(lambda: _status(bot, incident, "resolved"))
    await eventually(lambda: _count(bot, incident, EventKind.SLO_SNAPSHOT, 2))
    return await bot.incident(incident.id)


async def _has(bot: BotUnderTest, incident: Incident, kind: EventKind) -> bool:
    return any(e.kind == kind for e in await events(bot, incident))


async def _count(bot: BotUnderTest, incident: Incident, kind: EventKind, n: int) -> bool:
    return len([e for e in await events(bot, incident) if e.kind == kind]) >= n


async def _status(bot: BotUnderTest, incident: Incident, status: str) -> bool:
    return (await bot.incident(incident.id)).status == status


async def test_a_scripted_incident_becomes_its_post_mortem(
    pm_bot: tuple[BotUnderTest, Clock], tmp_path: Path
) -> None:
    bot, clock = pm_bot
    ws = bot.workspace
    incident = await scripted_incident(bot, clock)
    channel = incident.channel_id or ""
    offer = await eventually(
        lambda: next((m for m in ws.messages(channel) if "Draft post-mortem" in str(m.blocks)), None)
    )

    # People write what only they know, in the form the offer's button opens.
    await bot.driver.click(ALICE, "postmortem_edit", channel_id=channel, message_ts=offer.ts)
    view = await latest_view(bot, ALICE, "postmortem_narrative")
    narrative = {
        "summary": {"value": "Card payments failed for 45 minutes after a bad deploy."},
        "root_cause": {"value": "The deploy dropped a required header."},
        "why1": {"value": "Payments were declined."},
        "why2": {"value": "The gateway rejected requests without the header."},
        "lessons_went_well": {"value": "The rollback runbook worked."},
    }
    await bot.driver.submit_view(ALICE, view.id, narrative)

    async def written() -> bool:
        postmortem = await bot.runtime.postmortems.store.get(incident.id)
        return postmortem is not None and bool(postmortem.narrative.get("summary"))

    await eventually(written)

    clock.advance(hours=1)
    # Publish names the sections still empty and asks first; nothing is published yet.
    response = await bot.driver.slash(ALICE, channel, "postmortem publish")
    assert "7 post-mortem sections are still empty: Impact on users, Business impact" in response.body
    assert "Publish anyway" in response.body
    directory = tmp_path / "postmortems"
    assert not directory.exists() or not list(directory.glob("*.md"))
    await bot.driver.click(ALICE, "postmortem_publish", channel_id=channel, message_ts=offer.ts)
    asked = await eventually(
        lambda: next(
            (m for m in ws.ephemerals.get((channel, ALICE), []) if "Publish anyway" in str(m.blocks)), None
        )
    )
    await bot.driver.click(ALICE, "postmortem_publish_anyway", channel_id=channel, message_ts=asked.ts)
    [path] = await eventually(lambda: list(directory.glob("*.md")))
    assert path.name == "2026-11-01-inc-1-checkout-is-down.md"
    document = path.read_text()
    assert "- **Post-mortem status:** Published ·" in document  # what it is once published, not "Draft"

    timeline = document.split("## Detailed timeline", 1)[1].split("\n## ", 1)[0]
    await eventually(lambda: _has(bot, incident, EventKind.POSTMORTEM_PUBLISHED))
    # The document was compiled before its own publication was recorded.
    recorded = [e for e in await events(bot, incident) if e.kind != EventKind.POSTMORTEM_PUBLISHED]
    lines = [line for line in timeline.splitlines() if line.startswith("- **")]
    assert len(lines) == len(recorded)  # every event, none invented
    stamps = [re.match(r"- \*\*(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (CET|CEST)\*\*", line) for line in lines]
    assert all(stamps)
    expected = [
        e.occurred_at.astimezone(bot.runtime.config.zone).strftime("%Y-%m-%d %H:%M:%S") for e in recorded
    ]
    assert [s.group(1) for s in stamps if s] == expected  # in order, in the team's time zone
    for fragment in (
        "The 23:55 deploy broke card payments.",
        "Error rate at 4 %, all regions",
        "> Rollback to v41 is safe, schema unchanged",
        "Roll back the deploy",
        "rolled back to v41",
        "Rolled back checkout to v41.",
    ):
        assert fragment in timeline, fragment

    metrics = document.split("## Detection and response metrics", 1)[1].split("\n## ", 1)[0]
    assert "| Time to acknowledge | 3 min |" in metrics
    assert "| Time to mitigate | 20 min |" in metrics
    assert "| Time to resolve | 45 min |" in metrics
    assert "Card payments failed for 45 minutes after a bad deploy." in document
    assert "The gateway rejected requests without the header." in document
    assert "checkout/availability" in document.split("## Impact analysis", 1)[1]

    # Published where people look, as a file and a summary.
    await eventually(lambda: [f for f in ws.files.values() if f.title == "Post-mortem of INC-1"])

    def summary_in_thread() -> bool:
        thread = [
            m for m in ws.messages(ANNOUNCEMENTS) if m.thread_ts == incident.announcement_ts and m.is_reply
        ]
        return any("Post-mortem" in message_text(m) and "Published" in str(m.blocks) for m in thread)

    await eventually(summary_in_thread)
    assert ws.errors() == []

    # More events later: re-publishing rewrites the same file and keeps what people wrote.
    await bot.driver.slash(ALICE, channel, f"action Alert on missing headers <@{DAVE}|dave> 2026-11-20")
    await eventually(lambda: _has(bot, incident, EventKind.ACTION_ITEM_ADDED))
    await bot.runtime.postmortems.publish(incident.id, ALICE)
    document = path.read_text()
    assert "Alert on missing headers" in document.split("## Action items", 1)[1]
    assert "Card payments failed for 45 minutes after a bad deploy." in document
    assert list(directory.glob("*.md")) == [path]


async def test_a_late_post_mortem_nags_the_commander(pm_bot: tuple[BotUnderTest, Clock]) -> None:
    bot, clock = pm_bot
    incident = await declare(bot, severity={"value": "SEV3"})
    await bot.runtime.incidents.resolve(incident.id, "Restarted", ALICE)
    channel = incident.channel_id or ""

    def nags() -> list[str]:
        return [
            message_text(m)
            for m in bot.workspace.messages(channel)
            if "post-mortem" in message_text(m) and ":alarm_clock:" in message_text(m)
        ]

    clock.advance(hours=23)
    await bot.runtime.scheduler.run_due()
    assert nags() == []
    clock.advance(hours=2)  # 25 h: no draft written
    await bot.runtime.scheduler.run_due()
    assert len(nags()) == 1 and "draft was due" in nags()[0]
    await bot.runtime.postmortems.write(incident.id, {"summary": "Restart fixed it."}, ALICE)
    early = await bot.runtime.postmortems.mark_reviewed(incident.id, ALICE)
    assert "publish it first; Reviewed comes after the review meeting" in early
    await bot.runtime.postmortems.request_review(incident.id, ALICE)  # Draft → In review
    assert (await bot.runtime.postmortems.store.get(incident.id)).status == "in_review"  # type: ignore[union-attr]
    clock.advance(days=7)  # in review; publishing is late
    await bot.runtime.scheduler.run_due()
    assert len(nags()) == 2 and "published within a week" in nags()[-1]
    await bot.runtime.postmortems.publish(incident.id, ALICE)
    assert (await bot.runtime.postmortems.store.get(incident.id)).status == "published"  # type: ignore[union-attr]
    assert await bot.runtime.postmortems.mark_reviewed(incident.id, ALICE) == "Marked reviewed."
    await bot.runtime.postmortems.publish(incident.id, ALICE)  # a re-publish keeps the review
    postmortem = await bot.runtime.postmortems.store.get(incident.id)
    assert postmortem is not None and postmortem.status == "reviewed"
    document = await asyncio.to_thread(Path(postmortem.path or "").read_text)
    assert "- **Post-mortem status:** Reviewed ·" in document


async def test_the_cli_prints_the_same_post_mortem(
    pm_bot: tuple[BotUnderTest, Clock],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bot, _ = pm_bot
    incident = await declare(bot)
    await bot.runtime.postmortems.write(incident.id, {"root_cause": "A missing header."}, ALICE)
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", bot.runtime.settings.database_url)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(bot.runtime.settings.config))
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(run, ["postmortem", "show", f"INC-{incident.id}"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"# Post-mortem: INC-{incident.id}") and "A missing header." in printed
    # The names Slack gave when the draft was shown there are kept: the CLI names people, not ids.
    assert f"@{ALICE}" in printed  # nobody has compiled it in Slack yet: only the id is known
    await bot.runtime.postmortems.markdown(incident.id)
    name = (await bot.runtime.slack.display_names({ALICE}))[ALICE]
    assert await asyncio.to_thread(run, ["postmortem", "show", f"INC-{incident.id}"]) == 0
    printed = capsys.readouterr().out
    assert f"**Incident Commander:** {name}" in printed and f"@{ALICE}" not in printed
    assert await asyncio.to_thread(run, ["postmortem", "show", str(incident.id), "-o", str(tmp_path)]) == 0
    assert (tmp_path / f"{incident.created_at:%Y-%m-%d}-inc-{incident.id}-checkout-is-down.md").exists()
    assert await asyncio.to_thread(run, ["postmortem", "show", "999"]) == 1
    assert await asyncio.to_thread(run, ["postmortem", "show", "nope"]) == 2


async def test_a_refused_upload_still_publishes_and_says_what_failed(
    pm_bot: tuple[BotUnderTest, Clock], tmp_path: Path
) -> None:
    bot, _ = pm_bot
    incident = await declare(bot, severity={"value": "SEV3"})
    await bot.runtime.incidents.resolve(incident.id, "Restarted", ALICE)
    bot.workspace.fail_next("files.getUploadURLExternal", "not_allowed_token_type")
    said = await bot.runtime.postmortems.publish(incident.id, ALICE)
    [path] = (tmp_path / "postmortems").glob("*.md")
    assert said == (
        f"Published the post-mortem of {incident.reference} ({path.name}). Slack refused the file upload "
        f"(not_allowed_token_type); the document is at {path}."
    )
    assert (await bot.runtime.postmortems.store.get(incident.id)).status == "published"  # type: ignore[union-attr]
    header = f"Post-mortem · {incident.reference} · {incident.title}"
    for channel in (incident.channel_id or "", ANNOUNCEMENTS):
        assert any(header in message_text(m) for m in bot.workspace.messages(channel)), channel
