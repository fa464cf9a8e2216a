"""SLO specs as teams already write them: Sloth's alerting block and Kubernetes kind, OpenSLO's optional
fields, references and several objectives, OpenSLO v1alpha; rules that Sloth's routes and dashboards read.

The Sloth fixtures are specs in Sloth's documented shapes with what `sloth generate` writes for them
(tests/fixtures/sloth); the bot's rules are compared with that output semantically: the same SLOs, alert
names, labels, annotations and burn-rate pairs at the same thresholds, whatever the text layout.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slo.rules import generate_rules
from bot.slo.specs import SLOSpecError, load_slos
from tests.test_slo_specs import OPENSLO_ORCHESTRATOR, assert_problem, problems, write

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sloth"
_PAIR_PART = re.compile(r"slo:sli_error:ratio_rate(\w+)\{[^}]*\}\s*>\s*\(([0-9.e+-]+)\s*\*\s*([0-9.e+-]+)\)")


# --- the comparison helper --------------------------------------------------------------------------------


def burn_pairs(expr: str) -> frozenset[frozenset[tuple[str, float]]]:
    """`(A and B) or (C and D)` as {{(window, threshold)…}…}, thresholds as the products Prometheus takes."""
    pairs = []
    for part in re.split(r"\n\s*or\s*\n", expr.strip()):
        found = _PAIR_PART.findall(part)
        assert len(found) == 2, part
        pairs.append(frozenset((window, float(f"{float(a) * float(b):.12g}")) for window, a, b in found))
    return frozenset(pairs)


def semantics(text: str) -> dict[str, Any]:
    """What Alertmanager routes and Sloth's dashboards see of a rules file, per SLO (`sloth_id`)."""
    out: dict[str, Any] = {}
    for group in yaml.safe_load(text)["groups"]:
        for rule in group["rules"]:
            if rule.get("record") == "sloth_slo_info":
                labels = {k: v for k, v in rule["labels"].items() if k != "sloth_version"}
                out.setdefault(labels["sloth_id"], {"alerts": []})["info"] = labels
            elif "alert" in rule:
                sloth_id = re.search(r'sloth_id="([^"]+)"', rule["expr"])
                assert sloth_id, rule["expr"]
                labels = {
                    k: v
                    for k, v in rule["labels"].items()
                    if not k.startswith("sloth_") or k == "sloth_severity"
                }
                out.setdefault(sloth_id.group(1), {"alerts": []})["alerts"].append(
                    (rule["alert"], labels, rule["annotations"], burn_pairs(rule["expr"]))
                )
    for slo in out.values():
        slo["alerts"].sort(key=lambda alert: alert[1]["sloth_severity"])
    return out


def test_the_helper_sees_through_layout_but_not_through_a_changed_threshold() -> None:
    sloth = (FIXTURES / "payments.gen.yml").read_text(encoding="utf-8")
    assert semantics(sloth) == semantics(yaml.safe_dump(yaml.safe_load(sloth), width=40))
    assert semantics(sloth) != semantics(sloth.replace("(14.4 * 0.0009999999999999432)", "(14 * 0.001)", 1))


# --- Sloth ------------------------------------------------------------------------------------------------


def test_sloth_alerting_block_gives_sloths_alerts_names_labels_and_info() -> None:
    ours = generate_rules(load_slos([FIXTURES / "payments.yml"]))
    expected = semantics((FIXTURES / "payments.gen.yml").read_text(encoding="utf-8"))
    assert semantics(ours) == expected
    # Disabled alerts are not generated at all: the ledger SLO has neither, refunds only a ticket.
    assert [a[0] for a in expected["payments-ledger-availability"]["alerts"]] == []
    assert [a[1]["sloth_severity"] for a in expected["payments-refunds-availability"]["alerts"]] == ["ticket"]


def test_sloth_kubernetes_kind_reads_the_same_slos() -> None:
    plain = load_slos([FIXTURES / "payments.yml"])
    k8s = load_slos([FIXTURES / "payments-k8s.yml"])
    assert [s.id for s in k8s] == [s.id for s in plain]
    for a, b in zip(plain, k8s, strict=True):
        assert (a.error_query, a.total_query, a.ratio_query, a.objective, a.labels, a.alerting) == (
            b.error_query,
            b.total_query,
            b.ratio_query,
            b.objective,
            b.labels,
            b.alerting,
        )
        assert b.spec == "sloth.slok.dev/v1"
    ours = semantics(generate_rules(k8s))
    assert {i: s["alerts"] for i, s in ours.items()} == {
        i: s["alerts"] for i, s in semantics(generate_rules(plain)).items()
    }


def test_sloth_label_values_written_as_numbers_or_booleans_are_strings() -> None:
    slo = load_slos([FIXTURES / "payments.yml"])[0]
    assert slo.labels == {"owner": "payments-team", "tier": "1", "pci": "true"}


@pytest.mark.parametrize(
    ("where", "field", "snippet"),
    [
        ("spec", "slo_plugins", "slo_plugins:\n  chain:\n    - id: sloth.dev/core/debug/v1\n"),
        ("slo", "slos[0].plugins", "    plugins:\n      chain:\n        - id: sloth.dev/core/debug/v1\n"),
    ],
)
def test_sloth_slo_plugins_are_named_as_unsupported_not_as_typos(
    tmp_path: Path, where: str, field: str, snippet: str
) -> None:
    text = (FIXTURES / "payments.yml").read_text(encoding="utf-8")
    if where == "spec":
        text = text.replace("slos:\n", snippet + "slos:\n", 1)
    else:
        text = text.replace("    objective: 99.9\n", "    objective: 99.9\n" + snippet, 1)
    found = problems(write(tmp_path, "plugins.yml", text))
    assert len(found) == 1 and f": {field}: Sloth SLO plugins are not supported" in found[0], found


