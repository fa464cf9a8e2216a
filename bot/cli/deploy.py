"""`incidentbot deploy record --service api --version v1.4.2 [...]`: a pipeline tells the bot of a deploy.

It writes the deploy (and its job) in the bot's database; the serving bot's worker arms a rollback watch
and tells open incidents, so the pipeline needs neither Slack nor Prometheus access.

Exit codes: 0 recorded (or already recorded), 2 usage, configuration or database error.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from bot.changes.deploys import DeployNotice, InvalidNotice, generic_notice
from bot.changes.store import DeployStore
from bot.cli.db import DatabaseUnavailable, Sessions, read_database
from bot.config import AppConfig, Settings
from bot.services.incidents import utcnow

EXIT_OK, EXIT_USAGE = 0, 2


def _notice(args: argparse.Namespace, config: AppConfig) -> DeployNotice:
    given = {
        "service": args.service,
        "version": args.version,
        "environment": args.environment,
        "commit": args.commit,
        "commit_time": args.commit_time,
        "url": args.url,
        "status": args.status,
        "deployed_at": args.deployed_at,
        "canary_percent": args.canary,
        "id": args.id,
    }
    return generic_notice({k: v for k, v in given.items() if v is not None}, config.changes)


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    try:
        notice = _notice(args, config)
    except (InvalidNotice, ValidationError) as exc:
        print(f"error: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return EXIT_USAGE

    async def record(sessions: Sessions) -> str:
        recorded = await DeployStore(sessions).record(notice, notice.key("cli"), "cli", utcnow())
        deploy = recorded.deploy
        previous = f", replacing {deploy.previous_version}" if deploy.previous_version else ""
        return f"{recorded.outcome}: deploy #{deploy.id} {deploy.describe()}{previous}"

    try:
        print(read_database(settings, record))
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if config.service(notice.service) is None:
        print(
            f"warning: {notice.service!r} is not a known service: no incident will match it", file=sys.stderr
        )
    return EXIT_OK
