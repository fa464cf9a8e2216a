"""Ack latency of `/incident` slash commands: 500 signed requests at concurrency 50.

The bot runs as its own process (`incidentbot serve`, SQLite in a temp dir) against the Slack stand-in,
so the client's work does not share the bot's event loop. Run: `.venv/bin/python bench/ack_latency.py`.
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
from pathlib import Path

import aiohttp

from bot.standin import SlackDriver, Workspace, start_standin

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret"


async def wait_healthy(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"bot did not become healthy at {url}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run(requests: int, concurrency: int, port: int) -> None:
    standin = await start_standin(Workspace())
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "INCIDENTBOT_SLACK_API_URL": standin.api_url,
            "INCIDENTBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            "INCIDENTBOT_CONFIG": str(ROOT / "examples" / "incidentbot.yml"),
            "INCIDENTBOT_PORT": str(port),
            "INCIDENTBOT_HOST": "127.0.0.1",
            "INCIDENTBOT_LOG_LEVEL": "WARNING",
        }
        cli = [sys.executable, "-m", "bot.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
        bot = subprocess.Popen([*cli, "serve"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_healthy(url)
            driver = SlackDriver(url, SECRET, standin.workspace, standin.url)
            rows = []
            for text in ("help", "list"):
                for _ in range(20):  # warm-up: first auth.test, connection pools
                    await driver.slash("U0ALICE000", "C0GENERAL0", text)
                latencies: list[float] = []
                failures = 0
                semaphore = asyncio.Semaphore(concurrency)

                async def one(text: str = text) -> None:
                    nonlocal failures
                    async with semaphore:
                        started = time.perf_counter()
                        response = await driver.slash("U0ALICE000", "C0GENERAL0", text)
                        latencies.append(time.perf_counter() - started)
                        failures += response.status != 200

                started = time.perf_counter()
                await asyncio.gather(*(one() for _ in range(requests)))
                wall = time.perf_counter() - started
                rows.append((f"/incident {text}", latencies, failures, wall))
            await driver.close()
        finally:
            bot.terminate()
            bot.wait(timeout=10)
            await standin.close()
    print(f"{requests} signed slash commands per row, concurrency {concurrency}, bot in its own process\n")
    print("| command | p50 ms | p90 ms | p99 ms | max ms | mean ms | req/s | failures |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, lat, failures, wall in rows:
        ms = [v * 1000 for v in lat]
        print(
            f"| `{name}` | {percentile(ms, 50):.1f} | {percentile(ms, 90):.1f} | {percentile(ms, 99):.1f} | "
            f"{max(ms):.1f} | {statistics.mean(ms):.1f} | {len(ms) / wall:.0f} | {failures} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--port", type=int, default=3917)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.concurrency, args.port))


if __name__ == "__main__":
    main()
