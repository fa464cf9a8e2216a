"""`incidentbot slo rules`: Sloth-compatible names, promtool-valid, and burn alerts that behave."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slo.engine import burn_factors
from bot.slo.model import BURN_WINDOWS
from bot.slo.rules import generate_rules
from bot.slo.specs import load_slos

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "slos"
RULES_TEST = EXAMPLES / "tests" / "burn_alerts_test.yml"
SHIPPED_RULES = EXAMPLES / "tests" / "rules.yml"
RULES_SOURCE = EXAMPLES / "database.yml"
"""The SLO whose generated rules are shipped for the promtool unit test."""


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "PROMTOOL MISSING: generated rules were NOT checked by promtool "
            "(apt-get install --no-install-recommends prometheus)"
        )
    return path


def run_promtool(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *(str(a) for a in args)], capture_output=True, text=True, timeout=120, check=False
    )


def groups(text: str) -> list[dict[str, Any]]:
    return yaml.safe_load(text)["groups"]


def test_generated_rules_for_every_example_pass_promtool_check(promtool: str, tmp_path: Path) -> None:
    slos = load_slos([EXAMPLES])
    rules = tmp_path / "slo-rules.yml"
    rules.write_text(generate_rules(slos), encoding="utf-8")
    result = run_promtool(promtool, "check", "rules", rules)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(slos) * 17} rules found" in result.stdout


def test_shipped_promtool_rule_test_passes(promtool: str) -> None:
    """Page fires on a 20 % error burst and not on a 0.2 % slow burn (which only tickets)."""
    result = run_promtool(promtool, "test", "rules", RULES_TEST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_shipped_rules_are_what_the_generator_writes_today() -> None:
    expected = generate_rules(load_slos([RULES_SOURCE]))
    assert SHIPPED_RULES.read_text(encoding="utf-8") == expected, (
        "examples/slos/tests/rules.yml is stale: regenerate it with "
        "`incidentbot slo rules` for examples/slos/database.yml"
    )


def test_rule_names_and_labels_are_sloths() -> None:
    slos = load_slos([EXAMPLES])
    by_id = {f"{s.service}-{s.name}": s for s in slos}
    for group in groups(generate_rules(slos)):
        records = [r for r in group["rules"] if "record" in r]
        sloth_id = records[0]["labels"]["sloth_id"]
        slo = by_id[sloth_id]
        period = "28d" if slo.period == timedelta(days=28) else "30d"
        windows = [*BURN_WINDOWS, period]
        assert group["name"] == f"incidentbot-slo-{sloth_id}"
        assert [r["record"] for r in records] == [f"slo:sli_error:ratio_rate{w}" for w in windows] + [
            "slo:objective:ratio",
            "slo:error_budget:ratio",
            "slo:time_period:days",
            "slo:current_burn_rate:ratio",
            "slo:period_burn_rate:ratio",
            "slo:period_error_budget_remaining:ratio",
            "sloth_slo_info",
        ]
        for record in records:
            labels = record["labels"]
            assert (labels["sloth_id"], labels["sloth_service"], labels["sloth_slo"]) == (
                sloth_id,
                slo.service,
                slo.name,
            )
        for window, record in zip(windows, records, strict=False):
            assert record["labels"]["sloth_window"] == window
            assert record["expr"] == slo.error_ratio_query(window)
        assert records[len(windows)]["expr"] == f"vector({slo.objective:g})"
        alerts = [r for r in group["rules"] if "alert" in r]
        assert [a["labels"]["sloth_severity"] for a in alerts] == ["page", "ticket"]
        if slo.alerting is None:
            assert alerts[0]["alert"].endswith("SLOPageBurn") and alerts[1]["alert"].endswith("SLOTicketBurn")
            assert [a["labels"]["severity"] for a in alerts] == ["page", "ticket"]
        else:  # Sloth's alerting block: its name on both alerts, its labels as written
            assert {a["alert"] for a in alerts} == {slo.alerting.name}
        assert all(a["annotations"]["summary"] for a in alerts)


def test_alert_names_and_thresholds_for_a_30_day_slo() -> None:
    (database,) = load_slos([RULES_SOURCE])
    page, ticket = [r for r in groups(generate_rules([database]))[0]["rules"] if "alert" in r]
    assert page["alert"] == "DatabaseAvailabilitySLOPageBurn"
    assert ticket["alert"] == "DatabaseAvailabilitySLOTicketBurn"
    assert "slo:sli_error:ratio_rate1h{" in page["expr"] and "> (14.4 * 0.001)" in page["expr"]
    assert "slo:sli_error:ratio_rate30m{" in page["expr"] and "> (6 * 0.001)" in page["expr"]
    assert "slo:sli_error:ratio_rate3d{" in ticket["expr"] and "> (1 * 0.001)" in ticket["expr"]
    assert "> (3 * 0.001)" in ticket["expr"]


def test_rules_use_the_engines_burn_factors_rescaled_with_the_period() -> None:
    """The rules and the bot's own alert state share `engine.burn_factors`, so they flip at the same point."""
    assert burn_factors(timedelta(days=30)) == {"1h": 14.4, "6h": 6.0, "1d": 3.0, "3d": 1.0}
    assert list(burn_factors(timedelta(days=28)).values()) == pytest.approx([13.44, 5.6, 2.8, 28 / 30])


def test_rescaled_factors_appear_in_the_28_day_rules() -> None:
    (api,) = load_slos([EXAMPLES / "api.yml"])
    group = groups(generate_rules([api]))[0]
    page = next(r for r in group["rules"] if r.get("alert", "").endswith("PageBurn"))
    assert "> (13.44 * 0.001)" in page["expr"] and "> (5.6 * 0.001)" in page["expr"]
    ticket = next(r for r in group["rules"] if r.get("alert", "").endswith("TicketBurn"))
    assert "> (2.8 * 0.001)" in ticket["expr"] and "> (0.9333333333333333 * 0.001)" in ticket["expr"]
    assert any(r.get("record") == "slo:sli_error:ratio_rate28d" for r in group["rules"])


def test_output_is_deterministic_and_empty_for_no_slos() -> None:
    slos = load_slos([EXAMPLES])
    assert generate_rules(slos) == generate_rules(slos)
    assert groups(generate_rules([])) == []
