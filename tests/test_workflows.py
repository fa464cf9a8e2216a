"""Workflows (issue 19) through signed Slack requests, Alertmanager webhooks and a hand-moved clock: the same
workflow for a Slack- and an Alertmanager-declared incident, conditions, delays across a restart and
cancelled by `unless`, a failing webhook's Retry, exactly-once when an event is emitted twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.communication.settings import CommunicationConfig
from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.oncall.settings import OnCallConfig
from bot.services.workflow_bus import RUN
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from bot.workflows.messages import ACTION_RETRY
from bot.workflows.settings import Workflow
from tests.fixtures_bot import ALICE, BOB, DAVE, MANAGEMENT, BotUnderTest, Clock, bot_settings, running_bot
from tests.test_alerts import TOKEN, notification, post
from tests.test_lifecycle import declare
from tests.workflow_receiver import SECRET, Receiver, receiver

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
HEADS_UP = ":mega: *Heads-up from workflow"
WAIT = 15.0
"""Seconds an effect may take on a loaded machine (`eventually` returns as soon as it is there)."""


@pytest.fixture
async def hooks(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    async with receiver() as running:
        yield running


def with_workflows(config: AppConfig, *workflows: dict[str, Any]) -> AppConfig:
    """Quiet (no escalation, no communication plan: only workflows and reminders use timers here)."""
    return config.model_copy(
        update={
            "oncall": OnCallConfig(),
            "communication": CommunicationConfig(),
            "workflows": [Workflow.model_validate(w) for w in workflows],
        }
    )


def payments(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "payments-sev1",
        "on": "incident.declared",
        "if": {"severity": ["SEV1", "SEV2"], "service": "payments", "private": False},
        "do": [
            {"invite": {"users": [DAVE]}},
            {"post": {"channel": MANAGEMENT, "template": "team_heads_up"}},
            {"webhook": {"url": url, "secret_env": "TEST_HOOK_SECRET", **extra}},
        ],
    }


async def steps(bot: BotUnderTest, incident: Incident) -> list[dict[str, Any]]:
    return [
        {**e.data, "text": e.text}
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.WORKFLOW_STEP
    ]


def heads_ups(bot: BotUnderTest) -> list[str]:
    return [t for t in (message_text(m) for m in bot.workspace.messages(MANAGEMENT)) if HEADS_UP in t]


async def test_a_slack_and_an_alertmanager_incident_fire_the_same_workflow(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hooks: Receiver
) -> None:
    config = with_workflows(app_config, payments(hooks.url))
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, config, standin.workspace) as bot:
        from_slack = await declare(bot, "Payments fail", service={"value": "payments"})
        status, _ = await post(bot, notification("payments"))  # rule 1: critical payments → SEV1
        assert status == 200

        async def alert_incident() -> Incident | None:
            found = [i for i in await bot.runtime.incidents.list_open() if i.id != from_slack.id]
            return found[0] if found and found[0].channel_id else None

        from_alert = await eventually(alert_incident, timeout=WAIT)
        for incident in (from_slack, from_alert):
            done = await eventually(lambda i=incident: _hooks_for(hooks, i), timeout=WAIT)
            assert done[0]["workflow"] == "payments-sev1" and done[0]["trigger"] == "incident.declared"
            recorded = await eventually(lambda i=incident: _three(bot, i), timeout=WAIT)
            assert [s["action"] for s in recorded] == ["invite", "post", "webhook"]
            assert all(s["ok"] for s in recorded)
            assert recorded[0]["text"] == f"workflow payments-sev1: invited <@{DAVE}> ✓"
            assert recorded[2]["text"].startswith("workflow payments-sev1: webhook 200 in ")
            current = await bot.incident(incident.id)
            assert DAVE in bot.workspace.channels[current.channel_id or ""].members
        assert hooks.refused == 0 and len(hooks.received) == 2
        assert len(heads_ups(bot)) == 2


def _hooks_for(hooks: Receiver, incident: Incident) -> list[dict[str, Any]] | None:
    found = [r for r in hooks.received if r["incident"]["id"] == incident.id]
    return found if len(found) == 1 else None


async def _three(bot: BotUnderTest, incident: Incident) -> list[dict[str, Any]] | None:
    found = await steps(bot, incident)
    return found if len(found) == 3 else None


async def test_conditions_decide_and_a_non_matching_incident_runs_nothing(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hooks: Receiver
) -> None:
    picky = {
        "name": "picky",
        "on": ["incident.declared", "severity.changed"],
        "if": {"severity": "SEV1", "not": {"service": "checkout"}, "any": [{"private": False}]},
        "do": [{"webhook": {"url": hooks.url, "secret_env": "TEST_HOOK_SECRET"}}],
    }
    async with running_bot(
        bot_settings(database_url, standin), with_workflows(app_config, picky), standin.workspace
    ) as bot:
        checkout = await declare(bot, "Checkout SEV1", severity={"value": "SEV1"})  # service checkout
        payments_incident = await declare(
            bot, "Payments SEV2", severity={"value": "SEV2"}, service={"value": "payments"}
        )
        await bot.runtime.incidents.set_severity(payments_incident.id, "SEV1", ALICE)  # from the CLI, say
        received = await eventually(lambda: hooks.received, timeout=WAIT)
        assert [r["incident"]["id"] for r in received] == [payments_incident.id]
        assert received[0]["trigger"] == "severity.changed"
        assert await steps(bot, checkout) == []
        assert not await bot.runtime.scheduler.store.pending(checkout.id, RUN)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


MGMT = {
    "name": "mgmt-after-30m",
    "on": {"after": "30m", "of": "incident.declared", "unless": "incident.resolved"},
    "if": {"severity": "SEV1"},
    "do": [{"post": {"channel": MANAGEMENT, "template": "team_heads_up"}}],
}


async def test_a_delay_fires_once_after_a_restart_and_unless_cancels_it(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock
) -> None:
    config = with_workflows(app_config, MGMT)
    settings = bot_settings(database_url, standin)
    async with running_bot(settings, config, standin.workspace, clock) as first:
        kept = await declare(first, "Kept open", severity={"value": "SEV1"})
        resolved = await declare(first, "Resolved soon", severity={"value": "SEV1"})
        [timer] = await first.runtime.scheduler.store.pending(kept.id, RUN)
        assert timer.due_at == T0 + timedelta(minutes=30)
        channel = kept.channel_id or ""
        await first.driver.slash(ALICE, channel, "workflows")
        shown = await eventually(
            lambda: (first.workspace.ephemerals.get((channel, ALICE)) or [None])[-1], timeout=WAIT
        )
        assert "No workflow has run for this incident." in shown.text
        assert "*Scheduled*" in shown.text and "mgmt-after-30m: after incident.declared" in shown.text
        clock.advance(minutes=10)
        await first.runtime.incidents.resolve(resolved.id, "Rolled back", ALICE)
        assert await first.runtime.scheduler.store.pending(resolved.id, RUN) == []  # unless: cancelled
        await first.runtime.scheduler.run_due()
        assert heads_ups(first) == []
    clock.advance(minutes=21)
    async with running_bot(settings, config, standin.workspace, clock) as second:
        await second.runtime.scheduler.run_due()
        await second.runtime.scheduler.run_due()
        [posted] = heads_ups(second)
        assert kept.reference in posted and "mgmt-after-30m" in posted
        assert [s["ok"] for s in await steps(second, kept)] == [True]
        assert await steps(second, resolved) == []


async def test_a_delay_whose_unless_came_first_is_a_no_op_even_if_its_timer_fires(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock
) -> None:
    """The timer was not cancelled (say, another replica wrote the resolution before the workflow was
    configured): the run itself sees the resolution on the timeline and does nothing."""
    async with running_bot(
        bot_settings(database_url, standin), with_workflows(app_config, MGMT), standin.workspace, clock
    ) as bot:
        incident = await declare(bot, "Resolved", severity={"value": "SEV1"})
        [timer] = await bot.runtime.scheduler.store.pending(incident.id, RUN)
        await bot.runtime.incidents.resolve(incident.id, "Fixed", ALICE)
        await bot.runtime.scheduler.store.schedule(
            RUN, timer.due_at, clock(), timer.payload, incident_id=incident.id, key="replayed"
        )
        clock.advance(minutes=31)
        await bot.runtime.scheduler.run_due()
        assert heads_ups(bot) == [] and await steps(bot, incident) == []


async def test_exactly_once_when_the_event_is_emitted_twice(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock, hooks: Receiver
) -> None:
    async with running_bot(
        bot_settings(database_url, standin),
        with_workflows(app_config, payments(hooks.url)),
        standin.workspace,
        clock,
    ) as bot:
        incident = await declare(bot, "Payments", service={"value": "payments"})
        declared = await bot.runtime.incidents.store.last_event(incident.id, EventKind.DECLARED)
        assert declared is not None
        bus = bot.runtime.workflows.bus
        for _ in range(2):  # the hook runs again (a repeated job, another replica)
            async with bot.runtime.incidents.store.sessions() as session, session.begin():
                await bus.emit(session, "incident.declared", incident.id, declared.id, declared.data)
        await bot.runtime.scheduler.run_due()
        assert hooks.received == []  # not yet: due 2 s after the declare (DECLARE_GRACE)
        clock.advance(seconds=2)  # a declare's runs start after its critical path
        await bot.runtime.scheduler.run_due()
        await bot.runtime.scheduler.run_due()
        assert len(hooks.received) == 1 and len(heads_ups(bot)) == 1
        assert [s["action"] for s in await steps(bot, incident)] == ["invite", "post", "webhook"]


async def test_a_webhook_is_retried_with_backoff_then_succeeds(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock, hooks: Receiver
) -> None:
    hooks.answers = [503]
    async with running_bot(
        bot_settings(database_url, standin),
        with_workflows(app_config, payments(hooks.url, retries=2)),
        standin.workspace,
        clock,
    ) as bot:
        incident = await declare(bot, "Payments", service={"value": "payments"})
        clock.advance(seconds=2)  # a declare's runs start after its critical path
        await bot.runtime.scheduler.run_due()
        first = await steps(bot, incident)
        assert [(s["action"], s["ok"], s["final"]) for s in first] == [
            ("invite", True, True),
            ("post", True, True),
            ("webhook", False, False),
        ]
        [again] = await bot.runtime.scheduler.store.pending(incident.id, RUN)
        assert again.due_at == clock() + timedelta(seconds=5)
        clock.advance(seconds=5)
        await bot.runtime.scheduler.run_due()
        assert [(s["action"], s["ok"]) for s in await steps(bot, incident)][-1] == ("webhook", True)
        assert len(hooks.received) == 2 and len(heads_ups(bot)) == 1  # the others did not run again


async def test_a_failing_webhook_shows_retry_and_retrying_acts_once(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hooks: Receiver
) -> None:
    hooks.answers = [500]
    config = with_workflows(app_config, payments(hooks.url, retries=0))
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace) as bot:
        incident = await declare(bot, "Payments", service={"value": "payments"})
        channel = incident.channel_id or ""

        def failure_post() -> Any:
            return next(
                (
                    m
                    for m in bot.workspace.messages(channel)
                    if "could not call the webhook" in message_text(m)
                ),
                None,
            )

        failed = await eventually(failure_post, timeout=WAIT)
        assert "HTTP 500" in message_text(failed)
        recorded = await steps(bot, incident)
        assert [(s["action"], s["ok"]) for s in recorded] == [
            ("invite", True),
            ("post", True),
            ("webhook", False),
        ]

        responses = await asyncio.gather(
            *(bot.driver.click(BOB, ACTION_RETRY, channel_id=channel, message_ts=failed.ts) for _ in range(3))
        )
        assert all(r.status == 200 for r in responses)
        retried = await eventually(lambda: _retried_ok(bot, incident), timeout=WAIT)
        assert retried["retry_of"] is not None and retried["text"].startswith(
            "workflow payments-sev1: webhook 200"
        )
        notices = [m for m in bot.workspace.messages(channel) if "retried workflow" in message_text(m)]
        assert len(notices) == 1 and f"<@{BOB}>" in message_text(notices[0])
        assert not await bot.runtime.scheduler.store.pending(incident.id, RUN)
        assert len(hooks.received) == 2 and len(heads_ups(bot)) == 1

        await bot.driver.slash(ALICE, channel, "workflows")
        shown = await eventually(
            lambda: (bot.workspace.ephemerals.get((channel, ALICE)) or [None])[-1], timeout=WAIT
        )
        assert "*Ran*" in shown.text and "invited" in shown.text and "Nothing is scheduled." in shown.text


async def _retried_ok(bot: BotUnderTest, incident: Incident) -> dict[str, Any] | None:
    found = [s for s in await steps(bot, incident) if s.get("retry_of") and s["ok"]]
    return found[0] if len(found) == 1 else None


async def test_every_action_from_a_workflows_dir_file(
    database_url: str, standin: RunningStandin, app_config: AppConfig, tmp_path: Path
) -> None:
    """The file's workflow runs every other action through the service that owns it."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "security.yml").write_text(
        "name: security\n"
        "on: severity.changed\n"
        "if: {severity: SEV1}\n"
        "do:\n"
        "  - invite: {usergroup: S0ONCALL00}\n"
        f"  - page: {{user: {DAVE}}}\n"
        "  - page: {schedule: primary}\n"
        f"  - assign_role: {{role: scribe, user: {BOB}}}\n"
        "  - bookmark: {title: Playbook, link: 'https://wiki.example.org/{reference}'}\n"
        f"  - action_item: {{text: Rotate the keys, owner: {BOB}, due_in_days: 2}}\n"
        "  - email: {audience: management}\n"
        "  - post: {template: team_heads_up}\n",
        encoding="utf-8",
    )
    config = app_config.model_copy(update={"workflows_dir": folder})
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace) as bot:
        incident = await declare(bot, "Keys leaked")
        await bot.runtime.incidents.set_severity(incident.id, "SEV1", ALICE)
        done = await eventually(lambda: _all_of(bot, incident, 8), timeout=WAIT)
        texts = [s["text"].removeprefix("workflow security: ") for s in done]
        assert all(s["ok"] for s in done), texts
        assert texts[0] == "invited <@U0ALICE000>, <@U0BOB00000> ✓"
        assert texts[1] == f"paged <@{DAVE}> ✓" and texts[2].startswith("paged <@")
        assert texts[3] == f"made <@{BOB}> Scribe ✓"
        assert texts[4] == "bookmarked Playbook ✓" and texts[5].startswith("added action item #")
        assert texts[6] == "told management ✓"
        assert texts[7] == f"posted team_heads_up to <#{incident.channel_id}> ✓"
        current = await bot.incident(incident.id)
        assert current.roles["scribe"] == BOB
        bookmarks = await bot.runtime.slack.bookmarks(incident.channel_id or "")
        assert [b["link"] for b in bookmarks if b["title"] == "Playbook"] == [
            f"https://wiki.example.org/{incident.reference}"
        ]
        [item] = await bot.runtime.actions.for_incident(incident.id)
        assert item.text == "Rotate the keys" and item.owner == BOB


