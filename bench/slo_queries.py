"""Wall time of a full SLO evaluation for 50 SLOs against a local Prometheus: concurrent vs sequential.

Each SLO needs 11 figures: the period ratio, 7 burn windows, bad and total events over the period, and the
budget history (a range query). Prometheus 2.42 runs on 127.0.0.1 with 2 days of backfilled 1-minute data
(`tests/slo_data.py`, one distinct pair of series per SLO). The baseline is the naive synchronous loop over
prometheus-api-client: one request per figure, SLO after SLO. The bot asks for an SLO's ten instant figures
in one request (`label_replace(…) or …`), and evaluates all SLOs concurrently through a bounded pool.

On loopback both sides are CPU-bound (about 1 ms of client CPU per request under the GIL, plus Prometheus's
own evaluation on the same 2 cores), so fewer requests is what saves time there; concurrency pays off once
requests wait on the network. The bench therefore also runs through a delay proxy adding a round-trip time
(default 10 ms, a Prometheus in another zone or behind an ingress) — both rows are printed, labelled.
Run: `.venv/bin/python bench/slo_queries.py` (needs Debian's `prometheus` package).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.slo.engine import evaluate
from bot.slo.model import BURN_WINDOWS, SLO, SLOStatus
from bot.slo.prometheus import PrometheusClient
from tests.fixtures_prometheus import MISSING, binaries, start_prometheus
from tests.processes import free_port
from tests.slo_data import availability_slo, generate

GOAL_SECONDS = 2.0
GOAL_SPEEDUP = 3.0
DEFAULT_WORKERS = 8


async def concurrent(slos: list[SLO], url: str, at: datetime, workers: int) -> list[SLOStatus]:
    client = PrometheusClient(url, max_workers=workers)
    try:
        return await evaluate(slos, client, at)
    finally:
        client.close()


class OneQueryPerFigure(PrometheusClient):
    """The naive client: every figure is its own request, as a loop over prometheus-api-client does."""

    async def query_figures(self, figures: dict[str, str], at: datetime) -> dict[str, float | None]:
        return {name: await self.query(promql, at) for name, promql in figures.items()}


async def sequential(slos: list[SLO], url: str, at: datetime, naive: bool) -> list[SLOStatus]:
    client = (OneQueryPerFigure if naive else PrometheusClient)(url, max_workers=1)
    try:
        return [(await evaluate([slo], client, at))[0] for slo in slos]
    finally:
        client.close()


async def timed(
    make: Callable[[], Awaitable[list[SLOStatus]]], runs: int
) -> tuple[list[float], list[SLOStatus]]:
    await make()  # warm-up: TSDB pages and connection set-up are not what we measure
    times: list[float] = []
    result: list[SLOStatus] = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await make()
        times.append(time.perf_counter() - started)
    return times, result


def same_figures(a: list[SLOStatus], b: list[SLOStatus]) -> bool:
    return len(a) == len(b) and all(
        x.error is None and x.error_ratio == y.error_ratio and x.burn_rates == y.burn_rates
        for x, y in zip(a, b, strict=True)
    )


def _serve_latency_proxy(listen_port: int, upstream_port: int, one_way: float, ready: Event) -> None:
    """TCP proxy adding a fixed one-way delay per direction, like a Prometheus in another zone.

    Runs in its own process so its work does not share the bench's GIL. Each chunk is due `one_way` seconds
    after it was read, so a response split into several chunks is not delayed several times.
    """

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + one_way, data))
        except ConnectionError:
            pass
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(ConnectionError):
            await sender

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer))

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
        ready.set()
        await server.serve_forever()

    asyncio.run(main())


@contextlib.contextmanager
def latency(url: str, rtt_ms: float) -> Iterator[str]:
    """`url` itself for 0 ms, else the URL of a proxy adding `rtt_ms` of round-trip time in front of it."""
    if rtt_ms <= 0:
        yield url
        return
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    port = free_port()
    upstream = int(url.rsplit(":", 1)[1])
    process = context.Process(
        target=_serve_latency_proxy, args=(port, upstream, rtt_ms / 2000, ready), daemon=True
    )
    process.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("latency proxy did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join(5)


Row = tuple[float, str, int, list[float]]


async def measure(
    slos: list[SLO], url: str, at: datetime, rtt_ms: float, runs: int, workers: list[int]
) -> tuple[list[Row], bool]:
    rows: list[Row] = []
    seq_times, baseline = await timed(lambda: sequential(slos, url, at, naive=True), runs)
    rows.append((rtt_ms, "sequential, one request per figure (naive loop)", 1, seq_times))
    batched_times, batched = await timed(lambda: sequential(slos, url, at, naive=False), runs)
    rows.append((rtt_ms, "sequential, one SLO at a time, batched figures", 1, batched_times))
    same = same_figures(batched, baseline)
    for n in workers:
        times, statuses = await timed(lambda n=n: concurrent(slos, url, at, n), runs)
        same = same and same_figures(statuses, baseline)
        rows.append((rtt_ms, f"concurrent (`evaluate`, asyncio.gather, {n} workers)", n, times))
    return rows, same


async def run(count: int, runs: int, workers: list[int], rtts: list[float]) -> int:
    prom = start_prometheus(generate(bench_services=count))
    slos = [
        availability_slo(f"svc-{n:02d}", objective=0.999, period=timedelta(days=30)) for n in range(count)
    ]
    rows: list[Row] = []
    same = True
    try:
        for rtt in rtts:
            with latency(prom.url, rtt) as url:
                found, ok = await measure(slos, url, prom.at, rtt, runs, workers)
            rows += found
            same = same and ok
    finally:
        prom.stop()

    per_slo = len(BURN_WINDOWS) + 4
    print(f"\n{count} SLOs × {per_slo} figures (period, {len(BURN_WINDOWS)} burn windows, bad+total events,")
    print(
        f"budget-history range): the naive loop sends {count * per_slo} requests, the bot {count * 2} "
        f"(one instant query with every figure, one range query); median of {runs} runs after a warm-up."
    )
    print(f"Machine: {os.cpu_count()} CPUs; Prometheus 2.42 on 127.0.0.1; added RTT via a TCP delay proxy.\n")
    print("| added RTT | variant | workers | median (s) | min (s) | max (s) | speed-up vs sequential |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    verdicts = []
    for rtt in rtts:
        mine = [r for r in rows if r[0] == rtt]
        seq = statistics.median(mine[0][3])
        for _, label, n, times in mine:
            median = statistics.median(times)
            print(
                f"| {rtt:g} ms | {label} | {n} | {median:.3f} | {min(times):.3f} | {max(times):.3f} "
                f"| {seq / median:.2f}× |"
            )
            if n == DEFAULT_WORKERS and label.startswith("concurrent"):
                verdicts.append(
                    f"- {rtt:g} ms RTT, default client ({n} workers): {median:.3f} s "
                    f"(goal < {GOAL_SECONDS:g} s: {'met' if median < GOAL_SECONDS else 'NOT met'}), "
                    f"{seq / median:.2f}× sequential (goal ≥ {GOAL_SPEEDUP:g}×: "
                    f"{'met' if seq / median >= GOAL_SPEEDUP else 'NOT met'})"
                )
    print()
    print("\n".join(verdicts))
    print(f"- concurrent and sequential figures identical: {'yes' if same else 'NO'}")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[4, DEFAULT_WORKERS, 16])
    parser.add_argument(
        "--rtt-ms",
        type=float,
        nargs="+",
        default=[0, 10],
        help="added round-trip times to measure (0 = direct)",
    )
    args = parser.parse_args()
    if binaries() is None:
        print(MISSING, file=sys.stderr)
        return 2
    return asyncio.run(run(args.slos, args.runs, args.workers, args.rtt_ms))


if __name__ == "__main__":
    sys.exit(main())
