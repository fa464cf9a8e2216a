"""Wall time of a full SLO evaluation at 50, 500 and 2,000 SLOs, beside the floor Prometheus sets.

Layout as a platform team has it: five SLOs per service (objectives 99 % … 99.99 %), one query shape.
Prometheus 2.42 runs on 127.0.0.1 with 2 days of backfilled 1-minute data (`tests/slo_data.py`, one distinct
pair of series per service). For each size the table shows:
- the bot (`evaluate`: SLOs that share a query shape asked together, `bot/slo/batching.py`);
- one by one (`evaluate(..., grouped=False)`: one request pair per SLO), the reference the bot's figures
  must equal to the last bit;
- the floor: Prometheus answering the same figures for every service in one `sum by (service)` instant
  query plus one range query, with no filter: what no client can beat;
- the CLI: `incidentbot slo report --format json` as a subprocess, against its own start-up
  (the same command for a service with no SLOs: the interpreter, the imports, the config and the specs
  read, no query) plus the floor (the goal is within 2×).
Run: `.venv/bin/python bench/slo_queries.py` (needs Debian's `prometheus` package); `--slos 500` for one size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.slo.engine import _history_instants, evaluate, figure_queries
from bot.slo.model import SLO, SLOStatus
from bot.slo.prometheus import PrometheusClient
from bot.slo.specs import load_slos
from tests.fixtures_prometheus import MISSING, binaries, start_prometheus
from tests.slo_data import SPEC_OBJECTIVES, generate, service_spec

GOAL_500_SECONDS = 2.0
GOAL_CLI_RATIO = 2.0
BIN = Path(sys.executable).parent


def write_specs(directory: Path, services: int) -> None:
    for n in range(services):
        (directory / f"svc-{n:02d}.yml").write_text(service_spec(n), encoding="utf-8")


async def timed(make: Callable[[], Awaitable[object]], runs: int) -> tuple[float, object]:
    await make()  # warm-up: TSDB pages and connections are not what we measure
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await make()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def statuses(slos: list[SLO], url: str, at: datetime, grouped: bool) -> list[SLOStatus]:
    client = PrometheusClient(url, timeout=30)
    try:
        return await evaluate(slos, client, at, grouped=grouped)
    finally:
        client.close()


async def floor(slo: SLO, url: str, at: datetime) -> None:
    """The same figures for every service at once, unfiltered: one instant and one range request."""
    client = PrometheusClient(url, timeout=30)
    try:
        figures = {
            name: query.replace('service="svc-00",', "")
            .replace('{service="svc-00"}', "")
            .replace("sum(", "sum by (service) (")
            for name, query in figure_queries(slo).items()
        }
        instants, step = _history_instants(at, slo.period, 24)
        await asyncio.gather(
            client.query_grouped(figures, at, "service"),
            client.query_range_grouped(figures["period"], instants[0], at, step, "service"),
        )
    finally:
        client.close()


def cli_seconds(args: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([str(BIN / "incidentbot"), *args], env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0 and "no-such-service" not in args:
            raise RuntimeError(done.stderr.decode())
    return statistics.median(times)


def same(a: list[SLOStatus], b: list[SLOStatus]) -> bool:
    return all(
        x.error is None
        and (x.error_ratio, x.error_ratios, x.bad_events, x.budget_history)
        == (y.error_ratio, y.error_ratios, y.bad_events, y.budget_history)
        for x, y in zip(a, b, strict=True)
    )


async def measure(count: int, runs: int) -> tuple[int, float, float, float, float, float, bool]:
    services = max(1, count // len(SPEC_OBJECTIVES))
    prom = start_prometheus(generate(bench_services=services))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            specs = Path(tmp) / "slos"
            specs.mkdir()
            write_specs(specs, services)
            slos = load_slos([specs])
            bot_s, grouped = await timed(lambda: statuses(slos, prom.url, prom.at, True), runs)
            alone_s, alone = await timed(lambda: statuses(slos, prom.url, prom.at, False), 1)
            floor_s, _ = await timed(lambda: floor(slos[0], prom.url, prom.at), runs)
            config = Path(tmp) / "incidentbot.yml"
            config.write_text(f"slos: [{specs}]\n", encoding="utf-8")
            env = {**os.environ, "INCIDENTBOT_CONFIG": str(config), "INCIDENTBOT_PROMETHEUS_URL": prom.url}
            report = ["slo", "report", "--format", "json", "--at", prom.at.isoformat()]
            cli_s = cli_seconds(report, env, runs)
            start_s = cli_seconds([*report, "--service", "no-such-service"], env, runs)
        return len(slos), bot_s, alone_s, floor_s, cli_s, start_s, same(grouped, alone)  # type: ignore[arg-type]
    finally:
        prom.stop()


async def run(sizes: list[int], runs: int) -> int:
    rows = [await measure(size, runs) for size in sizes]
    print(f"\nMedian of {runs} runs after a warm-up (one by one: one run); {os.cpu_count()} CPUs;")
    print("Prometheus 2.42 on 127.0.0.1; 5 SLOs per service, one query shape.\n")
    print(
        "| SLOs | bot (s) | one by one (s) | floor: one grouped query (s) | bot / floor "
        "| CLI report (s) | CLI start-up (s) | CLI / (start-up + floor) | figures identical |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    ok = True
    for count, bot_s, alone_s, floor_s, cli_s, start_s, identical in rows:
        ratio = cli_s / (start_s + floor_s)
        print(
            f"| {count} | {bot_s:.3f} | {alone_s:.3f} | {floor_s:.3f} | {bot_s / floor_s:.2f}× | {cli_s:.3f} "
            f"| {start_s:.3f} | {ratio:.2f}× | {'yes' if identical else 'NO'} |"
        )
        ok = ok and identical and ratio <= GOAL_CLI_RATIO and (count != 500 or bot_s < GOAL_500_SECONDS)
    print(
        f"\nGoals: 500 SLOs under {GOAL_500_SECONDS:g} s; the CLI report within {GOAL_CLI_RATIO:g}× of its "
        f"start-up plus the floor; figures identical to one by one: {'all met' if ok else 'NOT all met'}"
    )
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, nargs="+", default=[50, 500, 2000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if binaries() is None:
        print(MISSING, file=sys.stderr)
        return 2
    return asyncio.run(run(args.slos, args.runs))


if __name__ == "__main__":
    sys.exit(main())
