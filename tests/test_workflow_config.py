"""Workflows on paper: the section's errors, pure matching, and the `incidentbot workflow` commands."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bot.cli.main import run
from bot.config import AppConfig, ConfigError, load_config
from bot.workflows.match import TRIGGER_OF, Facts, WorkflowIndex, holds
from bot.workflows.settings import TRIGGERS, Conditions, Workflow
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG, BotUnderTest
from tests.test_lifecycle import declare

FACTS = Facts("SEV1", "investigating", "payments", False, {"team": "security", "alertname": "Login"})


def conditions(**raw: Any) -> Conditions:
    return Conditions.model_validate(raw)


def test_conditions_with_any_all_and_not() -> None:
    assert holds(conditions(), FACTS)
    assert holds(conditions(severity=["SEV1", "SEV2"], service="payments", private=False), FACTS)
    assert not holds(conditions(severity="SEV2"), FACTS)
    assert holds(conditions(labels={"team": ["security", "infra"]}), FACTS)
    assert not holds(conditions(labels={"team": "payments"}), FACTS)
    assert not holds(conditions(labels={"missing": "x"}), FACTS)
    assert holds(conditions(any=[{"severity": "SEV3"}, {"status": "investigating"}]), FACTS)
    assert not holds(conditions(all=[{"severity": "SEV1"}, {"private": True}]), FACTS)
    assert holds(conditions(**{"not": {"service": "checkout"}}), FACTS)
    assert not holds(conditions(**{"not": {"any": [{"service": "payments"}]}}), FACTS)


def test_the_index_starts_matching_workflows_and_every_delay_and_knows_what_unless_cancels() -> None:
    workflows = [
        Workflow.model_validate(w)
        for w in yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))["workflows"]
    ]
    index = WorkflowIndex(workflows)
    started = [(s.workflow.name, s.delay is not None) for s in index.scheduled("incident.declared", FACTS)]
    assert started == [("payments-sev1", False), ("security-alerts", False), ("mgmt-after-30m", True)]
    assert [w.name for w in index.cancelled("incident.resolved")] == ["mgmt-after-30m"]
    assert not index.interested("role.assigned")


def test_every_trigger_is_an_event_kind_but_slo_burn_which_is_an_slo_alert() -> None:
    assert sorted([*TRIGGER_OF.values(), "slo.burn"]) == sorted(TRIGGERS)


PAGE = [{"page": {"user": "U1"}}]
BAD = [
    ({"on": "incident.exploded", "do": PAGE}, "unknown trigger"),
    ({"on": "incident.declared", "do": [{"inviet": {}}]}, "unknown action 'inviet'"),
    ({"on": "incident.declared", "do": [{"invite": {}}]}, "invite needs users or a usergroup"),
    ({"on": "incident.declared", "if": {"colour": "red"}, "do": PAGE}, "colour"),
    ({"on": {"after": "soon", "of": "incident.declared"}, "do": PAGE}, "duration"),
    ({"on": "incident.declared", "do": []}, "at least 1"),
]


@pytest.mark.parametrize(("workflow", "said"), BAD)
def test_unknown_triggers_actions_and_keys_are_config_errors(workflow: dict[str, Any], said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        Workflow.model_validate({"name": "a", **workflow})


def test_the_example_config_validates_and_a_bad_reference_fails_the_config(tmp_path: Path) -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert [w.name for w in config.workflows] == ["payments-sev1", "mgmt-after-30m", "security-alerts"]
    assert config.workflows[0].if_.service == ["payments"]  # YAML's bare `on:` is read as the trigger
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "workflows:\n  - name: x\n    on: incident.declared\n"
        "    do: [{assign_role: {role: wizard, user: U1}}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="unknown role 'wizard'"):
        load_config(bad)


def cli(*args: str) -> int:
    return run(["workflow", *args, "--config", str(EXAMPLE_CONFIG)])


def test_validate_exit_codes_and_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("validate") == 0
    assert "examples/incidentbot.yml: 3 workflows, 7 actions, 0 errors" in capsys.readouterr().out
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "ok.yml").write_text(
        "name: ok\non: incident.resolved\ndo: [{post: {template: team_heads_up}}]\n", encoding="utf-8"
    )
    (folder / "bad.yaml").write_text(
        "workflows:\n"
        "  - name: refs\n    on: [incident.declared]\n    if: {severity: SEV9}\n"
        "    do: [{page: {schedule: nobody}}, {email: {audience: aliens}}, {post: {template: nope}}]\n"
        "  - name: ok\n    on: incident.declared\n    do: [{page: {user: U1}}]\n",
        encoding="utf-8",
    )
    assert cli("validate", str(folder)) == 1
    out = capsys.readouterr().out.splitlines()
    errors = [line for line in out if line.startswith("error: ")]
    assert len(errors) == 5, out
    assert any(
        "bad.yaml: workflows[0]: workflow refs: if.severity: unknown severity 'SEV9'" in e for e in errors
    )
    assert any("do[0].page.schedule: unknown schedule 'nobody'" in e for e in errors)
    assert any("do[1].email.audience: unknown audience 'aliens'" in e for e in errors)
    assert any("nope.md.j2: TemplateNotFound" in e for e in errors)
    assert any("'ok' is defined twice" in e for e in errors)
    assert out[-1].endswith("3 workflows, 5 actions, 5 errors")
    assert cli("validate", str(tmp_path / "missing")) == 2
    assert run(["workflow", "validate", "--config", str(tmp_path / "nope.yml")]) == 2


async def test_test_replays_a_past_incident_without_running_anything(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    incident = await declare(bot, "Payments fail", service={"value": "payments"})  # SEV2
    await bot.runtime.incidents.set_severity(incident.id, "SEV1", ALICE)
    await bot.runtime.incidents.resolve(incident.id, "Rolled back", ALICE)
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", bot.runtime.settings.database_url)
    before = len(bot.workspace.calls)

    assert await asyncio.to_thread(cli, "test", "payments-sev1", "--incident", incident.reference) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"workflow payments-sev1 on {incident.reference} (Payments fail) — nothing is run:")
    assert "  incident.declared (event " in out and "): would run:" in out
    assert "    1. invite(users=['U0DAVE0000'], usergroup=S0ONCALL00)" in out
    heads_up = f":mega: *Heads-up from workflow (test):* {incident.reference}"
    assert f"    2. post team_heads_up to <#C0PAYMENTS0>: {heads_up}" in out
    assert (
        "    3. webhook POST http://127.0.0.1:9000/hook (JSON with the incident, signed with $HOOK_SECRET"
        in out
    )

    assert await asyncio.to_thread(cli, "test", "mgmt-after-30m", "--incident", str(incident.id)) == 0
    out = capsys.readouterr().out
    assert "incident.declared + 30m (event " in out and "would not run: cancelled by incident.resolved" in out
    assert len(bot.workspace.calls) == before  # nothing was run

    assert await asyncio.to_thread(cli, "test", "nope", "--incident", "1") == 2
    assert "there is no workflow 'nope'" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, "test", "payments-sev1", "--incident", "INC-999") == 1
    assert await asyncio.to_thread(cli, "test", "payments-sev1", "--incident", "soon") == 2


def test_app_config_keeps_workflows_typed() -> None:
    assert AppConfig().workflows == [] and AppConfig().workflows_dir is None


def test_a_private_incident_reaches_a_webhook_without_its_title_summary_or_service() -> None:
    from datetime import UTC, datetime

    from bot.domain import Incident
    from bot.services.workflow_actions import Context, webhook_payload

    incident = Incident(1, "Leaked keys", "SEV1", "investigating", "Keys on a paste site", "api", True, ALICE,
                        datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    ctx = Context("sec", "workflow:sec:1:2", 0, "incident.declared", 2, datetime(2026, 1, 1, tzinfo=UTC))
    sent = webhook_payload(incident, ctx)["incident"]
    assert sent["private"] is True and sent["severity"] == "SEV1" and sent["reference"] == "INC-1"
    assert "Leaked" not in sent["title"] and "paste" not in sent["summary"] and sent["service"] is None


def test_an_email_action_names_its_audience_and_not_another_template(tmp_path: Path) -> None:
    bad = tmp_path / "mail.yml"
    bad.write_text(
        "name: mail\non: incident.declared\ndo: [{email: {audience: management, template: status_page}}]\n",
        encoding="utf-8",
    )
    assert cli("validate", str(bad)) == 1


def test_validate_reads_workflows_dir_and_the_config_s_own_broken_workflows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    raw["slos"] = []
    raw["workflows"] = [{"name": "inline", "on": "incident.exploded", "do": [{"page": {"user": "U1"}}]}]
    raw["workflows_dir"] = "flows"
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "one.yml").write_text(
        "name: from-dir\non: incident.declared\ndo: [{assign_role: {role: wizard, user: U1}}]\n",
        encoding="utf-8",
    )
    config = tmp_path / "incidentbot.yml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert run(["workflow", "validate", "--config", str(config)]) == 1  # not 2: the findings are the point
    out = capsys.readouterr().out
    assert "workflows[0]: on: unknown trigger 'incident.exploded'" in out
    assert "one.yml: workflow from-dir: do[0].assign_role.role: unknown role 'wizard'" in out
    assert run(["config", "check", "--config", str(config)]) == 2  # the bot would not start with them