async def _all_of(bot: BotUnderTest, incident: Incident, count: int) -> list[dict[str, Any]] | None:
    found = await steps(bot, incident)
    return found if len(found) >= count else None


async def test_two_replicas_run_a_workflow_once(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock, hooks: Receiver
) -> None:
    settings = bot_settings(database_url, standin)
    config = with_workflows(app_config, payments(hooks.url))
    async with (
        running_bot(settings, config, standin.workspace, clock) as one,
        running_bot(settings, config, standin.workspace, clock) as two,
    ):
        incident = await declare(one, "Payments", service={"value": "payments"})
        clock.advance(seconds=2)  # a declare's runs start after its critical path
        await asyncio.gather(one.runtime.scheduler.run_due(), two.runtime.scheduler.run_due())
        await asyncio.gather(one.runtime.scheduler.run_due(), two.runtime.scheduler.run_due())
        assert len(hooks.received) == 1 and len(heads_ups(one)) == 1
        assert [s["action"] for s in await steps(one, incident)] == ["invite", "post", "webhook"]


async def test_alert_labels_select_the_incidents_an_alert_workflow_runs_for(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hooks: Receiver
) -> None:
    by_labels = {
        "name": "error-rate",
        "on": ["alert.received", "severity.changed"],
        "if": {"labels": {"alertname": "HighErrorRate", "service": ["payments", "api"]}},
        "do": [{"webhook": {"url": hooks.url, "secret_env": "TEST_HOOK_SECRET"}}],
    }
    config = with_workflows(app_config, by_labels)
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, config, standin.workspace) as bot:
        for service in ("checkout", "payments"):
            status, _ = await post(bot, notification(service))
            assert status == 200

        async def both_recorded() -> list[Incident] | None:
            found = await bot.runtime.incidents.list_open()
            alerted = []
            for incident in found:
                timeline = await bot.runtime.incidents.store.timeline(incident.id)
                if any(e.kind == EventKind.ALERT_RECEIVED for e in timeline):
                    alerted.append(incident)
            return alerted if len(alerted) == 2 else None

        incidents = {i.service: i for i in await eventually(both_recorded, timeout=WAIT)}
        [received] = await eventually(lambda: hooks.received, timeout=WAIT)
        assert received["trigger"] == "alert.received"
        assert received["incident"]["id"] == incidents["payments"].id
        # A later change of the payments incident still knows its alert's labels (from the timeline).
        await bot.runtime.incidents.set_severity(incidents["payments"].id, "SEV2", ALICE)
        await bot.runtime.incidents.set_severity(incidents["checkout"].id, "SEV2", ALICE)
        later = await eventually(lambda: hooks.received[1:], timeout=WAIT)
        assert [(r["trigger"], r["incident"]["id"]) for r in later] == [
            ("severity.changed", incidents["payments"].id)
        ]
        assert await steps(bot, incidents["checkout"]) == []


