"""SLO spec loading: shipped examples, Sloth/OpenSLO equivalence, errors naming file, field and reason."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import AppConfig, ConfigError
from bot.slo.model import BURN_WINDOWS
from bot.slo.specs import SLOSpecError, configured_slos, load_slos

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "slos"

EXPECTED = {
    # id: (objective, period, file)
    "orchestrator/requests-success": (0.995, timedelta(days=30), "orchestrator.yml"),
    "pms/response-time-p95": (0.95, timedelta(days=30), "pms.yml"),
    "messaging/delivery-success": (0.999, timedelta(days=30), "messaging.yml"),
    "database/availability": (0.999, timedelta(days=30), "database.yml"),
    "cache/hit-ratio": (0.7, timedelta(days=30), "cache.yml"),
    "api/availability": (0.999, timedelta(days=28), "api.yml"),
}

SLOTH_ORCHESTRATOR = """
version: "prometheus/v1"
service: orchestrator
slos:
  - name: requests-success
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(http_requests_total{service="orchestrator",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{service="orchestrator"}[{{.window}}]))
"""

OPENSLO_ORCHESTRATOR = """
apiVersion: openslo/v1
kind: SLO
metadata:
  name: requests-success
spec:
  service: orchestrator
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 30d
      isRolling: true
  objectives:
    - target: 0.995
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{service="orchestrator",code=~"5.."}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{service="orchestrator"}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(*paths: Path) -> list[str]:
    with pytest.raises(SLOSpecError) as info:
        load_slos(list(paths))
    return info.value.problems


def assert_problem(found: list[str], file: Path, field: str | None, reason: str) -> None:
    prefix = f"{file}: {field}: " if field else f"{file}: "
    assert any(p.startswith(prefix) and reason in p for p in found), f"no {prefix!r}…{reason!r} in {found}"


# --- the shipped examples -------------------------------------------------------------------------


def test_every_shipped_example_loads_with_expected_objective_and_period() -> None:
    slos = load_slos([EXAMPLES])
    assert sorted(s.id for s in slos) == sorted(EXPECTED)
    for slo in slos:
        objective, period, file = EXPECTED[slo.id]
        assert slo.objective == pytest.approx(objective, abs=1e-12)
        assert slo.period == period
        assert Path(slo.source).name == file
        assert slo.service == slo.id.split("/")[0]
        for window in (*BURN_WINDOWS, "30d"):
            query = slo.error_ratio_query(window)
            assert "{{.window}}" not in query and f"[{window}]" in query


@pytest.mark.parametrize("file", sorted({f for _, _, f in EXPECTED.values()}))
def test_each_example_file_loads_on_its_own(file: str) -> None:
    (slo,) = load_slos([EXAMPLES / file])
    assert EXPECTED[slo.id][2] == file


def test_latency_slo_counts_slow_requests_from_histogram_buckets() -> None:
    (pms,) = load_slos([EXAMPLES / "pms.yml"])
    assert pms.error_query and pms.total_query
    assert re.search(
        r"_count\{[^}]*\}\[\{\{\.window\}\}\]\)\) - sum\(rate\([^)]*_bucket\{[^}]*le=\"0\.5\"",
        pms.error_query,
    )
    assert "_count{" in pms.total_query
    assert pms.counts_are_rates


def test_openslo_counters_become_increases_over_the_window() -> None:
    (messaging,) = load_slos([EXAMPLES / "messaging.yml"])
    assert not messaging.counts_are_rates
    assert messaging.error_query == (
        'sum(increase(messaging_deliveries_total{service="messaging",result="failed"}[{{.window}}]))'
    )
    assert (
        messaging.total_query == 'sum(increase(messaging_deliveries_total{service="messaging"}[{{.window}}]))'
    )


def test_openslo_good_over_total_gives_total_minus_good() -> None:
    (cache,) = load_slos([EXAMPLES / "cache.yml"])
    total = 'sum(increase(cache_requests_total{service="cache"}[{{.window}}]))'
    assert cache.total_query == total
    assert (
        cache.error_query
        == f'{total} - sum(increase(cache_requests_total{{service="cache",result="hit"}}[{{{{.window}}}}]))'
    )
    assert cache.objective == pytest.approx(0.7)


