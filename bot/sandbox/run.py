"""Start the sandbox: the Slack stand-in, the bot pointed at it and the sandbox page, in one process.

The bot is the real one (`build_runtime`, Bolt's signature checks on, the durable timers running); only
Slack is played, by `bot.standin`. The page acts through `SlackDriver`, so every click reaches the bot
as a signed request to `/slack/events`, exactly as from Slack. Everything listens on 127.0.0.1 only:
the page has no login, and anybody who reaches it can act as any of the seeded users.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.config import AppConfig, ConfigError, Settings, load_config
from bot.integrations.pagers import PagingConfig
from bot.sandbox.app import Sandbox, add_sandbox_routes
from bot.server import Runtime, build_runtime, make_web_app
from bot.standin import RunningStandin, SlackDriver, Workspace, start_standin
from bot.store import db

HOST = "127.0.0.1"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost"})
PAGE_PATH = "/sandbox"
EXIT_OK, EXIT_USAGE = 0, 2

ANNOUNCEMENTS, MANAGEMENT = "C0INCIDENT", "C0MGMT0000"
"""The stand-in's seeded #incidents and #incident-management channels."""

SANDBOX_DEFAULTS: dict[str, Any] = {
    "channels": {"announcements": ANNOUNCEMENTS, "management": MANAGEMENT},
    "oncall": {
        "schedules": [
            {
                "id": "primary",
                "name": "Primary on-call",
                "timezone": "UTC",
                "layers": [
                    {
                        "name": "weekly",
                        "users": ["U0ALICE000", "U0BOB00000", "U0CAROL000"],
                        "rotation": "weekly",
                        "handoff_day": "monday",
                        "handoff": "09:00",
                        "start": "2026-01-05",
                    }
                ],
            }
        ],
        "escalation": {severity: [{"notify": {"schedule": "primary"}}] for severity in ("SEV1", "SEV2")},
    },
}
"""Built-in defaults made to fit the stand-in: its channels, and a rotation of its people to page."""

_USER_ID = re.compile(r"[UW](?=[A-Z]*[0-9])[A-Z0-9]{8,}")
_CHANNEL_ID = re.compile(r"[CG](?=[A-Z]*[0-9])[A-Z0-9]{8,}")


class SandboxError(Exception):
    """The sandbox cannot start as asked (a usage problem: exit code 2)."""


def check_host(host: str) -> str:
    """The sandbox has no authentication: it serves the loopback interface and nothing else."""
    if host not in LOOPBACK_NAMES:
        raise SandboxError(
            f"the sandbox listens on {HOST} only (asked for {host}): it has no login and anybody reaching "
            "it could act as any user; run the real bot with a Slack app for anything shared"
        )
    return HOST


@dataclass(frozen=True)
class ConfigChoice:
    path: Path
    """Where relative paths in the config (runbooks, SLOs, templates) are resolved from."""
    config: AppConfig
    source: str


def checkout_example() -> Path | None:
    """The repository's examples/incidentbot.yml, when running from a checkout (not from a wheel)."""
    example = Path(__file__).resolve().parents[2] / "examples" / "incidentbot.yml"
    return example if example.is_file() else None


