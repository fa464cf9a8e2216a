"""Runbook files: the examples load and validate, every kind of mistake is reported as `file: field: reason`,
and `incidentbot runbook validate | run --dry-run` behave as documented (0 ok, 1 check failed, 2 usage)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import run
from bot.runbooks.files import RunbookError, configured_runbooks, load_runbooks, validate
from bot.runbooks.params import preview
from bot.runbooks.schema import SECTIONS, Param, Runbook, Step
from bot.runbooks.settings import RunbooksConfig
from bot.slo.prometheus import PrometheusClient, PrometheusQueryError
from tests.fixtures_prometheus import RunningPrometheus

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "runbooks"
SCENARIOS = {
    "service-not-responding",
    "high-error-rate",
    "high-latency",
    "database-down",
    "cache-connection-issues",
    "circuit-breaker-open",
    "disk-space-critical",
    "deployment-failure",
}
CHANGING_VERBS = ("restart", "undo", "scale", "failover", "--vacuum", "pg_terminate_backend", "POST")
REVIEWED = date(2026, 11, 1)


def minimal(**overrides: Any) -> dict[str, Any]:
    """A valid runbook document with one step of each kind; tests break one thing at a time."""
    document: dict[str, Any] = {
        "name": "sample",
        "title": "Sample runbook",
        "owner": "team-sre",
        "last_reviewed": REVIEWED.isoformat(),
        "alerts": ["HighErrorRate"],
        "services": ["checkout"],
        "links": ["https://runbooks.example.org/sample"],
        "sections": {
            "immediate": [
                {
                    "id": "ratio",
                    "kind": "check",
                    "title": "Error ratio",
                    "query": 'sum(rate(http_requests_total{code="500"}[5m]))',
                    "condition": "< 0.05",
                },
                {"id": "health", "kind": "http", "title": "Health", "url": "http://127.0.0.1:9/healthz"},
                {
                    "id": "drain",
                    "kind": "http",
                    "title": "Drain",
                    "url": "http://127.0.0.1:9/drain",
                    "method": "POST",
                    "body": '{"node": "db-2"}',
                },
            ],
            "investigation": [
                {
                    "id": "disk",
                    "kind": "command",
                    "title": "Disk usage",
                    "command": ["df", "-h", "--", "{path}"],
                    "params": {"path": {"pattern": "/[a-z/]*", "default": "/"}},
                }
            ],
            "communication": [{"id": "tell", "kind": "manual", "title": "Tell the customers"}],
        },
    }
    document.update(overrides)
    return document


def write(directory: Path, name: str, document: Any) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def step_of(document: dict[str, Any], section: str, index: int) -> dict[str, Any]:
    step: dict[str, Any] = document["sections"][section][index]
    return step


# --- the examples ---------------------------------------------------------------------------------


def test_every_example_loads_and_validates_on_this_machine() -> None:
    runbooks = load_runbooks(EXAMPLES)
    assert set(runbooks) == SCENARIOS
    newest = max(r.last_reviewed for r in runbooks.values())
    report = validate(EXAMPLES, newest, 180, secret_env=[])
    assert report.errors == []
    assert report.warnings == []
    assert set(report.runbooks) == SCENARIOS
    for runbook in runbooks.values():
        assert runbook.source.startswith(str(EXAMPLES))
        for section in SECTIONS:
            assert runbook.sections.get(section), f"{runbook.name}: section {section} is empty"
        assert runbook.alerts and runbook.services and runbook.links


def test_examples_mix_every_kind_and_mark_every_change_dangerous() -> None:
    runbooks = load_runbooks(EXAMPLES)
    kinds = {step.kind for r in runbooks.values() for _, step in r.steps()}
    assert kinds == {"check", "http", "command", "manual"}
    for runbook in runbooks.values():
        assert {step.kind for _, step in runbook.steps()} >= {"check", "command", "manual"}, runbook.name
        for _, step in runbook.steps():
            if step.kind != "command":
                continue
            text = " ".join(step.command)
            if any(verb in text for verb in CHANGING_VERBS):
                assert step.dangerous, f"{runbook.name}/{step.id} changes something: {text}"
            for name, param in step.params.items():
                assert param.type != "string" or param.pattern, f"{runbook.name}/{step.id}: {name}"


def test_examples_cover_the_configured_services_and_alerts() -> None:
    runbooks = load_runbooks(EXAMPLES)
    config = yaml.safe_load((ROOT / "examples" / "incidentbot.yml").read_text(encoding="utf-8"))
    services = {s["id"] for s in config["services"]}
    listed = {s for r in runbooks.values() for s in r.services}
    assert listed == services
    matching = {name for name, r in runbooks.items() if r.matches(None, ["HighErrorRate"])}
    assert matching == {"high-error-rate"}
    assert runbooks["database-down"].matches("database", [])
    assert not runbooks["database-down"].matches("checkout", ["HighLatency"])
    assert runbooks["high-latency"].matches(None, ["PmsResponseTimeP95SLOPageBurn"])


def test_example_check_queries_are_valid_promql(prometheus: RunningPrometheus) -> None:
    """Prometheus itself parses and runs every example query (no data is fine, a rejected query is not)."""
    checks = [
        (r.name, step)
        for r in load_runbooks(EXAMPLES).values()
        for _, step in r.steps()
        if step.kind == "check"
    ]
    assert len(checks) > 20

    async def ask_all() -> list[str]:
        client = PrometheusClient(prometheus.url, timeout=10)
        failures = []
        try:
            for name, step in checks:
                assert step.query
                try:
                    await client.query(step.query, prometheus.at)
                except PrometheusQueryError as exc:
                    failures.append(f"{name}/{step.id}: {exc}")
        finally:
            client.close()
        return failures

    assert asyncio.run(ask_all()) == []


def test_the_validate_console_script_passes_on_the_examples() -> None:
    script = shutil.which("incidentbot", path=str(Path(sys.executable).parent)) or shutil.which("incidentbot")
    assert script, "the incidentbot console script is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTBOT_")}
    done = subprocess.run(
        [script, "runbook", "validate", "examples/runbooks", "--config", "examples/incidentbot.yml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 runbooks" in done.stdout and "0 errors" in done.stdout


# --- the model ------------------------------------------------------------------------------------


def test_steps_come_in_section_order_with_defaults_per_kind() -> None:
    document = minimal()
    document["sections"] = {
        "communication": document["sections"]["communication"],
        "investigation": document["sections"]["investigation"],
        "immediate": document["sections"]["immediate"],
    }
    runbook = Runbook.model_validate(document)
    assert [(s, step.id) for s, step in runbook.steps()] == [
        ("immediate", "ratio"),
        ("immediate", "health"),
        ("immediate", "drain"),
        ("investigation", "disk"),
        ("communication", "tell"),
    ]
    assert runbook.step("disk") is not None and runbook.step("nope") is None
    timeouts = {step.id: step.timeout for _, step in runbook.steps()}
    assert timeouts["ratio"] == timeouts["health"] == timedelta(seconds=10)
    assert timeouts["disk"] == timedelta(seconds=60)
    custom = Step(id="x", kind="command", title="x", command=["true"], timeout="5m")
    assert custom.timeout == timedelta(minutes=5)
    assert RunbooksConfig().max_output_bytes == 1_000_000


def test_runbooks_survive_a_dump_and_validate_round_trip() -> None:
    for runbook in load_runbooks(EXAMPLES).values():
        again = Runbook.model_validate(runbook.model_dump())
        assert again.model_dump() == runbook.model_dump()


def test_a_string_param_needs_a_pattern_in_code_too() -> None:
    with pytest.raises(ValueError, match="pattern: is required for string parameters"):
        Param()
    assert Param(type="enum", choices=["a", "b"]).choices == ["a", "b"]
    assert Param(type="int").type == "int"


# --- every mistake: file, field, reason -----------------------------------------------------------

Case = tuple[str, Any, str, str]


def _cases() -> list[Case]:
    cases: list[Case] = []

    def case(name: str, document: Any, field: str, reason: str) -> None:
        cases.append((name, document, field, reason))

    doc = minimal()
    step_of(doc, "immediate", 0)["kind"] = "shell"
    case("unknown kind", doc, "sections.immediate[0].kind", "input should be 'check', 'http', 'command' or")

    doc = minimal()
    del step_of(doc, "immediate", 1)["url"]
    case("http without url", doc, "sections.immediate[1].url", "is required for http steps")

    doc = minimal()
    step_of(doc, "immediate", 0)["command"] = ["ls"]
    case("field of another kind", doc, "sections.immediate[0].command", "is not used by check steps")

    doc = minimal()
    step_of(doc, "immediate", 0)["condition"] = "about 5 %"
    case("bad condition", doc, "sections.immediate[0].condition", "must be a comparison operator")

    doc = minimal()
    step_of(doc, "investigation", 0)["params"]["path"] = {"default": "/"}
    case(
        "string param without pattern",
        doc,
        "sections.investigation[0].params.path.pattern",
        "is required for string parameters",
    )

    doc = minimal()
    step_of(doc, "investigation", 0)["params"]["path"]["pattern"] = "(unclosed"
    case("bad regex", doc, "sections.investigation[0].params.path.pattern", "not a valid regular expression")

    doc = minimal()
    step_of(doc, "investigation", 0)["params"]["path"]["default"] = "relative"
    case("bad default", doc, "sections.investigation[0].params.path.default", "does not match the allowed")

    doc = minimal()
    step_of(doc, "investigation", 0)["command"] = ["df", "{path}", "{mount}"]
    case("undeclared placeholder", doc, "sections.investigation[0].command[2]", "{mount} names no declared")

    doc = minimal()
    step_of(doc, "investigation", 0)["params"]["unused"] = {"type": "int"}
    case("unused param", doc, "sections.investigation[0].params.unused", "is declared but not used")

    doc = minimal()
    step_of(doc, "investigation", 0)["command"] = ["{path}", "-h"]
    case("placeholder in argv[0]", doc, "sections.investigation[0].command[0]", "the program is fixed text")

    doc = minimal()
    step_of(doc, "investigation", 0)["env_passthrough"] = ["SLACK_BOT_TOKEN"]
    case("bot credential", doc, "sections.investigation[0].env_passthrough[0]", "the bot's own settings")

    doc = minimal()
    step_of(doc, "investigation", 0)["env"] = {"INCIDENTBOT_WEBHOOK_TOKEN": "x"}
    case("bot setting in env", doc, "sections.investigation[0].env.INCIDENTBOT_WEBHOOK_TOKEN", "own settings")

    doc = minimal()
    step_of(doc, "investigation", 0)["timeout"] = "2h"
    case("timeout too long", doc, "sections.investigation[0].timeout", "at most 1 h")

    doc = minimal()
    step_of(doc, "communication", 0)["timeout"] = "5m"
    case("timeout on a manual step", doc, "sections.communication[0].timeout", "is not used by manual steps")

    doc = minimal()
    step_of(doc, "immediate", 0)["qurey"] = "up"
    case("typo", doc, "sections.immediate[0].qurey", "unknown field (check the spelling)")

    doc = minimal(links=["runbooks.example.org/x"])
    case("relative link", doc, "links[0]", "must be an absolute http:// or https:// URL")

    doc = minimal(links=["ftp://files.example.org/runbook"])
    case("ftp link", doc, "links[0]", "must be an absolute http:// or https:// URL")

    doc = minimal()
    step_of(doc, "communication", 0)["id"] = "ratio"
    case("duplicate step id", doc, "sections.communication[0].id", "duplicate step id 'ratio'")

    doc = minimal()
    doc["sections"]["mitigation"] = doc["sections"].pop("communication")
    case("unknown section", doc, "sections.mitigation", "unknown section; use immediate, investigation")

    doc = minimal(sections={"immediate": []})
    case("no steps", doc, "sections", "a runbook needs at least one step")

    doc = minimal(name="Not A Slug")
    case("name not a slug", doc, "name", "must be a slug")

    doc = minimal()
    del doc["last_reviewed"]
    case("missing review date", doc, "last_reviewed", "required field is missing")

    doc = minimal()
    step_of(doc, "immediate", 1)["url"] = "healthz"
    case("relative http url", doc, "sections.immediate[1].url", "absolute http:// or https:// URL")

    case("invalid yaml", "name: [unclosed\n", "line 2, column 1", "not valid YAML")
    return cases


CASES = _cases()


@pytest.mark.parametrize(("label", "document", "field", "reason"), CASES, ids=[c[0] for c in CASES])
def test_each_mistake_is_reported_with_file_field_and_reason(
    tmp_path: Path, label: str, document: Any, field: str, reason: str
) -> None:
    path = write(tmp_path, "bad.yml", document)
    with pytest.raises(RunbookError) as caught:
        load_runbooks(tmp_path)
    expected = f"{path}: {field}: "
    assert any(p.startswith(expected) and reason in p for p in caught.value.problems), caught.value.problems
    report = validate(tmp_path, REVIEWED, 180)
    assert any(p.startswith(expected) and reason in p for p in report.errors), report.errors


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    first = minimal()
    step_of(first, "immediate", 0)["condition"] = "big"
    del step_of(first, "immediate", 1)["url"]
    write(tmp_path, "a.yml", first)
    write(tmp_path, "b.yml", minimal(links=["nope"]))
    with pytest.raises(RunbookError) as caught:
        load_runbooks(tmp_path)
    problems = caught.value.problems
    assert len(problems) == 3, problems
    assert str(tmp_path / "a.yml") in problems[0] and str(tmp_path / "b.yml") in problems[2]
    assert "3 problem(s) in runbooks" in str(caught.value)


def test_duplicate_names_across_files_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", minimal())
    second = write(tmp_path, "team/b.yaml", minimal())
    report = validate(tmp_path, REVIEWED, 180)
    assert report.errors == [
        f"{second}: name: duplicate runbook name 'sample' (also in {tmp_path / 'a.yml'})"
    ]


def test_programs_missing_or_not_executable_on_this_machine_are_errors(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    doc = minimal()
    step_of(doc, "investigation", 0)["command"] = ["no-such-program-incidentbot", "{path}"]
    write(runbooks, "a.yml", doc)
    plain = tmp_path / "script.sh"
    plain.write_text("#!/bin/sh\necho hi\n")
    plain.chmod(0o644)
    doc = minimal(name="other")
    step_of(doc, "investigation", 0)["command"] = [str(plain), "{path}"]
    write(runbooks, "b.yml", doc)
    report = validate(runbooks, REVIEWED, 180)
    assert report.errors == [
        f"{runbooks / 'a.yml'}: sections.investigation[0].command[0]: 'no-such-program-incidentbot' "
        "is not found on PATH on this machine",
        f"{runbooks / 'b.yml'}: sections.investigation[0].command[0]: '{plain}' is not executable "
        "on this machine",
    ]
    # on another machine (`which` says where), the same files pass: load_runbooks never looks at PATH
    assert validate(runbooks, REVIEWED, 180, which=lambda program: "/usr/bin/x").errors == []
    assert set(load_runbooks(runbooks)) == {"sample", "other"}


def test_a_stale_review_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yml", minimal(last_reviewed="2025-01-10"))
    report = validate(tmp_path, date(2026, 1, 1), 180)
    assert report.errors == []
    assert report.warnings == [
        f"{path}: last_reviewed: 2025-01-10 is 356 days ago (more than 180): walk through the runbook "
        "and update the date"
    ]
    assert validate(tmp_path, date(2026, 1, 1), 400).warnings == []
    future = validate(tmp_path, date(2024, 12, 1), 180)
    assert future.errors == [f"{path}: last_reviewed: 2025-01-10 is in the future"]


def test_credential_passthrough_must_be_a_redacted_secret(tmp_path: Path) -> None:
    doc = minimal()
    step_of(doc, "investigation", 0)["env_passthrough"] = ["KUBECONFIG", "REDISCLI_AUTH"]
    path = write(tmp_path, "a.yml", doc)
    report = validate(tmp_path, REVIEWED, 180, secret_env=["OTHER"])
    assert report.errors == [
        f"{path}: sections.investigation[0].env_passthrough[1]: REDISCLI_AUTH looks like a credential: list "
        "it in runbooks.secret_env so its value is redacted from the output (steps that pass it are refused "
        "until then)"
    ]
    assert validate(tmp_path, REVIEWED, 180, secret_env=["REDISCLI_AUTH"]).errors == []
    step_of(doc, "investigation", 0)["env"] = {"API_TOKEN": "abc123"}
    write(tmp_path, "a.yml", doc)
    report = validate(tmp_path, REVIEWED, 180, secret_env=["REDISCLI_AUTH"])
    assert report.errors == [
        f"{path}: sections.investigation[0].env.API_TOKEN: API_TOKEN looks like a credential: list it in "
        "runbooks.secret_env so its value is redacted from the output (steps that pass it are refused until "
        "then)"
    ]
    report = validate(tmp_path, REVIEWED, 180, secret_env=["REDISCLI_AUTH", "API_TOKEN"])
    assert report.errors == []
    assert report.warnings == [
        f"{path}: sections.investigation[0].env.API_TOKEN: API_TOKEN looks like a credential committed with "
        "the runbook; prefer passing it from the bot's environment with env_passthrough"
    ]


def test_configured_directory_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config_path = tmp_path / "conf" / "incidentbot.yml"
    assert configured_runbooks(RunbooksConfig(), config_path) == {}  # no directory: no runbooks
    write(tmp_path / "conf" / "runbooks", "a.yml", minimal())
    assert set(configured_runbooks(RunbooksConfig(), config_path)) == {"sample"}
    elsewhere = RunbooksConfig(directory=tmp_path / "conf" / "runbooks")
    assert set(configured_runbooks(elsewhere, tmp_path / "x.yml")) == {"sample"}
    write(tmp_path / "conf" / "runbooks", "b.yml", "name: [\n")
    with pytest.raises(RunbookError):
        configured_runbooks(RunbooksConfig(), config_path)


def test_hidden_and_non_yaml_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", minimal())
    write(tmp_path, ".drafts/b.yml", "broken: [")
    write(tmp_path, "README.md", "# notes")
    assert set(load_runbooks(tmp_path)) == {"sample"}


# --- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file whose default runbooks directory (`runbooks/` next to it) holds the sample runbook."""
    config = tmp_path / "incidentbot.yml"
    config.write_text("timezone: UTC\n", encoding="utf-8")
    write(tmp_path / "runbooks", "sample.yml", minimal())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(config))
    monkeypatch.delenv("INCIDENTBOT_PROMETHEUS_URL", raising=False)
    return tmp_path


