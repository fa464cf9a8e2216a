"""What the benches share: the bot started as its own process (`incidentbot serve`), and small figures.

Not a bench itself (`make bench` skips files starting with `_`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_healthy(url: str, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
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


async def run_cli(env: dict[str, str], *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    if await process.wait() != 0:
        raise SystemExit(f"`incidentbot {' '.join(args)}` failed")


@dataclass(frozen=True)
class BotProcess:
    url: str
    pid: int
    database_url: str


@asynccontextmanager
async def bot_process(
    slack_api_url: str, port: int, database_url: str | None = None, **env: str
) -> AsyncIterator[BotProcess]:
    """The bot migrated and serving on 127.0.0.1:`port` (SQLite in a temp dir by default), then stopped."""
    with tempfile.TemporaryDirectory() as tmp:
        database = database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        environment = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "INCIDENTBOT_SLACK_API_URL": slack_api_url,
            "INCIDENTBOT_DATABASE_URL": database,
            "INCIDENTBOT_CONFIG": str(ROOT / "examples" / "incidentbot.yml"),
            "INCIDENTBOT_PORT": str(port),
            "INCIDENTBOT_HOST": "127.0.0.1",
            "INCIDENTBOT_LOG_LEVEL": "WARNING",
            **env,
        }
        await run_cli(environment, "db", "upgrade")
        bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "serve", env=environment)
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_healthy(url)
            yield BotProcess(url, bot.pid, database)
        finally:
            bot.terminate()
            await bot.wait()
