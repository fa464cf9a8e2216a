"""Automatic rollback (issue 19) on the real Prometheus with the synthetic checkout series
(tests/slo_data.py: about 4 % errors in the last hour before `prometheus.at`), a hand-moved clock and the
example config's `rollback.services.checkout` (5xx ratio above 2 % for 5 min, runbook deployment-failure,
step rollback-to-revision, SEV1, verify within 10 min, on-call `primary`).

Armed 70 minutes before the end, the watch breaches 50–55 minutes before it (tests/test_threshold.py), once;
the incident is declared with the measured value on the timeline, the SEV1 rollback step is requested
(and, being dangerous, waits for an approver), and as the error rate stays high, the verification pages
the on-call. A restart between evaluations continues the chain; a window that ends first disarms the watch.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import run as cli
from bot.communication.settings import CommunicationConfig
from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.services.rollback import EVALUATE, VERIFY
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from bot.store import db
from bot.timers import TimerStore
from bot.workflows.settings import Workflow
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG, GENERAL, BotUnderTest, Clock, bot_settings, running_bot
from tests.fixtures_prometheus import RunningPrometheus
from tests.test_alerts import TOKEN
from tests.test_deploys import generic
from tests.test_lifecycle import declare

WAIT = 15.0
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def quiet(config: AppConfig, **rollback: Any) -> AppConfig:
    """No escalation policy nor communication plan: the pages and timers seen here are the watch's."""
    return config.model_copy(
        update={
            "oncall": config.oncall.model_copy(update={"escalation": {}}),
            "communication": CommunicationConfig(),
            "rollback": config.rollback.model_copy(update=rollback),
        }
    )


async def step(bot: BotUnderTest, clock: Clock, until: Any, most: int = 200) -> int:
    """Move the clock by 30 s and fire what is due, until `until()` holds; the number of steps taken."""
    for n in range(most):
        if await until():
            return n
        clock.advance(seconds=30)
        await bot.runtime.scheduler.run_due()
    raise AssertionError("never happened")


async def events(bot: BotUnderTest, incident: Incident, *kinds: EventKind) -> list[Any]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind in kinds]