async def test_stop_on_error_stops_the_run_and_its_retry_runs_the_rest(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock, hooks: Receiver
) -> None:
    hooks.answers = [500]
    strict = {
        "name": "strict",
        "on": "incident.declared",
        "do": [
            {"webhook": {"url": hooks.url, "secret_env": "TEST_HOOK_SECRET", "retries": 0}},
            {"post": {"channel": MANAGEMENT, "template": "team_heads_up"}},
        ],
        "stop_on_error": True,
    }
    async with running_bot(
        bot_settings(database_url, standin), with_workflows(app_config, strict), standin.workspace, clock
    ) as bot:
        incident = await declare(bot, "Strict")
        clock.advance(seconds=2)  # a declare's runs start after its critical path
        await bot.runtime.scheduler.run_due()
        [failed] = await steps(bot, incident)
        assert failed["action"] == "webhook" and not failed["ok"] and heads_ups(bot) == []
        failure = await bot.runtime.incidents.store.last_event(incident.id, EventKind.WORKFLOW_STEP)
        assert failure is not None
        assert await bot.runtime.workflows.retry(incident.id, failure.id, BOB) is True
        assert await bot.runtime.workflows.retry(incident.id, failure.id, BOB) is False  # a double click
        await bot.runtime.scheduler.run_due()
        assert [(s["action"], s["ok"]) for s in await steps(bot, incident)] == [
            ("webhook", False),
            ("webhook", True),
            ("post", True),
        ]
        assert len(heads_ups(bot)) == 1 and len(hooks.received) == 2


