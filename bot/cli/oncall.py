"""`incidentbot oncall ical-token` and `incidentbot oncall report`.

`ical-token SUBJECT` issues a secret feed URL of a schedule or a person (the database keeps only the
token's SHA-256, so the URL is printed once and cannot be shown again: issue another); `--revoke` ends
every URL of the subject. `report` is the load and fairness report (formulas in the README, "On-call
load"), read-only like `incidentbot report`.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys

from bot.cli.db import DatabaseUnavailable, Sessions, read_database
from bot.cli.report import EXIT_OK, EXIT_USAGE, window
from bot.config import AppConfig, Settings
from bot.oncall.load_render import RENDERERS
from bot.oncall.load_source import load_report
from bot.oncall.rota_store import RotaStore
from bot.services.incidents import utcnow

SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def feed_url(config: AppConfig, token: str) -> str:
    base = (config.oncall.public_url or config.status_page.url).rstrip("/")
    return f"{base}/oncall/ical/{token}.ics"


class _Usage(Exception):
    """Said on standard error; the command exits 2."""


def _ical_token(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    subject = args.subject.strip()
    schedules = [s.id for s in config.oncall.schedules]
    if subject not in schedules and not SLACK_USER.match(subject):
        known = ", ".join(schedules) or "none configured"
        raise _Usage(f"{subject!r} is neither a schedule ({known}) nor a Slack user id (U…)")
    now = utcnow()
    token = secrets.token_urlsafe(24)

    async def work(sessions: Sessions) -> int:
        store = RotaStore(sessions)
        if args.revoke:
            return await store.revoke_feeds(subject, now)
        await store.add_feed(token, subject, now)
        return 1

    count = read_database(settings, work)
    if args.revoke:
        print(f"revoked {count} feed URL{'s' if count != 1 else ''} of {subject}")
    else:
        print(feed_url(config, token))
    return EXIT_OK


def _report(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    try:
        since, until = window(args.since, args.until, utcnow(), config.zone)
    except ValueError as exc:  # the report's own check of --since / --until
        raise _Usage(str(exc)) from None

    async def work(sessions: Sessions) -> str:
        report = await load_report(
            RotaStore(sessions), config.oncall, since, until, config.zone, include_drills=args.include_drills
        )
        return RENDERERS[args.format](report)

    sys.stdout.write(read_database(settings, work))
    return EXIT_OK


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    try:
        if args.oncall_command == "ical-token":
            return _ical_token(args, settings, config)
        return _report(args, settings, config)
    except (_Usage, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