async def test_a_breach_declares_rolls_back_and_verification_pages_the_on_call_across_a_restart(
    database_url: str, standin: RunningStandin, app_config: AppConfig, prometheus: RunningPrometheus
) -> None:
    threshold_workflow = {
        "name": "on-threshold",
        "on": "threshold",
        "do": [{"action_item": {"text": "Find out why the deploy broke"}}],
    }
    config = quiet(app_config).model_copy(update={"workflows": [Workflow.model_validate(threshold_workflow)]})
    settings = bot_settings(database_url, standin, prometheus_url=prometheus.url)
    start = prometheus.at - timedelta(minutes=70)
    clock = Clock(start)
    async with running_bot(settings, config, standin.workspace, clock) as first:
        said = await first.runtime.rollbacks.arm("checkout", "v42", "41", ALICE)
        assert "Rollback watch armed" in said
        assert "already watched" in await first.runtime.rollbacks.arm("checkout", "v42", "41", ALICE)
        await first.runtime.scheduler.run_due()
        clock.advance(minutes=5)  # the process is down for 5 minutes: the evaluation due is late, not lost
    async with running_bot(settings, config, standin.workspace, clock) as bot:
        await bot.runtime.scheduler.run_due()

        async def open_incidents() -> list[Incident]:
            return await bot.runtime.incidents.list_open()

        await step(bot, clock, open_incidents)
        [incident] = await bot.runtime.incidents.list_open()
        breached_at = clock.at
        assert prometheus.at - timedelta(minutes=55) <= breached_at <= prometheus.at - timedelta(minutes=50)
        assert incident.severity == "SEV1" and incident.service == "checkout"
        [breach] = await events(bot, incident, EventKind.THRESHOLD_BREACHED)
        assert breach.data["above"] == 0.02 and breach.data["value"] > 0.02
        assert f"measured {breach.data['value']:.4g}" in breach.text
        # SEV1: the rollback step is requested with the previous version; it is dangerous, so it waits
        [asked] = await events(bot, incident, EventKind.RUNBOOK_STEP_APPROVAL)
        assert asked.data["step"] == "rollback-to-revision"
        assert asked.data["params"] == {"deployment": "checkout", "namespace": "prod", "revision": "41"}
        [requested] = [
            e for e in await events(bot, incident, EventKind.ROLLBACK) if e.data["phase"] == "requested"
        ]
        assert "approval for dangerous steps still applies" in requested.text
        channel = incident.channel_id or ""
        texts = [message_text(m) for m in bot.workspace.messages(channel)]
        assert any("Threshold breached after checkout v42" in t for t in texts)
        assert any("Automatic rollback (SEV1)" in t for t in texts)
        # the `threshold` trigger ran its workflow
        await bot.runtime.scheduler.run_due()
        steps = await eventually(lambda: _steps(bot, incident), timeout=WAIT)
        assert steps[0]["ok"] is True
        # no further evaluation: the chain stopped, the verification waits verify_within
        assert await bot.runtime.scheduler.store.pending(None, EVALUATE) == []
        [verify] = await bot.runtime.scheduler.store.pending(incident.id, VERIFY)
        assert verify.due_at == breached_at + timedelta(minutes=10)

        async def not_cleared() -> list[Any]:
            return [
                e for e in await events(bot, incident, EventKind.ROLLBACK) if e.data["phase"] == "not_cleared"
            ]

        await step(bot, clock, not_cleared)
        [failed] = await not_cleared()
        assert failed.data["value"] > 0.02 and "paged <@" in failed.text
        [page] = await events(bot, incident, EventKind.PAGE_SENT)
        assert "did not clear its threshold" in page.data["reason"]
        texts = [message_text(m) for m in bot.workspace.messages(channel)]
        assert any("Threshold not cleared after the rollback" in t for t in texts)
        # once: nothing more happens, and one incident
        for _ in range(4):
            clock.advance(minutes=1)
            await bot.runtime.scheduler.run_due()
        assert len(await events(bot, incident, EventKind.THRESHOLD_BREACHED, EventKind.PAGE_SENT)) == 2
        assert len(await bot.runtime.incidents.list_open()) == 1
        # the post-mortem tells what the bot did, with the measured values
        document = await bot.runtime.postmortems.markdown(incident.id)
        assert (
            f"Threshold breached after **checkout v42** (from 41): measured **{breach.data['value']:.4g}**"
            in document
        )
        assert "Rollback requested:" in document and "Rollback did **not** clear the threshold" in document
        assert "Workflow **on-threshold**: added action item #1 ✓\n" in document


async def _steps(bot: BotUnderTest, incident: Incident) -> list[dict[str, Any]] | None:
    found = [e.data for e in await events(bot, incident, EventKind.WORKFLOW_STEP)]
    return found or None


async def test_a_watch_whose_window_ends_first_disarms_without_an_incident(
    database_url: str, standin: RunningStandin, app_config: AppConfig, prometheus: RunningPrometheus
) -> None:
    config = quiet(app_config, window=timedelta(minutes=10))
    settings = bot_settings(database_url, standin, prometheus_url=prometheus.url)
    clock = Clock(prometheus.at - timedelta(minutes=70))
    async with running_bot(settings, config, standin.workspace, clock) as bot:
        attached = await declare(bot, "Deploy of checkout v43")
        await bot.runtime.rollbacks.arm("checkout", "v43", "42", ALICE, attached.id)
        await bot.runtime.scheduler.run_due()

        async def disarmed() -> list[Any]:
            return [
                e for e in await events(bot, attached, EventKind.ROLLBACK) if e.data["phase"] == "disarmed"
            ]

        taken = await step(bot, clock, disarmed)
        assert 19 <= taken <= 21  # 10 minutes of 30 s evaluations
        assert await bot.runtime.scheduler.store.pending(None, EVALUATE) == []
        assert await events(bot, attached, EventKind.THRESHOLD_BREACHED) == []
        assert [i.id for i in await bot.runtime.incidents.list_open()] == [attached.id]
        texts = [message_text(m) for m in bot.workspace.messages(attached.channel_id or "")]
        assert any("rollback watch on checkout v43 disarmed" in t for t in texts)