async def test_an_auto_resolve_fires_the_same_status_workflow_as_a_person(
    database_url: str, standin: RunningStandin, app_config: AppConfig, hooks: Receiver
) -> None:
    """Alertmanager's resolution moves the incident to `monitoring` (alertmanager.resolved_status): the same
    `status.changed` event as a person's change, so the same workflow."""
    watching = {
        "name": "monitoring",
        "on": "status.changed",
        "if": {"status": "monitoring"},
        "do": [{"webhook": {"url": hooks.url, "secret_env": "TEST_HOOK_SECRET"}}],
    }
    config = with_workflows(app_config, watching)
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, config, standin.workspace) as bot:
        by_hand = await declare(bot, "By hand")
        await bot.runtime.incidents.set_status(by_hand.id, "monitoring", ALICE)
        status, _ = await post(bot, notification("payments"))
        assert status == 200

        async def alert_incident() -> Incident | None:
            found = [i for i in await bot.runtime.incidents.list_open() if i.id != by_hand.id]
            return found[0] if found and found[0].channel_id else None

        automatic = await eventually(alert_incident, timeout=WAIT)
        status, _ = await post(bot, notification("payments", status="resolved"))
        assert status == 200
        received = await eventually(
            lambda: hooks.received if len(hooks.received) == 2 else None, timeout=WAIT
        )
        assert sorted(r["incident"]["id"] for r in received) == sorted([by_hand.id, automatic.id])
        assert all(r["trigger"] == "status.changed" for r in received)
        assert (await bot.incident(automatic.id)).status == "monitoring"


