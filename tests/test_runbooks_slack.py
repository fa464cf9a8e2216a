"""Runbooks driven through Slack: list, post, run each kind of step, parameters, dangerous steps,
double clicks and retries, truncated and redacted output, membership, and the timeline they leave."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.runbooks.settings import RunbooksConfig
from bot.standin import RunningStandin, Workspace, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import ALICE, CAROL, GENERAL, BotUnderTest, at_once, bot_settings, running_bot
from tests.fixtures_prometheus import RunningPrometheus
from tests.test_lifecycle import declare, latest_view

ERIN = "U0ERIN0000"  # not invited to incident channels in the example config
SECRET = "s3cr3t-t0ken-value"
RUNBOOK = """
name: checkout-errors
title: Checkout error rate
severity: SEV2
alerts: [HighErrorRate]
services: [checkout]
owner: "@payments-sre"
last_reviewed: 2026-11-01
links: [https://wiki.example.org/checkout]
sections:
  immediate:
    - id: error-rate
      kind: check
      title: Error rate under 5 %
      query: >-
        sum(rate(http_requests_total{service="checkout",code="500"}[5m]))
        / sum(rate(http_requests_total{service="checkout"}[5m]))
      condition: "< 0.05"
    - id: health
      kind: http
      title: Health endpoint answers
      url: HEALTH_URL
      expect_status: 200
      expect_body: ok
  investigation:
    - id: echo
      kind: command
      title: Show the arguments
      command: [python3, -c, "import sys, json; print(json.dumps(sys.argv[1:]))", "{target}"]
      params:
        target: {pattern: "[a-z0-9-]{1,30}", default: checkout}
      timeout: 10s
    - id: fail
      kind: command
      title: Exits with 3
      command: [python3, -c, "import sys; print('boom'); sys.exit(3)"]
    - id: hang
      kind: command
      title: Hangs
      command: [python3, -c, "import time; time.sleep(60)"]
      timeout: 1s
    - id: chatty
      kind: command
      title: Prints a lot, and a token
      command: [python3, -c, "import os; print('token', os.environ['API_TOKEN']); print('x' * 20000)"]
      env: {API_TOKEN: SECRET_VALUE}
    - id: settings
      kind: command
      title: Shows the database settings
      command: [python3, -c, "import os; print('connecting as app with', os.environ['DB_PASS'])"]
      env_passthrough: [DB_PASS]
  recovery:
    - id: restart
      kind: command
      title: Restart checkout
      command: [python3, -c, "print('restarted')"]
      dangerous: true
  communication:
    - id: status-page
      kind: manual
      title: Update the status page
---
name: disk-full
title: Disk space critical
owner: "@infra"
last_reviewed: 2026-10-01
services: [database]
sections:
  immediate:
    - {id: look, kind: manual, title: Look at the disks}
"""


@pytest.fixture
async def health_url() -> AsyncIterator[str]:
    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/healthz"
    await runner.cleanup()


@pytest.fixture
def runbook_config(app_config: AppConfig, tmp_path: Path, health_url: str) -> AppConfig:
    directory = tmp_path / "runbooks"
    directory.mkdir()
    for index, text in enumerate(RUNBOOK.split("\n---\n")):
        text = text.replace("HEALTH_URL", health_url).replace("SECRET_VALUE", SECRET)
        (directory / f"runbook{index}.yml").write_text(text, encoding="utf-8")
    runbooks = RunbooksConfig(directory=directory, secret_env=["API_TOKEN"])
    return app_config.model_copy(update={"runbooks": runbooks})


@pytest.fixture
async def rbot(
    database_url: str, standin: RunningStandin, runbook_config: AppConfig, prometheus: RunningPrometheus
) -> AsyncIterator[BotUnderTest]:
    settings = bot_settings(database_url, standin, prometheus_url=prometheus.url)
    # The clock stands at the end of the synthetic data, so the check step's figure is known.
    async with running_bot(settings, runbook_config, standin.workspace, lambda: prometheus.at) as bot:
        yield bot


async def posted(bot: BotUnderTest) -> tuple[Incident, dict[str, Any]]:
    """Declare, post the runbook; returns the incident and its checklist messages by section title."""
    incident = await declare(bot)
    response = await bot.driver.slash(ALICE, incident.channel_id or "", "runbook checkout-errors")
    assert "Posting runbook" in response.body
    messages = await eventually(lambda: _checklists(bot.workspace, incident))
    return incident, messages


def _checklists(ws: Workspace, incident: Incident) -> dict[str, Any] | None:
    found = {
        m.blocks[0]["text"]["text"]: m
        for m in ws.messages(incident.channel_id or "")
        if m.blocks and m.blocks[0].get("type") == "header" and ":clipboard:" in m.blocks[0]["text"]["text"]
    }
    return found if len(found) == 4 else None


def checklist(messages: dict[str, Any], section: str) -> Any:
    return next(m for title, m in messages.items() if title.endswith(section))


async def click(bot: BotUnderTest, user: str, action: str, message: Any, step: str) -> Any:
    return await bot.driver.click(
        user, action, channel_id=message.channel, message_ts=message.ts, block_id=f"step-{step}"
    )


async def runs(bot: BotUnderTest, incident: Incident, step: str) -> list[Any]:
    events = await bot.runtime.incidents.store.timeline(incident.id)
    return [e for e in events if e.kind == EventKind.RUNBOOK_STEP_RUN and e.data["step"] == step]


def results(ws: Workspace, incident: Incident, title: str) -> list[str]:
    return [
        message_text(m)
        for m in ws.messages(incident.channel_id or "")
        if title in message_text(m) and "(<@" in message_text(m)
    ]


async def test_list_shows_matching_runbooks_first(rbot: BotUnderTest) -> None:
    incident = await declare(rbot)  # service: checkout
    response = await rbot.driver.slash(ALICE, incident.channel_id or "", "runbook")
    body = response.body
    assert body.index("checkout-errors") < body.index("disk-full")
    assert "matches this incident" in body
    response = await rbot.driver.slash(ALICE, incident.channel_id or "", "runbook nope")
    assert "Unknown runbook 'nope'" in response.body
    response = await rbot.driver.slash(ALICE, GENERAL, "runbook")
    assert "works in an incident channel" in response.body


async def test_check_http_and_command_steps_run_and_are_recorded(
    rbot: BotUnderTest, prometheus: RunningPrometheus
) -> None:
    bot, ws = rbot, rbot.workspace
    incident, messages = await posted(bot)
    immediate = checklist(messages, "Immediate actions")

    await click(bot, ALICE, "runbook_run", immediate, "error-rate")
    [event] = await eventually(lambda: runs(bot, incident, "error-rate"))
    ratio = prometheus.data.availability_ratio("checkout", timedelta(minutes=5), prometheus.at)
    assert ratio is not None
    assert event.data["passed"] is (ratio < 0.05) and "0.05" in event.data["summary"]
    assert event.actor == ALICE

    await click(bot, CAROL, "runbook_run", immediate, "health")
    [event] = await eventually(lambda: runs(bot, incident, "health"))
    assert event.data["passed"] is True and "HTTP 200" in event.data["summary"]

    investigation = checklist(messages, "Investigation")
    await click(bot, ALICE, "runbook_run", investigation, "fail")
    [event] = await eventually(lambda: runs(bot, incident, "fail"))
    assert (event.data["passed"], event.data["exit_code"]) == (False, 3)
    assert "boom" in event.data["output"]
    await eventually(lambda: "exit 3" in message_text(ws.message(investigation.channel, investigation.ts)))

    await click(bot, ALICE, "runbook_run", investigation, "hang")
    [event] = await eventually(lambda: runs(bot, incident, "hang"), timeout=10)
    assert event.data["timed_out"] is True and event.data["passed"] is False
    assert ws.errors() == []


async def test_parameters_come_from_a_form_and_bad_ones_are_refused_inline(rbot: BotUnderTest) -> None:
    bot = rbot
    incident, messages = await posted(bot)
    investigation = checklist(messages, "Investigation")
    await click(bot, ALICE, "runbook_run", investigation, "echo")
    view = await latest_view(bot, ALICE, "runbook_params")
    for bad in ("; rm -rf /", "$(touch /tmp/pwned)", "a`id`", "../../etc", "x" * 31, "chéckout"):
        ack = await bot.driver.submit_view(ALICE, view.id, {"target": {"value": bad}})
        assert ack.view_errors and "target" in ack.view_errors, bad
    assert await runs(bot, incident, "echo") == []
    await bot.driver.submit_view(ALICE, view.id, {"target": {"value": "checkout-eu"}})
    [event] = await eventually(lambda: runs(bot, incident, "echo"))
    assert event.data["params"] == {"target": "checkout-eu"}
    assert event.data["output"].strip() == '["checkout-eu"]'


async def test_long_output_is_attached_and_secrets_never_leave(rbot: BotUnderTest) -> None:
    bot, ws = rbot, rbot.workspace
    incident, messages = await posted(bot)
    await click(bot, ALICE, "runbook_run", checklist(messages, "Investigation"), "chatty")
    [event] = await eventually(lambda: runs(bot, incident, "chatty"))
    assert event.data["passed"] is True and event.data["output_attached"] is True
    assert "[redacted]" in event.data["output"]
    upload = await eventually(lambda: [f for f in ws.files.values() if f.content and b"xxxx" in f.content])
    assert b"[redacted]" in upload[0].content
    everything = str([c.args for c in ws.calls]) + str([f.content for f in ws.files.values()])
    assert SECRET not in everything
    assert SECRET not in str(await bot.runtime.incidents.store.timeline(incident.id))
    [result] = results(ws, incident, "Prints a lot")
    assert "full output attached" in result


async def test_a_dangerous_step_waits_for_the_ic_or_ops_lead(rbot: BotUnderTest) -> None:
    bot, ws = rbot, rbot.workspace
    incident, messages = await posted(bot)  # Alice is IC
    recovery = checklist(messages, "Recovery")
    await click(bot, CAROL, "runbook_run", recovery, "restart")
    request = await eventually(
        lambda: next(
            (
                m
                for m in ws.messages(incident.channel_id or "")
                if "wants to run the dangerous step" in m.text or "dangerous step" in message_text(m)
            ),
            None,
        )
    )
    assert await runs(bot, incident, "restart") == []
    await bot.driver.click(CAROL, "runbook_approve", channel_id=request.channel, message_ts=request.ts)
    await eventually(
        lambda: ws.find_messages("Only the Incident Commander or the Operations Lead", include_ephemeral=True)
    )
    assert await runs(bot, incident, "restart") == []
    await bot.driver.click(ALICE, "runbook_approve", channel_id=request.channel, message_ts=request.ts)
    [event] = await eventually(lambda: runs(bot, incident, "restart"))
    assert event.actor == CAROL and event.data["approved_by"] == ALICE and event.data["passed"]
    await eventually(lambda: "approved" in message_text(ws.message(request.channel, request.ts)))
    decisions = [
        e.data["decision"]
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.RUNBOOK_STEP_APPROVAL
    ]
    assert decisions == ["requested", "approved"]

    # The IC herself runs it at once (her click is the confirmation).
    recovery = checklist(_checklists(ws, incident) or {}, "Recovery")
    await click(bot, ALICE, "runbook_run", recovery, "restart")
    await eventually(lambda: _count(runs(bot, incident, "restart"), 2))


async def _count(found: Any, n: int) -> bool:
    return len(await found) == n


async def test_a_step_runs_once_however_often_it_is_clicked(rbot: BotUnderTest) -> None:
    bot, ws = rbot, rbot.workspace
    incident, messages = await posted(bot)
    investigation = checklist(messages, "Investigation")
    first = await click(bot, ALICE, "runbook_run", investigation, "hang")
    await asyncio.gather(
        bot.driver.redeliver(first, retry_num=1),
        click(bot, CAROL, "runbook_run", investigation, "hang"),
    )
    await eventually(lambda: runs(bot, incident, "hang"), timeout=10)
    await asyncio.sleep(1.5)  # a second run would have finished by now
    assert len(await runs(bot, incident, "hang")) == 1
    assert ws.find_messages("already running", include_ephemeral=True)


async def test_only_channel_members_run_steps_and_manual_steps_are_ticked(rbot: BotUnderTest) -> None:
    bot, ws = rbot, rbot.workspace
    incident, messages = await posted(bot)
    assert ERIN not in ws.channels[incident.channel_id or ""].members
    immediate = checklist(messages, "Immediate actions")
    await click(bot, ERIN, "runbook_run", immediate, "health")
    await eventually(lambda: ws.find_messages("Only members of the", include_ephemeral=True))
    assert await runs(bot, incident, "health") == []

    communication = checklist(messages, "Communication")
    await click(bot, CAROL, "runbook_done", communication, "status-page")
    await eventually(
        lambda: "_done by <@U0CAROL000>_" in message_text(ws.message(communication.channel, communication.ts))
    )
    marked = [
        e
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.RUNBOOK_STEP_MARKED
    ]
    assert [(e.actor, e.data["state"]) for e in marked] == [(CAROL, "done")]


async def test_a_quick_step_clicked_three_times_at_once_runs_once(rbot: BotUnderTest) -> None:
    bot, ws = rbot, rbot.workspace
    incident, messages = await posted(bot)
    investigation = checklist(messages, "Investigation")
    await at_once(3, lambda i: click(bot, (ALICE, CAROL, ALICE)[i], "runbook_run", investigation, "fail"))
    await eventually(lambda: runs(bot, incident, "fail"))
    answered = "was already run by|already running or waiting"
    await eventually(
        lambda: (
            len(
                [
                    m
                    for m in ws.find_messages("already", include_ephemeral=True)
                    if re.search(answered, message_text(m))
                ]
            )
            == 2
        )
    )
    assert len(await runs(bot, incident, "fail")) == 1


async def test_approve_and_skip_clicked_together_act_once(rbot: BotUnderTest) -> None:
    bot, ws = rbot, rbot.workspace
    incident, messages = await posted(bot)  # Alice is IC
    await click(bot, CAROL, "runbook_run", checklist(messages, "Recovery"), "restart")
    request = await eventually(
        lambda: next(
            (m for m in ws.messages(incident.channel_id or "") if "dangerous step" in message_text(m)), None
        )
    )
    await at_once(
        3,
        lambda i: bot.driver.click(
            ALICE, "runbook_approve", channel_id=request.channel, message_ts=request.ts
        ),
    )
    await eventually(lambda: runs(bot, incident, "restart"))
    await eventually(
        lambda: (
            len(
                ws.find_messages("not waiting for approval", include_ephemeral=True)
                + ws.find_messages("was already approved by", include_ephemeral=True)
            )
            == 2
        )
    )
    assert len(await runs(bot, incident, "restart")) == 1
    approvals = [
        e.data["decision"]
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.RUNBOOK_STEP_APPROVAL
    ]
    assert approvals == ["requested", "approved"]

    communication = checklist(messages, "Communication")
    await at_once(3, lambda i: click(bot, CAROL, "runbook_skip", communication, "status-page"))
    await eventually(
        lambda: (
            len(ws.find_messages(f"was already marked skipped by <@{CAROL}> at", include_ephemeral=True)) == 2
        )
    )
    marked = [
        e
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.RUNBOOK_STEP_MARKED
    ]
    assert [(e.actor, e.data["state"]) for e in marked] == [(CAROL, "skipped")]


async def test_the_value_of_a_secret_looking_variable_nobody_listed_never_leaves(
    rbot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DB_PASS is not in runbooks.secret_env; its name says what it is, so its value is redacted anyway."""
    monkeypatch.setenv("DB_PASS", "pg-hunter22-not-listed")
    bot, ws = rbot, rbot.workspace
    incident, messages = await posted(bot)
    await click(bot, ALICE, "runbook_run", checklist(messages, "Investigation"), "settings")
    [event] = await eventually(lambda: runs(bot, incident, "settings"))
    assert event.data["passed"] is True and "connecting as app with [redacted]" in event.data["output"]
    everything = str([c.args for c in ws.calls]) + str(
        await bot.runtime.incidents.store.timeline(incident.id)
    )
    assert "pg-hunter22-not-listed" not in everything