async def _watching(bot: BotUnderTest, incident_id: int | None) -> list[Any] | None:
    pending = await bot.runtime.scheduler.store.pending(incident_id, EVALUATE)
    return [t for t in pending if t.incident_id == incident_id] or None


async def test_rollback_watch_slash_command(
    database_url: str, standin: RunningStandin, app_config: AppConfig, prometheus: RunningPrometheus
) -> None:
    settings = bot_settings(database_url, standin, prometheus_url=prometheus.url)
    clock = Clock(prometheus.at - timedelta(minutes=70))
    async with running_bot(settings, quiet(app_config), standin.workspace, clock) as bot:

        async def answer(channel: str, text: str) -> str:
            before = len(bot.workspace.ephemerals.get((channel, ALICE)) or [])
            response = await bot.driver.slash(ALICE, channel, text)
            assert response.status == 200
            shown = await eventually(
                lambda: (bot.workspace.ephemerals.get((channel, ALICE)) or [])[before:] or None, timeout=WAIT
            )
            return str(shown[-1].text)

        assert "Usage: `/incident rollback-watch" in await answer(GENERAL, "rollback-watch checkout")
        assert "No rollback watch for service 'payments'" in await answer(
            GENERAL, "rollback-watch payments v1 v0"
        )
        assert "Give the previous version too" in await answer(GENERAL, "rollback-watch checkout v42")
        assert "Rollback watch armed" in await answer(GENERAL, "rollback-watch checkout v42 41")
        # the first evaluation is due at once (the running worker may already have taken it)
        [timer] = await eventually(lambda: _watching(bot, None), timeout=WAIT)
        assert (timer.key or "").startswith("rollback:checkout:v42:") and timer.incident_id is None
        incident = await declare(bot, "Deploy of checkout v44")
        channel = incident.channel_id or ""
        assert "Rollback watch armed" in await answer(channel, "rollback-watch checkout v44 43")
        [attached] = await eventually(lambda: _watching(bot, incident.id), timeout=WAIT)
        assert attached.payload["previous"] == "43"
        [armed] = await events(bot, incident, EventKind.ROLLBACK)
        assert armed.data["phase"] == "armed" and armed.actor == ALICE


async def test_a_sev2_breach_asks_the_ic_and_a_rollback_that_clears_is_verified(
    database_url: str, standin: RunningStandin, app_config: AppConfig, prometheus: RunningPrometheus
) -> None:
    """The 6 h–5 h burst (0.5–1 %) on a 0.3 % threshold held 10 minutes: SEV2 posts the runbook and asks
    the Incident Commander; the burst is over 75 minutes later, so the verification finds it cleared."""
    checkout = app_config.rollback.services["checkout"]
    threshold = checkout.thresholds[0].model_copy(
        update={"above": 0.003, "hold": timedelta(minutes=10), "every": timedelta(minutes=1)}
    )
    watch = checkout.model_copy(
        update={"thresholds": [threshold], "severity": "SEV2", "verify_within": timedelta(minutes=75)}
    )
    config = quiet(app_config, window=timedelta(hours=1), services={"checkout": watch})
    settings = bot_settings(database_url, standin, prometheus_url=prometheus.url)
    clock = Clock(prometheus.at - timedelta(hours=6, minutes=15))
    async with running_bot(settings, config, standin.workspace, clock) as bot:
        await bot.runtime.rollbacks.arm("checkout", "v40", "39", ALICE)
        await bot.runtime.scheduler.run_due()

        async def open_incidents() -> list[Incident]:
            return await bot.runtime.incidents.list_open()

        await step(bot, clock, open_incidents, most=400)
        [incident] = await bot.runtime.incidents.list_open()
        assert incident.severity == "SEV2"
        [breach] = await events(bot, incident, EventKind.THRESHOLD_BREACHED)
        assert 0.003 < breach.data["value"] < 0.02
        [asked] = [e for e in await events(bot, incident, EventKind.ROLLBACK) if e.data["phase"] == "asked"]
        assert "please run `rollback-to-revision`" in asked.text and "revision=39" in asked.text
        assert len(await events(bot, incident, EventKind.RUNBOOK_POSTED)) == 1
        assert await events(bot, incident, EventKind.RUNBOOK_STEP_APPROVAL, EventKind.RUNBOOK_STEP_RUN) == []

        async def verified() -> list[Any]:
            return [
                e for e in await events(bot, incident, EventKind.ROLLBACK) if e.data["phase"] == "verified"
            ]

        await step(bot, clock, verified, most=400)
        [done] = await verified()
        assert done.data["value"] <= 0.003
        assert await events(bot, incident, EventKind.PAGE_SENT) == []
        texts = [message_text(m) for m in bot.workspace.messages(incident.channel_id or "")]
        assert any("Rollback verified" in t for t in texts)