def test_examples_directory_skips_generated_rules_and_promtool_tests() -> None:
    assert (EXAMPLES / "tests" / "rules.yml").exists()
    assert len(load_slos([EXAMPLES])) == len(EXPECTED)


# --- Sloth and OpenSLO agree ----------------------------------------------------------------------


def test_sloth_and_openslo_versions_of_one_slo_give_the_same_error_ratio(tmp_path: Path) -> None:
    (sloth,) = load_slos([write(tmp_path, "sloth.yml", SLOTH_ORCHESTRATOR)])
    (openslo,) = load_slos([write(tmp_path, "openslo.yml", OPENSLO_ORCHESTRATOR)])
    assert (sloth.id, sloth.objective, sloth.period) == (openslo.id, openslo.objective, openslo.period)
    assert sloth.counts_are_rates and not openslo.counts_are_rates
    for window in (*BURN_WINDOWS, "30d"):
        # rate(x[w]) is increase(x[w]) / w: the same w divides both sides of the ratio, so it cancels.
        as_increase = sloth.error_ratio_query(window).replace("rate(", "increase(")
        assert as_increase == openslo.error_ratio_query(window)


def test_openslo_expression_with_window_is_used_as_a_count(tmp_path: Path) -> None:
    text = OPENSLO_ORCHESTRATOR.replace(
        'query: http_requests_total{service="orchestrator",code=~"5.."}',
        'query: sum(increase(http_requests_total{code=~"5.."}[{{.window}}])) or vector(0)',
    )
    (slo,) = load_slos([write(tmp_path, "expr.yml", text)])
    assert slo.error_query == '(sum(increase(http_requests_total{code=~"5.."}[{{.window}}])) or vector(0))'
    assert not slo.counts_are_rates


def test_openslo_target_percent_and_week_window(tmp_path: Path) -> None:
    text = OPENSLO_ORCHESTRATOR.replace("target: 0.995", "targetPercent: 99.5").replace("30d", "4w")
    (slo,) = load_slos([write(tmp_path, "pct.yml", text)])
    assert slo.objective == pytest.approx(0.995)
    assert slo.period == timedelta(weeks=4)


def test_sloth_raw_ratio_and_increase_queries(tmp_path: Path) -> None:
    text = """
version: "prometheus/v1"
service: database
labels: {team: data}
slos:
  - name: uptime
    objective: 99.9
    labels: {tier: "1"}
    sli:
      raw:
        error_ratio_query: 1 - avg_over_time(pg_up{service="database"}[{{.window}}])
  - name: queries
    objective: 99
    sli:
      events:
        error_query: sum(increase(db_client_queries_total{outcome="error"}[{{.window}}]))
        total_query: sum(increase(db_client_queries_total[{{.window}}]))
"""
    uptime, queries = load_slos([write(tmp_path, "db.yml", text)])
    assert uptime.error_ratio_query("1h") == '1 - avg_over_time(pg_up{service="database"}[1h])'
    assert uptime.labels == {"team": "data", "tier": "1"}
    assert not queries.counts_are_rates


def test_multi_document_files_and_nested_directories_load_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path, "b/nested/z.yaml", OPENSLO_ORCHESTRATOR.replace("service: orchestrator", "service: zeta"))
    write(
        tmp_path, "a.yml", SLOTH_ORCHESTRATOR + "---\n" + SLOTH_ORCHESTRATOR.replace("orchestrator", "alpha")
    )
    write(tmp_path, ".hidden/skip.yml", "not: a spec")
    write(tmp_path, "notes.txt", "ignored")
    assert [s.service for s in load_slos([tmp_path])] == ["orchestrator", "alpha", "zeta"]


def test_configured_slos_resolves_paths_relative_to_the_config_file(tmp_path: Path) -> None:
    write(tmp_path, "conf/slos/orchestrator.yml", SLOTH_ORCHESTRATOR)
    config = AppConfig.model_validate({"slos": ["slos"]})
    assert [s.id for s in configured_slos(config.slos, tmp_path / "conf" / "incidentbot.yml")] == [
        "orchestrator/requests-success"
    ]
    assert configured_slos(AppConfig().slos, tmp_path / "incidentbot.yml") == []


# --- invalid specs: file, field and reason --------------------------------------------------------


