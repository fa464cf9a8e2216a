"""`incidentbot sandbox`: its arguments, kept light so `incidentbot --help` loads no server code."""

from __future__ import annotations

import argparse
import asyncio
import os

from bot.config import Settings


def run_cli(args: argparse.Namespace, settings: Settings) -> int:
    from bot.sandbox.run import run_sandbox

    return asyncio.run(
        run_sandbox(
            settings,
            config_path=args.config,
            port=args.port,
            database_url=args.database_url,
            drill=args.drill,
        )
    )


def fallback_allowed() -> bool:
    """`serve` falls back to the sandbox unless INCIDENTBOT_SANDBOX=off (the Docker image sets it: a
    production container without its token must stop, not turn healthy on a loopback-only sandbox)."""
    return os.environ.get("INCIDENTBOT_SANDBOX", "").strip().lower() not in {"off", "0", "false", "no"}


async def serve_without_slack(settings: Settings, missing: list[str]) -> int:
    """`incidentbot serve` without SLACK_BOT_TOKEN: say what would connect Slack, then run the sandbox."""
    import sys

    from bot.sandbox.run import run_sandbox

    print(
        "No SLACK_BOT_TOKEN: starting the local sandbox instead (nothing is sent to Slack). "
        "To connect a real Slack workspace set " + " and ".join(missing) + " (in the environment or in "
        ".env); create the app from manifest.yml at https://api.slack.com/apps — see README.md.",
        file=sys.stderr,
        flush=True,
    )
    return await run_sandbox(settings)
