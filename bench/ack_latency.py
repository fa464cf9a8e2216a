"""Ack latency of `/incident` slash commands: 500 signed requests at concurrency 50.

The bot runs as its own process (`incidentbot serve`) against the Slack stand-in, so the client's work
does not share the bot's event loop. The bot's CPU share shows who the bottleneck is on a 2-core machine
(the client signs and sends every request in the other process).

Run: `.venv/bin/python bench/ack_latency.py` (SQLite in a temp dir), or with
`--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test` to measure on PostgreSQL
(the bench migrates that database and leaves its tables in place).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from _bot import SIGNING_SECRET, bot_process, cpu_seconds, percentile

from bot.standin import SlackDriver, Workspace, start_standin

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

    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    wall = time.perf_counter() - started
    cpu_after = cpu_seconds(pid)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return Row(f"/incident {text}", latencies, failures, wall, cpu)


async def run(args: argparse.Namespace) -> list[Row]:
    standin = await start_standin(Workspace())
    try:
        async with bot_process(standin.api_url, args.port, args.database_url) as bot:
            driver = SlackDriver(bot.url, SIGNING_SECRET, standin.workspace, standin.url)
            rows = [
                await measure(driver, text, args.requests, args.concurrency, bot.pid)
                for text in args.commands
            ]
            await driver.close()
    finally:
        await standin.close()
    return rows


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    backend = (args.database_url or "sqlite").split(":", 1)[0]
    print(
        f"\n{args.requests} signed slash commands per row, concurrency {args.concurrency}, "
        f"bot in its own process on {backend}, {os.cpu_count()} CPUs\n"
    )
    print("| command | p50 ms | p90 ms | p99 ms | max ms | mean ms | req/s | bot CPU % | failures |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        ms = row.latencies_ms
        cpu = f"{100 * row.bot_cpu_s / row.wall_s:.0f}" if row.bot_cpu_s is not None else "n/a"
        print(
            f"| `{row.command}` | {percentile(ms, 50):.1f} | {percentile(ms, 90):.1f} | "
            f"{percentile(ms, 99):.1f} | {max(ms):.1f} | {statistics.mean(ms):.1f} | "
            f"{len(ms) / row.wall_s:.0f} | {cpu} | {row.failures} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--port", type=int, default=3917)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--commands", nargs="+", default=["help", "list"], help="subcommand texts")
    args = parser.parse_args()
    print_table(asyncio.run(run(args)), args)


if __name__ == "__main__":
    main()