def choose_config(explicit: Path | None, settings: Settings) -> ConfigChoice:
    """--config, else INCIDENTBOT_CONFIG if that file exists, else the checkout's example, else defaults."""
    if explicit is not None:
        if not explicit.is_file():
            raise SandboxError(f"--config {explicit}: no such file")
        return ConfigChoice(explicit, load_config(explicit), f"{explicit} (--config)")
    if settings.config.is_file():
        return ConfigChoice(
            settings.config, load_config(settings.config), f"{settings.config} (INCIDENTBOT_CONFIG)"
        )
    missing = (
        f"; INCIDENTBOT_CONFIG={settings.config} not found" if "config" in settings.model_fields_set else ""
    )
    example = checkout_example()
    if example is not None:
        return ConfigChoice(example, load_config(example), f"{example} (the repository's example{missing})")
    return ConfigChoice(
        settings.config,
        AppConfig.model_validate(SANDBOX_DEFAULTS),
        "built-in defaults (announcements in #incidents, management summaries in #incident-management, "
        f"alice/bob/carol on call{missing})",
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _strings(item)


def adopt_config_ids(workspace: Workspace, config: AppConfig) -> list[str]:
    """Add the people and channels a team's own config names (by Slack id) to the stand-in workspace.

    A real config points at the team's workspace; without this the sandbox would answer every invite,
    page and announcement with `user_not_found` / `channel_not_found`.
    """
    notes: list[str] = []
    people = {u.id for u in workspace.users.values() if not u.is_bot}
    named = {config.channels.announcements: "announcements", config.channels.management: "management"}
    for text in sorted(set(_strings(config.model_dump(mode="json")))):
        if _USER_ID.fullmatch(text) and text not in workspace.users:
            name = f"user-{text.lower()}"
            workspace.add_user(text, name, f"User {text}", name, join_seeded_channels=True)
            notes.append(f"user {text} (as @{name})")
        elif _CHANNEL_ID.fullmatch(text) and text not in workspace.channels:
            name = named.get(text) or f"channel-{text.lower()}"
            if workspace.channel_by_name(name) is not None:
                name = f"{name}-{text.lower()}"
            workspace.add_channel(name, channel_id=text, members=set(people))
            notes.append(f"channel {text} (as #{name})")
    return notes


def sandbox_config(config: AppConfig, postmortems: Path) -> AppConfig:
    """No real pager is called from a sandbox, and post-mortems are written to its own directory."""
    return config.model_copy(
        update={
            "paging": PagingConfig(),
            "postmortems": config.postmortems.model_copy(update={"directory": postmortems}),
        }
    )


@dataclass
class RunningSandbox:
    """Everything one sandbox run holds; `close()` stops it and removes its temporary files."""

    url: str
    """The page: http://127.0.0.1:PORT/sandbox"""
    base_url: str
    workspace: Workspace
    standin: RunningStandin
    runtime: Runtime
    driver: SlackDriver
    runner: web.AppRunner
    lines: list[str] = field(default_factory=list)
    """What the terminal shows: config, database, features that are off, the address."""
    temp_dir: Path | None = None

    async def close(self) -> None:
        try:
            await self.driver.close()  # first: its keep-alive connections would hold up the server's exit
            await self.runner.cleanup()
            await self.runtime.close()
            await self.standin.close()
        finally:
            if self.temp_dir is not None:
                shutil.rmtree(self.temp_dir, ignore_errors=True)


async def start_sandbox(
    settings: Settings,
    *,
    config_path: Path | None = None,
    port: int = 3000,
    database_url: str | None = None,
    host: str = HOST,
) -> RunningSandbox:
    """Start stand-in, bot and page; `port=0` picks a free port (tests)."""
    host = check_host(host)
    choice = choose_config(config_path, settings)
    temp_dir = Path(tempfile.mkdtemp(prefix="incidentbot-sandbox-"))
    cleanups: list[Any] = []
    try:
        lines = ["incidentbot sandbox: a local stand-in for Slack; nothing is sent to a Slack workspace."]
        lines.append(f"Config: {choice.source}")
        if database_url is None:
            database_url = f"sqlite+aiosqlite:///{temp_dir / 'sandbox.db'}"
            lines.append(
                f"Database: a fresh SQLite file in {temp_dir}, deleted on exit (the sandbox's Slack lives in "
                "memory, so old incidents would point at channels that are gone); --database-url keeps one"
            )
        else:
            lines.append(f"Database: {db.masked(database_url)} (migrated to the current schema)")
        try:
            await db.upgrade(database_url)
        except Exception as exc:  # a bad --database-url: say so in one line, as `serve` does
            raise SandboxError(f"cannot prepare the database {db.masked(database_url)}: {exc}") from exc
        postmortems = temp_dir / "postmortems"
        config = sandbox_config(choice.config, postmortems)
        workspace = Workspace()
        adopted = adopt_config_ids(workspace, config)
        if adopted:
            lines.append("Added to the sandbox workspace, as your config names them: " + ", ".join(adopted))
        lines.append(f"Post-mortems: written to {postmortems} (removed on exit)")
        if choice.config.paging.pagerduty or choice.config.paging.opsgenie:
            lines.append(
                "Paging providers (PagerDuty, Opsgenie): off in the sandbox; pages are Slack DMs here"
            )
        if not settings.prometheus_url:
            lines.append("Prometheus: not configured (INCIDENTBOT_PROMETHEUS_URL); /incident slo says so")

        standin = await start_standin(workspace, HOST, 0)
        cleanups.append(standin.close)
        signing_secret = secrets.token_hex(16)
        bot_settings = settings.model_copy(
            update={
                "slack_bot_token": SecretStr(f"xoxb-sandbox-{secrets.token_hex(8)}"),
                "slack_signing_secret": SecretStr(signing_secret),
                "slack_app_token": None,
                "slack_api_url": standin.api_url,
                "database_url": database_url,
                "config": choice.path,
                "host": host,
                "port": port,
            }
        )
        runtime = await build_runtime(bot_settings, config)
        cleanups.append(runtime.close)
        runtime.start()
        app = make_web_app(runtime)
        runner = web.AppRunner(app, access_log=None)
        # The driver needs the bot's address, known once the socket is bound: it is filled in below.
        driver = SlackDriver("http://127.0.0.1", signing_secret, workspace, standin.url)
        cleanups.append(driver.close)
        add_sandbox_routes(app, Sandbox(workspace, driver))
        await runner.setup()
        cleanups.append(runner.cleanup)
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise SandboxError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        bound = runner.addresses[0][1]
        base_url = f"http://{host}:{bound}"
        driver.url = base_url + "/slack/events"
        url = base_url + PAGE_PATH
        lines.append(f"Sandbox: {url}")
        return RunningSandbox(
            url=url,
            base_url=base_url,
            workspace=workspace,
            standin=standin,
            runtime=runtime,
            driver=driver,
            runner=runner,
            lines=lines,
            temp_dir=temp_dir,
        )
    except BaseException:
        for cleanup in reversed(cleanups):
            with contextlib.suppress(Exception):
                await cleanup()
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise


async def run_sandbox(
    settings: Settings,
    *,
    config_path: Path | None = None,
    port: int | None = None,
    database_url: str | None = None,
    stop: asyncio.Event | None = None,
    drill: str | None = None,
) -> int:
    """Serve the sandbox until SIGINT/SIGTERM (or `stop`); prints where it is and what it uses. With
    `drill`, Alice starts that scenario at once with Bob (`make drill SCENARIO=db-down`)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a fresh database each run: no news
    try:
        sandbox = await start_sandbox(
            settings,
            config_path=config_path,
            port=settings.port if port is None else port,
            database_url=database_url,
        )
    except (SandboxError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if "host" in settings.model_fields_set and settings.host not in LOOPBACK_NAMES:
        sandbox.lines.insert(
            -1, f"INCIDENTBOT_HOST={settings.host} is ignored: the sandbox listens on {HOST} only"
        )
    if drill is not None:
        sandbox.lines.insert(-1, await _start_drill(sandbox, drill))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        for line in sandbox.lines:
            print(line, flush=True)
        print("Stop it with Ctrl-C.", flush=True)
        await stop.wait()
    finally:
        await sandbox.close()
    return EXIT_OK


async def _start_drill(sandbox: RunningSandbox, scenario: str) -> str:
    """The drill as Alice would start it: a signed `/incident drill` in #general."""
    general = sandbox.workspace.channel_by_name("general")
    if general is None:
        return "no #general in the sandbox: start the drill with /incident drill"
    response = await sandbox.driver.slash("U0ALICE000", general.id, f"drill {scenario} <@U0BOB00000>")
    said = response.json.get("text") if isinstance(response.json, dict) else None
    return f"Drill: {said or 'asked for'} (Alice and Bob take part; open the drill-… channel)"
