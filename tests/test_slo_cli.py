"""`incidentbot slo report | gate | rules` and `config check` on SLOs, run as a user runs them.

Each case calls the CLI entry point with arguments and environment only, against the real Prometheus
fixture; `--at` pins the evaluation to the end of the synthetic data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.cli import run
from tests.fixtures_prometheus import RunningPrometheus
from tests.processes import refusing_port
from tests.test_slo_slack import SPECS

MONTH = timedelta(days=30)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose `slos:` names a spec file next to it, as users lay it out."""
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "shop.yml").write_text(SPECS, encoding="utf-8")
    config = tmp_path / "incidentbot.yml"
    config.write_text("slos: [slos]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(config))
    monkeypatch.delenv("INCIDENTBOT_PROMETHEUS_URL", raising=False)
    return config


@pytest.fixture
def with_prometheus(config_file: Path, prometheus: RunningPrometheus, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_URL", prometheus.url)
    return prometheus.at.isoformat()


def test_json_report_carries_the_figures_prometheus_computes(
    with_prometheus: str, prometheus: RunningPrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["slo", "report", "--format", "json", "--at", with_prometheus]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"checkout/availability", "search/availability"}
    for service, objective in (("checkout", 0.999), ("search", 0.995)):
        row = rows[f"{service}/availability"]
        expected = prometheus.data.availability_ratio(service, MONTH, prometheus.at)
        assert expected is not None
        assert row["error_ratio"] == pytest.approx(expected, rel=1e-9)
        assert row["budget_remaining"] == pytest.approx(1 - expected / (1 - objective), rel=1e-9)
        assert row["compliant"] == ("yes" if expected <= 1 - objective else "no")
    assert rows["checkout/availability"]["alert"] == "page"
    assert rows["search/availability"]["alert"] == "ok"


def test_markdown_and_plain_reports(with_prometheus: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["slo", "report", "--format", "markdown", "--at", with_prometheus]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| SLO | objective | SLI | budget left |")
    assert any(line.startswith("| search/availability | 99.5% |") for line in lines)
    assert run(["slo", "report", "--service", "search", "--at", with_prometheus]) == 0
    out = capsys.readouterr().out
    assert "search/availability" in out and "checkout" not in out
    assert "\033[" not in out  # no colour when the output is not a terminal


def test_gate_passes_a_healthy_service_and_fails_a_burning_one(
    with_prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["slo", "gate", "--service", "search", "--at", with_prometheus]) == 0
    captured = capsys.readouterr()
    assert "PASS search/availability: ok" in captured.out and "gate: passed" in captured.err

    assert run(["slo", "gate", "--at", with_prometheus]) == 1
    captured = capsys.readouterr()
    assert "FAIL checkout/availability: error budget exhausted" in captured.out
    assert "PASS search/availability: ok" in captured.out and "gate: failed" in captured.err


def test_gate_refuses_to_pass_blind(config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["slo", "gate"]) == 2  # INCIDENTBOT_PROMETHEUS_URL not set
    assert "Prometheus is not configured" in capsys.readouterr().out
    with refusing_port() as port:
        monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_URL", f"http://127.0.0.1:{port}")
        assert run(["slo", "gate", "--service", "search"]) == 2
    captured = capsys.readouterr()
    assert "FAIL search/availability: Prometheus unreachable (" in captured.out
    assert "refusing to pass blind" in captured.err


def test_gate_for_a_service_without_slos_is_a_usage_error(with_prometheus: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(["slo", "gate", "--service", "payroll"]) == 1
    assert "No SLOs for service 'payroll'" in capsys.readouterr().out


def test_bad_time_is_a_usage_error(config_file: Path) -> None:
    assert run(["slo", "report", "--at", "yesterday"]) == 2


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (make test installs it)")
def test_rules_written_to_a_file_pass_promtool(config_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "slo-rules.yml"
    assert run(["slo", "rules", "--output", str(output)]) == 0
    rules = [rule for group in yaml.safe_load(output.read_text())["groups"] for rule in group["rules"]]
    recorded = {(r.get("record"), r["labels"].get("sloth_service")) for r in rules}
    assert {("slo:sli_error:ratio_rate5m", "checkout"), ("slo:sli_error:ratio_rate5m", "search")} <= recorded
    checked = subprocess.run(["promtool", "check", "rules", str(output)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_config_check_counts_slos_and_names_file_field_and_reason(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["config", "check"]) == 0
    assert "2 SLOs" in capsys.readouterr().out
    broken = config_file.parent / "slos" / "broken.yml"
    broken.write_text(SPECS.split("---")[0].replace("objective: 99.9", "objective: 150"), encoding="utf-8")
    assert run(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: slos[0].objective: must be between 0 and 100 (got 150)" in err


def test_serve_refuses_invalid_slo_specs_with_the_reason(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_file.parent / "slos" / "shop.yml").write_text("version: prometheus/v9\n", encoding="utf-8")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv(
        "INCIDENTBOT_DATABASE_URL", f"sqlite+aiosqlite:///{config_file.parent / 'bot.store.db'}"
    )
    monkeypatch.setenv("INCIDENTBOT_AUTO_MIGRATE", "true")
    assert run(["serve"]) == 2
    assert "problem(s) in SLO specs" in capsys.readouterr().err


ZERO_ERRORS = """
apiVersion: openslo/v1
kind: SLO
metadata:
  name: no-timeouts
spec:
  service: search
  budgetingMethod: Occurrences
  objectives:
    - target: 0.999
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{service="search",code="504"}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{service="search"}
"""


def test_gate_passes_a_service_whose_error_series_does_not_exist_yet(
    with_prometheus: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No `code="504"` series at all (the service never timed out), with traffic: 0 errors, not "no data"."""
    (config_file.parent / "slos" / "zero.yml").write_text(ZERO_ERRORS, encoding="utf-8")
    assert run(["slo", "gate", "--service", "search", "--at", with_prometheus]) == 0
    captured = capsys.readouterr()
    assert "PASS search/no-timeouts: ok" in captured.out, captured.out
    assert run(["slo", "report", "--format", "json", "--service", "search", "--at", with_prometheus]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["id"] == "search/no-timeouts")
    assert row["error_ratio"] == 0.0 and row["budget_remaining"] == 1.0 and row["bad_events"] == 0.0


def test_json_report_gives_zero_time_to_exhaustion_for_a_spent_budget(
    with_prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["slo", "report", "--format", "json", "--at", with_prometheus]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["id"] == "checkout/availability")
    assert row["budget_remaining"] < 0  # overspent and still burning
    assert row["time_to_exhaustion_seconds"] == 0.0
    assert run(["slo", "report", "--service", "checkout", "--at", with_prometheus]) == 0
    assert "0.0h" in capsys.readouterr().out