def test_objective_out_of_range(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yml", SLOTH_ORCHESTRATOR.replace("objective: 99.5", "objective: 120"))
    assert problems(bad) == [f"{bad}: slos[0].objective: must be between 0 and 100 (got 120)"]
    hundred = write(tmp_path, "hundred.yml", SLOTH_ORCHESTRATOR.replace("objective: 99.5", "objective: 100"))
    assert_problem(problems(hundred), hundred, "slos[0].objective", "leaves no error budget")
    fraction = write(tmp_path, "fraction.yml", OPENSLO_ORCHESTRATOR.replace("target: 0.995", "target: 99.5"))
    assert_problem(problems(fraction), fraction, "spec.objectives[0].target", "between 0 and 1 (got 99.5)")


def test_sloth_query_without_window(tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "nowindow.yml",
        SLOTH_ORCHESTRATOR.replace("[{{.window}}]))\n        total", "[5m]))\n        total"),
    )
    assert_problem(problems(bad), bad, "slos[0].sli.events.error_query", "must contain {{.window}}")


def test_empty_query_and_rate_of_sum(tmp_path: Path) -> None:
    text = SLOTH_ORCHESTRATOR.replace(
        'sum(rate(http_requests_total{service="orchestrator"}[{{.window}}]))', '""'
    ).replace(
        'sum(rate(http_requests_total{service="orchestrator",code=~"5.."}[{{.window}}]))',
        "rate(sum(http_requests_total)[{{.window}}:])",
    )
    bad = write(tmp_path, "queries.yml", text)
    found = problems(bad)
    assert_problem(found, bad, "slos[0].sli.events.total_query", "must not be empty")
    assert_problem(found, bad, "slos[0].sli.events.error_query", "use sum(rate(...))")


def test_unknown_version_and_kind_name_the_supported_formats(tmp_path: Path) -> None:
    version = write(tmp_path, "v2.yml", SLOTH_ORCHESTRATOR.replace("prometheus/v1", "prometheus/v2"))
    kind = write(tmp_path, "kind.yml", OPENSLO_ORCHESTRATOR.replace("kind: SLO", "kind: Objective"))
    api = write(tmp_path, "api.yml", OPENSLO_ORCHESTRATOR.replace("openslo/v1", "openslo/v2alpha"))
    unknown = write(tmp_path, "unknown.yml", "service: x\nobjectives: []\n")
    found = problems(version, kind, api, unknown)
    supported = (
        'Sloth (version: "prometheus/v1", or apiVersion: sloth.slok.dev/v1, kind: PrometheusServiceLevel) '
        "or OpenSLO (apiVersion: openslo/v1 or openslo/v1alpha, kind: SLO)"
    )
    assert found == [
        f"{version}: version: unsupported version 'prometheus/v2'; supported: {supported}",
        f"{kind}: kind: unsupported kind 'Objective'; supported: {supported}",
        f"{api}: apiVersion: unsupported apiVersion 'openslo/v2alpha'; supported: {supported}",
        f"{unknown}: not an SLO spec (no version or apiVersion); supported: {supported}",
    ]


def test_indicator_ref_names_an_sli_document_of_the_loaded_files(tmp_path: Path) -> None:
    text = OPENSLO_ORCHESTRATOR.split("  indicator:")[0] + "  indicatorRef: orchestrator-requests\n"
    slo_file = write(tmp_path, "slo.yml", text)
    indicator = OPENSLO_ORCHESTRATOR.split("  indicator:\n")[1]
    sli = "apiVersion: openslo/v1\nkind: SLI\nmetadata:\n  name: orchestrator-requests\n" + "\n".join(
        line[4:] for line in indicator.splitlines()
    )
    sli_file = write(tmp_path, "slis/requests.yml", sli)
    (by_ref,) = load_slos([slo_file, sli_file])
    (inline,) = load_slos([write(tmp_path, "inline.yml", OPENSLO_ORCHESTRATOR)])
    assert (by_ref.error_query, by_ref.total_query) == (inline.error_query, inline.total_query)
    assert problems(slo_file) == [
        f"{slo_file}: spec.indicatorRef: no SLI named 'orchestrator-requests' in the loaded files"
    ]


def test_openslo_unsupported_shapes(tmp_path: Path) -> None:
    timeslices = write(tmp_path, "ts.yml", OPENSLO_ORCHESTRATOR.replace("Occurrences", "Timeslices"))
    expression = write(
        tmp_path,
        "expr.yml",
        OPENSLO_ORCHESTRATOR.replace(
            'query: http_requests_total{service="orchestrator"}',
            'query: sum(rate(http_requests_total{service="orchestrator"}[5m]))',
        ),
    )
    calendar = write(tmp_path, "cal.yml", OPENSLO_ORCHESTRATOR.replace("isRolling: true", "isRolling: false"))
    datadog = write(tmp_path, "dd.yml", OPENSLO_ORCHESTRATOR.replace("type: Prometheus", "type: Datadog", 1))
    gauge = write(tmp_path, "gauge.yml", OPENSLO_ORCHESTRATOR.replace("counter: true", "counter: false"))
    found = problems(timeslices, expression, calendar, datadog, gauge)
    assert_problem(
        found, gauge, "spec.indicator.spec.ratioMetric.bad.metricSource.spec.query", "counter: false"
    )
    assert_problem(
        found, timeslices, "spec.budgetingMethod", "only Occurrences is supported (got 'Timeslices')"
    )
    assert_problem(
        found, expression, "spec.indicator.spec.ratioMetric.total.metricSource.spec.query", "{{.window}}"
    )
    assert_problem(found, calendar, "spec.timeWindow[0].isRolling", "isRolling: true")
    assert_problem(found, datadog, "spec.indicator.spec.ratioMetric.bad.metricSource.type", "(got 'Datadog')")


def test_duplicate_slo_id_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yml", SLOTH_ORCHESTRATOR)
    second = write(tmp_path, "b.yml", OPENSLO_ORCHESTRATOR)
    duplicate = "duplicate SLO id 'orchestrator/requests-success'"
    assert problems(tmp_path) == [f"{second}: metadata.name: {duplicate} (first defined in {first})"]


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "broken.yml", 'version: "prometheus/v1"\nservice: [unclosed\n')
    (problem,) = problems(bad)
    assert re.fullmatch(rf"{re.escape(str(bad))}: line \d+, column \d+: not valid YAML: .+", problem), problem