def test_rollback_config_references_and_the_rollback_action_are_checked(app_config: AppConfig) -> None:
    section = app_config.rollback
    steps = {"deployment-failure": {"rollback-to-revision": ["deployment", "namespace", "revision"]}}
    assert section.problems(["SEV1", "SEV2"], ["checkout"], ["primary"], steps) == []
    found = section.problems(["SEV1", "SEV2"], ["payments"], ["secondary"], {"database-down": {}})
    assert any("unknown service 'checkout'" in p for p in found)
    assert any("unknown schedule 'primary'" in p for p in found)
    assert any("unknown runbook 'deployment-failure'" in p for p in found)
    renamed = {"deployment-failure": {"rollback-to-revision": ["deployment", "namespace", "rev"]}}
    [wrong] = section.problems(["SEV1", "SEV2"], ["checkout"], ["primary"], renamed)
    assert "no parameter 'revision'" in wrong
    workflow = Workflow.model_validate(
        {"name": "rb", "on": "threshold", "do": [{"rollback": {"previous": "41"}}]}
    )
    assert workflow.do[0].describe() == "rollback(previous=41)"


def test_the_cli_arms_a_watch_once_for_the_serving_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.delenv("INCIDENTBOT_PROMETHEUS_URL", raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    sources = ["--database-url", url]
    assert cli(["db", "upgrade", *sources]) == 0
    assert cli(["rollback-watch", "checkout", "v42", "41", *sources]) == 2
    assert "Prometheus is not configured" in capsys.readouterr().err
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_URL", "http://127.0.0.1:9")
    assert cli(["rollback-watch", "payments", "v1", "v0", *sources]) == 2
    assert "No rollback watch for service 'payments'" in capsys.readouterr().err
    assert cli(["rollback-watch", "checkout", "v42", "41", "--incident", "INC-7", *sources]) == 2
    assert "there is no incident INC-7" in capsys.readouterr().err
    assert cli(["rollback-watch", "checkout", "v42", "41", *sources]) == 0
    assert (
        "Rollback watch armed: watching checkout v42 for 30 min (rollback to 41)" in capsys.readouterr().out
    )
    assert cli(["rollback-watch", "checkout", "v42", "41", *sources]) == 1
    assert "checkout v42 is already watched" in capsys.readouterr().out

    async def pending() -> list[Any]:
        engine = db.make_engine(url)
        try:
            return await TimerStore(db.make_sessionmaker(engine)).pending(None, EVALUATE)
        finally:
            await engine.dispose()

    [timer] = asyncio.run(pending())
    assert timer.key == "rollback:checkout:v42:0" and timer.payload["previous"] == "41"


async def test_the_rollback_workflow_action_applies_the_policy_to_the_incidents_service(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    """A SEV2 checkout incident with a workflow `rollback: {previous: "41"}`: the runbook is posted and the
    Incident Commander asked to run the step, recorded as the workflow's step."""
    workflow = {"name": "roll-back", "on": "incident.declared", "if": {"service": "checkout"}}
    workflow["do"] = [{"rollback": {"previous": "41"}}]
    config = quiet(app_config).model_copy(update={"workflows": [Workflow.model_validate(workflow)]})
    clock = Clock(T0)
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        incident = await declare(bot, "Checkout errors after v42")
        clock.advance(seconds=5)
        await bot.runtime.scheduler.run_due()
        [ran] = await eventually(lambda: _steps(bot, incident), timeout=WAIT)
        assert ran["ok"] is True and ran["action"] == "rollback"
        [asked] = [e for e in await events(bot, incident, EventKind.ROLLBACK) if e.data["phase"] == "asked"]
        assert f"<@{ALICE}>" in asked.text and "revision=41" in asked.text
        assert len(await events(bot, incident, EventKind.RUNBOOK_POSTED)) == 1


def test_the_default_policy_does_not_require_sev1_and_sev2_but_a_given_one_is_checked() -> None:
    """A team with its own severities (P1, P2) and no rollback section must still load: the default
    policy's SEV1/SEV2 are not theirs. A policy they write is checked against their severities."""
    severities = [
        {"id": "P1", "name": "Fire", "description": "All hands", "response_target": "5m"},
        {"id": "P2", "name": "Smoke", "description": "Some", "response_target": "1h"},
    ]
    AppConfig.model_validate({"severities": severities})
    with pytest.raises(ValueError, match=r"rollback.automatic: unknown severity 'SEV1'"):
        AppConfig.model_validate({"severities": severities, "rollback": {"automatic": ["SEV1"]}})


async def _canary(bot: BotUnderTest, clock: Clock, percent: int, status: str = "in_progress") -> None:
    """The pipeline reports a stage of checkout 43 (one deploy: its id), over the deployments webhook."""
    body = {
        "service": "checkout",
        "version": "43",
        "id": "run-43",
        "status": status,
        "canary_percent": percent,
    }
    assert (await generic(bot, body, TOKEN))[0] == 200
    await bot.runtime.scheduler.run_due()


async def _deployed_42(bot: BotUnderTest, clock: Clock) -> None:
    at = (clock.at - timedelta(days=1)).isoformat()
    assert (await generic(bot, {"service": "checkout", "version": "42", "deployed_at": at}, TOKEN))[0] == 200
    await bot.runtime.scheduler.run_due()


async def test_a_canary_is_gated_at_each_stage_for_a_whole_window(
    database_url: str, standin: RunningStandin, app_config: AppConfig, prometheus: RunningPrometheus
) -> None:
    config = quiet(app_config, window=timedelta(minutes=10))
    settings = bot_settings(database_url, standin, prometheus_url=prometheus.url, webhook_token=TOKEN)
    clock = Clock(prometheus.at - timedelta(minutes=100))  # the error burst starts an hour before the end
    async with running_bot(settings, config, standin.workspace, clock) as bot:
        await _deployed_42(bot, clock)
        assert await _watching(bot, None) is None  # a finished deploy from a day ago arms nothing now…
        await _canary(bot, clock, 10)
        [first] = await bot.runtime.scheduler.store.pending(None, EVALUATE)
        assert first.payload["previous"] == "42"  # …but it is what the canary rolls back to

        async def unwatched() -> bool:
            return await _watching(bot, None) is None

        for _ in range(12):  # 6 minutes at 10 %
            clock.advance(seconds=30)
            await bot.runtime.scheduler.run_due()
        await _canary(bot, clock, 25)
        assert await _watching(bot, None)
        taken = await step(bot, clock, unwatched)
        assert 19 <= taken <= 21  # a whole window from the 25 % stage (6 + 10 min, not 10)
        assert await bot.runtime.incidents.list_open() == []


async def test_a_breach_at_a_canary_stage_rolls_back_to_the_version_before(
    database_url: str, standin: RunningStandin, app_config: AppConfig, prometheus: RunningPrometheus
) -> None:
    settings = bot_settings(database_url, standin, prometheus_url=prometheus.url, webhook_token=TOKEN)
    clock = Clock(prometheus.at - timedelta(minutes=70))
    async with running_bot(settings, quiet(app_config), standin.workspace, clock) as bot:
        await _deployed_42(bot, clock)
        await _canary(bot, clock, 10)

        async def declared() -> list[Incident]:
            return await bot.runtime.incidents.list_open()

        await step(bot, clock, declared)
        [incident] = await bot.runtime.incidents.list_open()
        [breach] = await events(bot, incident, EventKind.THRESHOLD_BREACHED)
        assert breach.data["canary_percent"] == 10 and "checkout 43 at canary 10 %" in breach.text
        [asked] = await events(bot, incident, EventKind.RUNBOOK_STEP_APPROVAL)
        assert asked.data["params"]["revision"] == "42"
