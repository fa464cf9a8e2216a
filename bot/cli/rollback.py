"""`incidentbot rollback-watch SERVICE VERSION [PREVIOUS] [--incident INC-N]`: arm a deploy's rollback
watch from a deploy pipeline. It only writes the watch's first (keyed) timer in the bot's database; the
serving bot's timer worker evaluates it, so the pipeline needs neither Slack nor Prometheus access.

Exit codes: 0 armed, 1 already watched, 2 usage or configuration error (unknown service, no Prometheus).
"""

from __future__ import annotations

import argparse
import sys

from bot.cli.db import DatabaseUnavailable, Sessions, read_database
from bot.cli.parsers import incident_number
from bot.config import AppConfig, Settings
from bot.domain import DomainError
from bot.services.incidents import utcnow
from bot.services.rollback import Arming, arm_watch
from bot.store import IncidentStore
from bot.timers import TimerStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    incident_id = None
    if args.incident is not None:
        incident_id = incident_number(args.incident)
        if incident_id is None:
            print(f"error: {args.incident!r} is not an incident number (12 or INC-12)", file=sys.stderr)
            return EXIT_USAGE

    async def arm(sessions: Sessions) -> str:
        store = IncidentStore(sessions)
        if incident_id is not None and await store.get(incident_id) is None:
            raise DomainError(f"there is no incident INC-{incident_id}")
        arming = Arming(TimerStore(sessions), store, utcnow(), settings.prometheus_url is not None)
        return await arm_watch(
            config, arming, args.service, args.version, args.previous, args.actor, incident_id
        )

    try:
        said = read_database(settings, arm)
    except (DatabaseUnavailable, DomainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(said.replace("`", "").removeprefix(":eyes: "))
    return EXIT_FAILED if "already watched" in said else EXIT_OK