async def test_an_action_that_breaks_is_recorded_and_shown_and_the_others_still_run(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock, hooks: Receiver
) -> None:
    broken = {
        "name": "broken",
        "on": "incident.declared",
        "do": [
            {"post": {"template": "no_such_template"}},  # `workflow validate` says so; the config loads
            {"webhook": {"url": hooks.url, "secret_env": "TEST_HOOK_SECRET"}},
        ],
    }
    async with running_bot(
        bot_settings(database_url, standin), with_workflows(app_config, broken), standin.workspace, clock
    ) as bot:
        incident = await declare(bot, "Broken")
        clock.advance(seconds=2)
        await bot.runtime.scheduler.run_due()
        recorded = await steps(bot, incident)
        assert [(s["action"], s["ok"]) for s in recorded] == [("post", False), ("webhook", True)]
        assert "TemplateNotFound" in recorded[0]["error"]
        texts = [message_text(m) for m in bot.workspace.messages(incident.channel_id or "")]
        assert any("could not post: TemplateNotFound" in t for t in texts), texts
        assert await bot.runtime.scheduler.store.pending(incident.id, RUN) == []


async def test_a_workflow_posts_the_runbook_and_drafts_a_status_page_update_a_person_approves(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    """The runbook's checklist is posted (its steps keep their approvals) and the status page update is
    only asked for: even where the bot could approve it, a person publishes."""
    flow = {
        "name": "sev1-first-steps",
        "on": "incident.declared",
        "if": {"severity": "SEV1"},
        "do": [{"runbook": {"name": "deployment-failure"}}, {"status_page": {"status": "investigating"}}],
    }
    config = with_workflows(app_config, flow)
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace) as bot:
        incident = await declare(bot, "Checkout deploy broke payments", severity={"value": "SEV1"})
        done = await eventually(lambda: _all_of(bot, incident, 2), timeout=WAIT)
        texts = [s["text"].removeprefix("workflow sev1-first-steps: ") for s in done]
        assert texts == [
            "posted runbook deployment-failure ✓",
            "status page draft (investigating) sent for approval ✓",
        ]
        channel = bot.workspace.messages(incident.channel_id or "")
        assert any("runbook_run" in str(m.blocks) or "runbook_done" in str(m.blocks) for m in channel)
        timeline = await bot.runtime.incidents.store.timeline(incident.id)
        kinds = [e.kind for e in timeline]
        assert EventKind.STATUS_PAGE_REQUESTED in kinds and EventKind.STATUS_PAGE_PUBLISHED not in kinds
        assert await eventually(
            lambda: any(
                "approv" in message_text(m).lower() for m in bot.workspace.messages(incident.channel_id or "")
            ),
            timeout=WAIT,
        )


def test_status_page_action_refuses_an_unknown_stage() -> None:
    with pytest.raises(ValueError, match="unknown status 'down'"):
        Workflow.model_validate(
            {"name": "x", "on": "incident.declared", "do": [{"status_page": {"status": "down"}}]}
        )