def test_cli_validate_good_bad_and_missing_directories(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["runbook", "validate", "--max-age-days", "100000"]) == 0
    out = capsys.readouterr().out
    assert f"{config_dir / 'runbooks'}: 1 runbooks, 5 steps, 0 errors, 0 warnings" in out

    assert run(["runbook", "validate", str(EXAMPLES), "--max-age-days", "100000"]) == 0
    assert "8 runbooks" in capsys.readouterr().out

    bad = minimal()
    step_of(bad, "immediate", 0)["condition"] = "soon"
    path = write(config_dir / "bad", "bad.yml", bad)
    assert run(["runbook", "validate", "bad"]) == 1
    out = capsys.readouterr().out
    assert "error: bad/bad.yml: sections.immediate[0].condition: must be a comparison operator" in out
    assert path.exists()

    assert run(["runbook", "validate", "nowhere"]) == 2
    assert "nothing to validate: nowhere is not a directory" in capsys.readouterr().err
    assert run(["runbook", "validate", "--max-age-days", "0"]) == 2


def test_cli_validate_warns_about_stale_reviews_and_checks_the_config(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["runbook", "validate", "--max-age-days", "1"]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "last_reviewed: 2026-11-01 is" in out and "1 warnings" in out
    write(config_dir / "runbooks", "sample.yml", minimal(severity="SEV9"))
    assert run(["runbook", "validate", "--max-age-days", "100000"]) == 1
    assert "severity: 'SEV9' is not a configured severity (SEV1, SEV2, SEV3, SEV4)" in capsys.readouterr().out


def test_cli_dry_run_prints_exactly_what_each_step_would_run(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["runbook", "run", "sample", "--dry-run", "--param", "path=/var/log"]) == 0
    out = capsys.readouterr().out
    order = [
        "[immediate] check ratio: Error ratio",
        '    query: sum(rate(http_requests_total{code="500"}[5m]))',
        "    passes when: value < 0.05 · timeout 10 s",
        "[immediate] http health: Health",
        "    GET http://127.0.0.1:9/healthz",
        "    expect HTTP 200 · redirects not followed · timeout 10 s",
        "[immediate] http drain: Drain",
        "    POST http://127.0.0.1:9/drain",
        """    body (16 bytes): '{"node": "db-2"}'""",
        "[investigation] command disk: Disk usage",
        "    $ df -h -- /var/log",
        "[communication] manual tell: Tell the customers",
        "    manual: Tell the customers",
    ]
    positions = [out.index(line) for line in order]
    assert positions == sorted(positions)
    assert "Dry run: nothing is executed" in out
    # defaults apply when a parameter is not given
    assert run(["runbook", "run", "sample", "--dry-run"]) == 0
    assert "    $ df -h -- /\n" in capsys.readouterr().out


def test_cli_dry_run_param_errors_exit_2_with_the_message(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["runbook", "run", "sample", "--dry-run", "--param", "path=/tmp; rm -rf /"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        "error: step disk (investigation): parameter path: does not match the allowed pattern" in captured.err
    )
    assert run(["runbook", "run", "sample", "--dry-run", "--param", "nope=1"]) == 2
    assert "--param nope: no step of sample takes it (parameters: path)" in capsys.readouterr().err
    assert run(["runbook", "run", "sample", "--dry-run", "--param", "broken"]) == 2
    assert run(["runbook", "run", "missing", "--dry-run"]) == 2
    assert "no runbook named 'missing'" in capsys.readouterr().err


def test_cli_run_without_dry_run_refuses_and_executes_nothing(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = config_dir / "ran"
    doc = minimal()
    step_of(doc, "investigation", 0).update(
        command=["touch", "{path}"], params={"path": {"pattern": "/.*", "default": str(marker)}}
    )
    write(config_dir / "runbooks", "sample.yml", doc)
    assert run(["runbook", "run", "sample"]) == 2
    err = capsys.readouterr().err
    assert "run from Slack, in the incident's channel, where every run is recorded" in err
    assert "--dry-run" in err
    assert run(["runbook", "run", "sample", "--dry-run"]) == 0
    assert f"    $ touch {marker}" in capsys.readouterr().out
    assert not marker.exists()


def test_dry_run_preview_of_examples(capsys: pytest.CaptureFixture[str]) -> None:
    runbook = load_runbooks(EXAMPLES)["deployment-failure"]
    step = runbook.step("rollback-to-revision")
    assert step is not None
    assert preview(step) == (
        "kubectl rollout undo 'deployment/<deployment>' --namespace '<namespace>' '--to-revision=<revision>'"
    )
    assert preview(step, {"deployment": "checkout", "revision": "7"}) == (
        "kubectl rollout undo deployment/checkout --namespace prod --to-revision=7"
    )
