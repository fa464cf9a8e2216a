"""The workflow triggers and conditions that came with change tracking and drills (issue 19): `slo.burn`
(an SLO's burn alert, by its `sloth_slo` label), `deploy.recorded` (a deploy to an open incident's
service), the `set_field` action and the `fields` condition it feeds, and `drill` / `drills: true`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.config import AppConfig
from bot.domain import EventKind, Incident, TimelineEvent
from bot.settings import IncidentSettings
from bot.standin import RunningStandin, eventually
from bot.workflows.match import Facts, WorkflowIndex
from bot.workflows.replay import replay
from bot.workflows.settings import Workflow
from tests.fixtures_bot import ALICE, BotUnderTest, bot_settings, running_bot
from tests.test_alerts import TOKEN, notification, post
from tests.test_deploys import generic
from tests.test_lifecycle import declare
from tests.test_workflows import WAIT, steps, with_workflows
from tests.workflow_receiver import SECRET, Receiver, receiver


@pytest.fixture
async def hooks(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    async with receiver() as running:
        yield running


def hook(receiver: Receiver) -> dict[str, Any]:
    return {"webhook": {"url": receiver.url, "secret_env": "TEST_HOOK_SECRET"}}


def burn_alert(service: str, slo: str) -> dict[str, Any]:
    body = notification(service, "SLOErrorBudgetBurn")
    body["commonLabels"] = {**body["commonLabels"], "sloth_slo": slo, "sloth_service": service}
    for alert in body["alerts"]:
        alert["labels"] = {**alert["labels"], "sloth_slo": slo}
    return body


async def timeline_has(bot: BotUnderTest, incident: Incident, kind: EventKind) -> list[TimelineEvent] | None:
    found = [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == kind]
    return found or None


async def test_an_slo_burn_sets_a_field_that_a_later_workflow_reads(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hooks: Receiver
) -> None:
    on_burn = {
        "name": "on-burn",
        "on": "slo.burn",
        "if": {"labels": {"sloth_slo": "checkout-availability"}},
        "do": [{"set_field": {"field": "customer_impact", "value": True}}, hook(hooks)],
    }
    impact = {
        "name": "impact-raised",
        "on": "severity.changed",
        "if": {"fields": {"customer_impact": "true"}},
        "do": [hook(hooks)],
    }
    config = with_workflows(app_config, on_burn, impact)
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, config, standin.workspace) as bot:
        assert (await post(bot, notification("payments")))[0] == 200  # a plain alert: no burn
        assert (await post(bot, burn_alert("checkout", "checkout-availability")))[0] == 200

        async def burned() -> Incident | None:
            return next((i for i in await bot.runtime.incidents.list_open() if i.service == "checkout"), None)

        incident = await eventually(burned, timeout=WAIT)
        [received] = await eventually(lambda: hooks.received, timeout=WAIT)
        assert received["trigger"] == "slo.burn" and received["incident"]["id"] == incident.id
        [field] = await eventually(lambda: timeline_has(bot, incident, EventKind.FIELD_SET), timeout=WAIT)
        assert field.data == {"field": "customer_impact", "value": "true"}
        assert (await bot.incident(incident.id)).fields == {"customer_impact": "true"}
        payments = next(i for i in await bot.runtime.incidents.list_open() if i.service == "payments")
        await bot.runtime.incidents.set_severity(payments.id, "SEV2", ALICE)
        await bot.runtime.incidents.set_severity(incident.id, "SEV2", ALICE)
        later = await eventually(lambda: hooks.received[1:], timeout=WAIT)
        assert [(r["trigger"], r["incident"]["id"]) for r in later] == [("severity.changed", incident.id)]
        assert await steps(bot, payments) == []


async def test_a_deploy_to_an_open_incidents_service_is_a_trigger(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hooks: Receiver
) -> None:
    on_deploy = {
        "name": "deploy-during-incident",
        "on": "deploy.recorded",
        "if": {"service": "checkout"},
        "do": [hook(hooks)],
    }
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, with_workflows(app_config, on_deploy), standin.workspace) as bot:
        incident = await declare(bot)
        assert (await generic(bot, {"service": "checkout", "version": "v50"}, TOKEN))[0] == 200
        assert (await generic(bot, {"service": "search", "version": "v2"}, TOKEN))[0] == 200
        [received] = await eventually(lambda: hooks.received, timeout=WAIT)
        assert received["trigger"] == "deploy.recorded" and received["incident"]["id"] == incident.id
        [step] = await eventually(lambda: steps(bot, incident), timeout=WAIT)  # recorded after the call
        assert step["ok"] is True


def test_drills_run_only_the_workflows_that_say_so_and_the_drill_condition() -> None:
    always = Workflow.model_validate(
        {"name": "always", "on": "incident.declared", "do": [{"page": {"user": "U1"}}]}
    )
    practice = Workflow.model_validate(
        {"name": "practice", "on": "incident.declared", "drills": True, "do": [{"page": {"user": "U1"}}]}
    )
    real_only = Workflow.model_validate(
        {
            "name": "real-only",
            "on": "incident.declared",
            "drills": True,
            "if": {"drill": False},
            "do": [{"page": {"user": "U1"}}],
        }
    )
    index = WorkflowIndex([always, practice, real_only])
    real = Facts("SEV1", "investigating", "checkout", False, {})
    drill = Facts("SEV1", "investigating", "checkout", False, {}, drill=True)
    assert [r.workflow.name for r in index.scheduled("incident.declared", real)] == [
        "always",
        "practice",
        "real-only",
    ]
    assert [r.workflow.name for r in index.scheduled("incident.declared", drill)] == ["practice"]


def test_replay_follows_fields_set_on_the_timeline() -> None:
    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    incident = Incident(1, "Checkout errors", "SEV2", "investigating", "", "checkout", False, ALICE, at)
    events = [
        TimelineEvent(1, 1, EventKind.DECLARED, ALICE, at, "declared", {"severity": "SEV2"}),
        TimelineEvent(2, 1, EventKind.SEVERITY_CHANGED, ALICE, at, "", {"to": "SEV1"}),
        TimelineEvent(
            3, 1, EventKind.FIELD_SET, ALICE, at, "", {"field": "customer_impact", "value": "true"}
        ),
        TimelineEvent(4, 1, EventKind.SEVERITY_CHANGED, ALICE, at, "", {"to": "SEV2"}),
    ]
    workflow = Workflow.model_validate(
        {
            "name": "impact",
            "on": "severity.changed",
            "if": {"fields": {"customer_impact": "true"}},
            "do": [{"page": {"user": "U1"}}],
        }
    )
    planned = replay(workflow, incident, events, IncidentSettings(), lambda step: step.action)
    assert [(p.event_id, p.runs) for p in planned] == [(2, False), (4, True)]