# --- OpenSLO ----------------------------------------------------------------------------------------------


def _openslo(**replace: str) -> str:
    text = OPENSLO_ORCHESTRATOR
    for old, new in replace.items():
        text = text.replace(old.replace("_", " "), new)
    return text


DATASOURCE = """
---
apiVersion: openslo/v1
kind: DataSource
metadata:
  name: {name}
spec:
  type: {type}
  connectionDetails:
    url: http://prometheus:9090
"""


def test_openslo_metric_source_type_is_inferred_from_the_datasource(tmp_path: Path) -> None:
    text = OPENSLO_ORCHESTRATOR.replace("type: Prometheus", "metricSourceRef: prom")
    (slo,) = load_slos([write(tmp_path, "ok.yml", text + DATASOURCE.format(name="prom", type="Prometheus"))])
    (inline,) = load_slos([write(tmp_path, "inline.yml", OPENSLO_ORCHESTRATOR)])
    assert (slo.error_query, slo.total_query) == (inline.error_query, inline.total_query)

    datadog = write(tmp_path, "dd.yml", text + DATASOURCE.format(name="prom", type="Datadog"))
    assert_problem(
        problems(datadog),
        f"{datadog} (document 1)",  # type: ignore[arg-type]
        "spec.indicator.spec.ratioMetric.bad.metricSource.metricSourceRef",
        "DataSource 'prom' is of type 'Datadog'; only Prometheus is supported",
    )
    missing = write(tmp_path, "missing.yml", text)
    assert_problem(
        problems(missing),
        missing,
        "spec.indicator.spec.ratioMetric.total.metricSource",
        "none is named 'prom'",
    )


def test_openslo_optional_fields_left_out_or_empty(tmp_path: Path) -> None:
    no_window = OPENSLO_ORCHESTRATOR.replace(
        "  timeWindow:\n    - duration: 30d\n      isRolling: true\n", ""
    )
    text = no_window + "  alertPolicies:\n"
    (slo,) = load_slos([write(tmp_path, "optional.yml", text)])
    assert slo.period.days == 30 and slo.objective == 0.995


def test_openslo_several_objectives_are_one_slo_each(tmp_path: Path) -> None:
    text = OPENSLO_ORCHESTRATOR.replace(
        "    - target: 0.995\n",
        "    - displayName: Good enough\n      target: 0.99\n    - targetPercent: 99.9\n",
    )
    loose, strict = load_slos([write(tmp_path, "two.yml", text)])
    assert (loose.id, loose.objective) == ("orchestrator/requests-success-good-enough", 0.99)
    assert (strict.id, strict.objective) == ("orchestrator/requests-success-2", 0.999)
    assert loose.error_query == strict.error_query


V1ALPHA = """
apiVersion: openslo/v1alpha
kind: SLO
metadata:
  name: requests-availability
  displayName: Requests Availability
spec:
  service: my-service
  description: "Common SLO based on availability for HTTP request responses."
  budgetingMethod: Occurrences
  objectives:
    - ratioMetrics:
        good:
          source: prometheus
          queryType: promql
          query: sum(rate(http_request_duration_seconds_count{job="myservice",code!~"5.."}[{{.window}}]))
        total:
          source: prometheus
          queryType: promql
          query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
      target: 0.999
  timeWindows:
    - count: 28
      unit: Day
"""


def test_openslo_v1alpha_as_sloth_reads_it(tmp_path: Path) -> None:
    (slo,) = load_slos([write(tmp_path, "alpha.yml", V1ALPHA)])
    assert (slo.id, slo.objective, slo.period.days, slo.counts_are_rates) == (
        "my-service/requests-availability-0",  # Sloth's id for an OpenSLO v1alpha objective
        0.999,
        28,
        True,
    )
    assert slo.spec == "openslo/v1alpha"
    assert slo.error_ratio_query("5m").count("[5m]") == 4  # bad = total - good, over total; zero-guarded
    calendar = write(tmp_path, "cal.yml", V1ALPHA.replace("unit: Day", "unit: Day\n      isRolling: false"))
    assert_problem(
        problems(calendar), calendar, "spec.timeWindows[0]", "calendar-aligned windows are not supported"
    )


def test_problems_in_several_shapes_are_all_reported_at_once(tmp_path: Path) -> None:
    bad_alpha = write(tmp_path, "a.yml", V1ALPHA.replace("Occurrences", "Timeslices"))
    bad_k8s = write(
        tmp_path,
        "k.yml",
        (FIXTURES / "payments-k8s.yml").read_text(encoding="utf-8").replace("errorQuery", "errorQuerry", 1),
    )
    with pytest.raises(SLOSpecError) as info:
        load_slos([bad_alpha, bad_k8s])
    found = info.value.problems
    assert_problem(found, bad_alpha, "spec.budgetingMethod", "only Occurrences is supported")
    assert_problem(found, bad_k8s, "spec.slos[0].sli.events.errorQuerry", "unknown field")
