"""SLOs at an organisation's scale: 500 SLOs on a real Prometheus, every figure or an honest reason.

100 services × 5 SLOs (one Sloth file per service, as a platform team lays them out) against Prometheus
2.42 with two days of data for each service. Grouped evaluation must give, for every SLO, the very figures
the SLO's own queries give; time limits must measure Prometheus, not the bot's own queue; and people must
see the worst SLOs first.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.cli import run
from bot.config import AppConfig
from bot.slo.batching import group_slos
from bot.slo.engine import evaluate, figure_queries, worst_first
from bot.slo.model import SLO, SLOStatus
from bot.slo.prometheus import PrometheusClient
from bot.slo.specs import load_slos
from bot.standin import RunningStandin, eventually
from tests.fixtures_bot import ALICE, GENERAL
from tests.fixtures_prometheus import MISSING, RunningPrometheus, binaries, start_prometheus
from tests.processes import hanging_port, refusing_port
from tests.slo_data import generate, service_spec
from tests.test_slo_slack import slo_bot

SERVICES = 100


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    if binaries() is None:
        pytest.skip(MISSING)
    running = start_prometheus(generate(bench_services=SERVICES), tmp_path_factory.mktemp("prometheus-500"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("slos-500")
    for n in range(SERVICES):
        (directory / f"svc-{n:02d}.yml").write_text(service_spec(n), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def slos(spec_dir: Path) -> list[SLO]:
    loaded = load_slos([spec_dir])
    assert len(loaded) == 500
    return loaded


@pytest.fixture(scope="module")
def alone(many: RunningPrometheus, slos: list[SLO]) -> list[SLOStatus]:
    """Every SLO evaluated on its own queries, one request pair per SLO: the reference."""

    async def each() -> list[SLOStatus]:
        client = PrometheusClient(many.url)
        try:
            return await evaluate(slos, client, many.at, grouped=False)
        finally:
            client.close()

    return asyncio.run(each())


def figures(status: SLOStatus) -> tuple[object, ...]:
    return (
        status.error,
        status.error_ratio,
        tuple(sorted(status.error_ratios.items())),
        status.bad_events,
        status.total_events,
        tuple(status.budget_history),
        status.alert,
    )


def test_slos_sharing_a_query_shape_are_asked_together(slos: list[SLO]) -> None:
    groups = group_slos(slos, {id(s): figure_queries(s) for s in slos})
    assert [(g.label, len(g.slos)) for g in groups] == [("service", 500)]  # one request for the figures
    grouped = groups[0].query("5m")
    assert "sum by (service) (" in grouped and 'service=~"svc-00|svc-01|' in grouped


async def test_grouped_figures_equal_each_slo_evaluated_alone(
    many: RunningPrometheus, slos: list[SLO], alone: list[SLOStatus]
) -> None:
    client = PrometheusClient(many.url)
    try:
        statuses = await evaluate(slos, client, many.at)
    finally:
        client.close()
    assert all(s.error is None and s.error_ratio is not None for s in alone)
    assert [s.slo.id for s in statuses] == [slo.id for slo in slos]
    assert [figures(s) for s in statuses] == [figures(s) for s in alone]  # to the last bit
    assert {s.alert for s in statuses} >= {"ok", "page"}


def write_config(tmp_path: Path, spec_dir: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    config = tmp_path / "incidentbot.yml"
    config.write_text(f"slos: [{spec_dir}]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(config))
    monkeypatch.setenv("INCIDENTBOT_PROMETHEUS_URL", url)


def test_report_of_500_slos_has_a_figure_for_each_and_the_gate_names_exactly_the_burning_ones(
    many: RunningPrometheus,
    spec_dir: Path,
    alone: list[SLOStatus],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(tmp_path, spec_dir, monkeypatch, many.url)
    at = many.at.isoformat()
    assert run(["slo", "report", "--format", "json", "--at", at]) == 0
    rows = json.loads(capsys.readouterr().out)
    reference = {s.slo.id: s for s in alone}
    assert len(rows) == 500 and all(r["error"] is None for r in rows)
    assert all(r["error_ratio"] == reference[r["id"]].error_ratio for r in rows)
    order = [(r["alert"], r["budget_remaining"]) for r in rows]
    assert order == [(s.alert, s.budget_remaining) for s in worst_first(alone)]  # the worst first

    assert run(["slo", "gate", "--at", at]) == 1
    out = capsys.readouterr().out
    failed = {line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("FAIL ")}
    burning = {s.slo.id for s in alone if s.alert == "page" or (s.budget_remaining or 0) <= 0}
    assert burning and failed == burning
    assert "unreachable" not in out


def test_report_filters_by_team_and_label(
    many: RunningPrometheus,
    spec_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(tmp_path, spec_dir, monkeypatch, many.url)
    assert run(["slo", "report", "--format", "json", "--team", "payments", "--at", many.at.isoformat()]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["service"] for r in rows} == {f"svc-{n:02d}" for n in range(0, SERVICES, 10)}
    assert run(["slo", "report", "--label", "team=nobody"]) == 2
    assert "No SLOs with team=nobody" in capsys.readouterr().err


@pytest.fixture
async def slow_prometheus() -> AsyncIterator[str]:
    """Answers every request, but only after 6 s: busy, not gone."""

    async def late(request: web.Request) -> web.Response:
        await asyncio.sleep(6)
        return web.json_response({"status": "success", "data": {"resultType": "vector", "result": []}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", late)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_slow_and_unreachable_are_different_answers_within_the_deadline(
    slos: list[SLO], slow_prometheus: str
) -> None:
    client = PrometheusClient(slow_prometheus, timeout=1.0)
    started = time.monotonic()
    statuses = await evaluate(slos, client, deadline=5)
    client.close()
    assert time.monotonic() - started < 5
    assert {s.error for s in statuses} == {"Prometheus slow (no answer within 1 s of asking)"}

    with refusing_port() as port:
        client = PrometheusClient(f"http://127.0.0.1:{port}")
        started = time.monotonic()
        statuses = await evaluate(slos, client, deadline=5)
        client.close()
    assert time.monotonic() - started < 5
    assert all((s.error or "").startswith("Prometheus unreachable (ConnectionRefusedError") for s in statuses)


async def test_the_overall_deadline_is_reported_as_such(slos: list[SLO]) -> None:
    with hanging_port() as port:
        client = PrometheusClient(f"http://127.0.0.1:{port}", timeout=30)
        started = time.monotonic()
        statuses = await evaluate(slos[:10], client, deadline=1)
        client.close()
    assert time.monotonic() - started < 3
    assert {s.error for s in statuses} == {
        "not evaluated: the overall deadline of 1 s ran out before Prometheus answered"
    }


def test_gate_exits_2_only_when_prometheus_cannot_be_asked(
    spec_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with refusing_port() as port:
        write_config(tmp_path, spec_dir, monkeypatch, f"http://127.0.0.1:{port}")
        assert run(["slo", "gate", "--service", "svc-01"]) == 2
    assert "refusing to pass blind" in capsys.readouterr().err
    with hanging_port() as port:
        write_config(tmp_path, spec_dir, monkeypatch, f"http://127.0.0.1:{port}")
        assert run(["slo", "gate", "--service", "svc-01", "--deadline", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL svc-01/availability-99: not evaluated: the overall deadline of 1 s ran out" in out


# --- Slack: the burning SLO is on the screen, even when it is the 500th ------------------------------------


async def test_slo_command_shows_the_only_burning_slo_first_when_it_is_last_of_500(
    database_url: str,
    standin: RunningStandin,
    app_config: AppConfig,
    prometheus: RunningPrometheus,
    tmp_path: Path,
) -> None:
    healthy = "".join(
        f"""
  - name: availability-{n:03d}
    objective: 90
    sli:
      events:
        error_query: sum(rate(http_requests_total{{service="search",code="500"}}[{{{{.window}}}}]))
        total_query: sum(rate(http_requests_total{{service="search"}}[{{{{.window}}}}]))"""
        for n in range(499)
    )
    spec = tmp_path / "slos.yml"
    spec.write_text(
        f'version: "prometheus/v1"\nservice: search\nslos:{healthy}\n---\n'
        'version: "prometheus/v1"\nservice: checkout\nslos:\n  - name: availability\n    objective: 99.9\n'
        "    sli:\n      events:\n"
        '        error_query: sum(rate(http_requests_total{service="checkout",code="500"}[{{.window}}]))\n'
        '        total_query: sum(rate(http_requests_total{service="checkout"}[{{.window}}]))\n',
        encoding="utf-8",
    )
    config = app_config.model_copy(update={"slos": [spec]})
    async for bot in slo_bot(database_url, standin, config, prometheus.url, lambda: prometheus.at):
        await bot.driver.slash(ALICE, GENERAL, "slo")
        post = await eventually(
            lambda ws=bot.workspace: next(
                (r for r in ws.responses if r.ok and "500 SLOs" in str(r.blocks)), None
            ),
            message="the SLO summary",
        )
        blocks = post.blocks
        assert "1 paging" in str(blocks[1]) and "0 no data" in str(blocks[1])
        assert "checkout · availability" in str(blocks[2]) and ":red_circle: page" in str(blocks[2])
        assert len(blocks) <= 50 and "…and 454 more" in str(blocks[-1])
        assert bot.workspace.errors() == []
