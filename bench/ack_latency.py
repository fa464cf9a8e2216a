"""Ack latency of `/incident` slash commands: 500 signed requests at concurrency 50, against a bare Bolt
app answering the same command with a fixed text in the same run (the yardstick: what Bolt, aiohttp and
signature checks cost by themselves).

The bot runs as its own process (`incidentbot serve`) against the Slack stand-in, with `--incidents`
open incidents (50 by default) so `/incident list` reads a real page, and the bare app runs as another
process; the client's work does not share either event loop. The CPU share shows who the bottleneck is
on a 2-core machine (the client signs and sends every request in the other process).

Run: `.venv/bin/python bench/ack_latency.py` (SQLite in a temp dir), or with
`--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test` to measure on PostgreSQL
(the bench migrates that database and leaves its tables in place).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from _bot import SIGNING_SECRET, bot_process, cpu_seconds, percentile, wait_healthy

from bot.domain import DeclareRequest
from bot.standin import SlackDriver, Workspace, start_standin
from bot.store import IncidentStore, db

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret"
USER, CHANNEL = "U0ALICE000", "C0GENERAL0"


@dataclass
class Row:
    command: str
    latencies_ms: list[float]
    failures: int
    wall_s: float
    bot_cpu_s: float | None
    baseline_p99: float | None = None
    """The bare Bolt app's p99 for the same command, measured just before."""


async def measure(driver: SlackDriver, text: str, requests: int, concurrency: int, pid: int) -> Row:
    for _ in range(20):  # warm-up: first auth.test, connection pools
        await driver.slash(USER, CHANNEL, text)
    latencies: list[float] = []
    failures = 0
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        nonlocal failures
        async with semaphore:
            started = time.perf_counter()
            response = await driver.slash(USER, CHANNEL, text)
            latencies.append((time.perf_counter() - started) * 1000)

            failures += response.status != 200

    gc.collect()
    gc.disable()  # a full collection in this process (the client) would stall every request in flight
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    wall = time.perf_counter() - started
    gc.enable()
    cpu_after = cpu_seconds(pid)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return Row(f"`/incident {text}`", latencies, failures, wall, cpu)


@asynccontextmanager
async def bare_bolt(api_url: str, port: int) -> AsyncIterator[tuple[str, int]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "_bare_bolt.py"), str(port), api_url, SIGNING_SECRET
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url)
        yield url, process.pid
    finally:
        process.terminate()
        await process.wait()


async def seed(database_url: str, count: int) -> None:
    """`count` open incidents, declared straight into the store (their Slack set-up plays no part here)."""
    engine = db.make_engine(database_url)
    store = IncidentStore(db.make_sessionmaker(engine))
    stamp = datetime.now(UTC)
    for number in range(count):
        request = DeclareRequest(f"Bench incident {number}: checkout errors", "SEV2", "Seeded.", USER)
        key = f"bench-{stamp.timestamp()}-{number}"
        await store.create(request, key, "investigating", "commander", stamp)
    await engine.dispose()


async def run(args: argparse.Namespace) -> list[Row]:
    standin = await start_standin(Workspace())
    try:
        async with (
            bare_bolt(standin.api_url, args.port + 1) as (bare_url, bare_pid),
            bot_process(standin.api_url, args.port, args.database_url) as bot,
        ):
            await seed(bot.database_url, args.incidents)
            bare = SlackDriver(bare_url, SIGNING_SECRET, standin.workspace, standin.url)
            driver = SlackDriver(bot.url, SIGNING_SECRET, standin.workspace, standin.url)
            rows: list[Row] = []
            for round_ in range(
                1, args.rounds + 1
            ):  # the yardstick next to each row: same machine, same load
                for text in args.commands:
                    yardstick = await measure(bare, text, args.requests, args.concurrency, bare_pid)
                    rows.append(replace(yardstick, command=f"bare Bolt, `/incident {text}` ({round_})"))
                    row = await measure(driver, text, args.requests, args.concurrency, bot.pid)
                    baseline = percentile(yardstick.latencies_ms, 99)
                    rows.append(replace(row, command=f"{row.command} ({round_})", baseline_p99=baseline))
            await bare.close()
            await driver.close()
    finally:
        await standin.close()
    return rows


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    backend = (args.database_url or "sqlite").split(":", 1)[0]
    print(
        f"\n{args.requests} signed slash commands per row, concurrency {args.concurrency}, "
        f"bot in its own process on {backend} with {args.incidents} open incidents, {os.cpu_count()} CPUs\n"
    )
    print(
        "| command | p50 ms | p90 ms | p99 ms | max ms | req/s | server CPU % | server CPU ms/req | failures "
        "| p99 / bare Bolt p99 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        ms = row.latencies_ms
        cpu = f"{100 * row.bot_cpu_s / row.wall_s:.0f}" if row.bot_cpu_s is not None else "n/a"
        per_request = f"{1000 * row.bot_cpu_s / len(ms):.2f}" if row.bot_cpu_s is not None else "n/a"
        ratio = f"{percentile(ms, 99) / row.baseline_p99:.2f}×" if row.baseline_p99 else "—"
        print(
            f"| {row.command} | {percentile(ms, 50):.1f} | {percentile(ms, 90):.1f} | "
            f"{percentile(ms, 99):.1f} | {max(ms):.1f} | {len(ms) / row.wall_s:.0f} | {cpu} | "
            f"{per_request} | {row.failures} | {ratio} |"
        )
    print()
    for text in args.commands:
        ratios = [
            percentile(row.latencies_ms, 99) / row.baseline_p99
            for row in rows
            if row.baseline_p99 and row.command.startswith(f"`/incident {text}`")
        ]
        print(
            f"`/incident {text}`: p99 / bare Bolt p99, median of {len(ratios)} rounds: "
            f"{statistics.median(ratios):.2f}×"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--port", type=int, default=3917)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--incidents", type=int, default=50, help="open incidents seeded before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="bare Bolt and the bot, one after the other")
    parser.add_argument("--commands", nargs="+", default=["help", "list"], help="subcommand texts")
    args = parser.parse_args()
    print_table(asyncio.run(run(args)), args)


if __name__ == "__main__":
    main()