def test_a_file_that_is_not_utf8_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yml"
    bad.write_bytes('service: "caf\xe9"\n'.encode("latin-1"))
    (problem,) = problems(bad)
    assert problem.startswith(f"{bad}: is not UTF-8 text")


def test_typos_are_unknown_fields(tmp_path: Path) -> None:
    bad = write(tmp_path, "typo.yml", SLOTH_ORCHESTRATOR.replace("objective:", "objetive:"))
    found = problems(bad)
    assert_problem(found, bad, "slos[0].objetive", "unknown field")
    assert_problem(found, bad, "slos[0].objective", "required field is missing")


def test_all_problems_in_all_files_are_reported_together(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "one.yml",
        SLOTH_ORCHESTRATOR.replace("objective: 99.5", "objective: -1").replace(
            "[{{.window}}]))\n", "[1h]))\n"
        ),
    )
    second = write(tmp_path, "two.yml", OPENSLO_ORCHESTRATOR.replace("30d", "30 days"))
    missing = tmp_path / "missing.yml"
    with pytest.raises(SLOSpecError) as info:
        load_slos([first, second, missing])
    found = info.value.problems
    assert len(found) == 5, found
    assert_problem(found, first, "slos[0].objective", "must be between 0 and 100 (got -1)")
    assert_problem(found, first, "slos[0].sli.events.error_query", "{{.window}}")
    assert_problem(found, first, "slos[0].sli.events.total_query", "{{.window}}")
    assert_problem(found, second, "spec.timeWindow[0].duration", "rolling duration")
    assert_problem(found, missing, None, "no such file or directory")
    assert isinstance(info.value, ConfigError)
    assert str(info.value).startswith("5 problem(s) in SLO specs:\n  ")


def test_multi_document_problems_name_the_document(tmp_path: Path) -> None:
    text = (
        SLOTH_ORCHESTRATOR
        + "---\n"
        + OPENSLO_ORCHESTRATOR.replace("orchestrator", "other").replace("target: 0.995", "target: 2")
    )
    bad = write(tmp_path, "multi.yml", text)
    assert_problem(problems(bad), Path(f"{bad} (document 2)"), "spec.objectives[0].target", "(got 2)")


def test_a_rules_file_named_explicitly_is_an_error() -> None:
    rules = EXAMPLES / "tests" / "rules.yml"
    assert_problem(problems(rules), rules, None, "not an SLO spec")
