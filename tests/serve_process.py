"""`incidentbot serve` as its own process against the stand-in, for tests that kill it (`kill -9`) or
stop it (SIGTERM) and start it again on the same database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bot.standin import RunningStandin, SlackDriver
from tests.processes import free_port, log_tail

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "incidentbot.yml"
SIGNING_SECRET = "serve-process-signing-secret"
WEBHOOK_TOKEN = "serve-process-webhook-token"


def config_file(directory: Path, **sections: Any) -> Path:
    """The example config with some top-level sections replaced (or, for dicts, merged one level)."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    examples = EXAMPLE_CONFIG.parent
    config["slos"] = [str(examples / "slos")]
    config["runbooks"]["directory"] = str(examples / "runbooks")
    config["postmortems"]["directory"] = str(directory / "postmortems")
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(name), dict):
            config[name] = {**config[name], **value}
        else:
            config[name] = value
    path = directory / "incidentbot.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class BotServer:
    """One bot process at a time on a fixed port and database; `kill` and `start` again at will."""

    database_url: str
    standin: RunningStandin
    config: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": "xoxb-serve-process",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "INCIDENTBOT_SLACK_API_URL": self.standin.api_url,
            "INCIDENTBOT_DATABASE_URL": self.database_url,
            "INCIDENTBOT_CONFIG": str(self.config),
            "INCIDENTBOT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "INCIDENTBOT_PORT": str(self.port),
            "INCIDENTBOT_HOST": "127.0.0.1",
            "INCIDENTBOT_LOG_LEVEL": "INFO",
        }

    async def start(self, within_s: float = 30.0) -> None:
        self.starts += 1
        with self.log.open("a") as out:
            out.write(f"\n===== start {self.starts} =====\n")
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "serve", env=self.env(), cwd=ROOT, stdout=out, stderr=out
            )
        deadline = time.monotonic() + within_s
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(
                        f"bot exited with {self.process.returncode}:\n{log_tail(self.log, 40)}"
                    )
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status in (200, 503):
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"bot not serving after {within_s:g} s:\n{log_tail(self.log, 40)}")

    async def kill(self) -> None:
        """kill -9: no shutdown handler runs, nothing is flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self, within_s: float = 30.0) -> int:
        """SIGTERM, as a deploy does; returns the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.terminate()
        return await asyncio.wait_for(self.process.wait(), within_s)

    def driver(self) -> SlackDriver:
        return SlackDriver(self.url, SIGNING_SECRET, self.standin.workspace, self.standin.url)


@asynccontextmanager
async def bot_server(
    database_url: str, standin: RunningStandin, tmp_path: Path, **config: Any
) -> AsyncIterator[BotServer]:
    server = BotServer(database_url, standin, config_file(tmp_path, **config), tmp_path / "bot.log")
    await server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.returncode is None:
            server.process.kill()
            await server.process.wait()
