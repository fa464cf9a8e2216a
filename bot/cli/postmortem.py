"""`incidentbot postmortem show INCIDENT [--output FILE]`: the post-mortem compiled from the database,
without Slack — for a CI job that commits post-mortems, or to read one where Slack is not at hand."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.db import DatabaseUnavailable, Sessions, read_database
from bot.cli.parsers import incident_number
from bot.communication.plan import records
from bot.config import AppConfig, Settings
from bot.postmortem.compile import Facts, compile_postmortem, file_name
from bot.postmortem.store import ActionItemStore, PostmortemStore
from bot.services.incidents import utcnow
from bot.store import IncidentStore
from bot.templating import Templates

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


async def _compile(sessions: Sessions, config: AppConfig, incident_id: int) -> tuple[str, str] | None:
    incidents = IncidentStore(sessions)
    incident = await incidents.get(incident_id)
    if incident is None:
        return None
    postmortem = await PostmortemStore(sessions).get(incident_id)
    events = await incidents.timeline(incident_id)
    now = utcnow()
    facts = Facts(
        incident=incident,
        events=events,
        narrative=postmortem.narrative if postmortem else {},
        actions=await ActionItemStore(sessions).for_incident(incident_id),
        config=config,
        now=now,
        status=postmortem.status if postmortem else "draft",
        names=postmortem.names if postmortem else {},
        communication=records(
            config.communication, incident, events, incident.status == config.resolved_status, now
        ),
    )
    return compile_postmortem(facts, Templates(config)), file_name(incident, config.zone)


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    incident_id = incident_number(args.incident)
    if incident_id is None:
        print(f"error: {args.incident!r} is not an incident number (12 or INC-12)", file=sys.stderr)
        return EXIT_USAGE
    try:
        compiled = read_database(settings, lambda sessions: _compile(sessions, config, incident_id))
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if compiled is None:
        print(f"error: there is no incident INC-{incident_id}", file=sys.stderr)
        return EXIT_FAILED
    document, name = compiled
    if not args.output:
        sys.stdout.write(document)
        return EXIT_OK
    target = Path(args.output)
    target = target / name if target.is_dir() else target
    target.write_text(document, encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return EXIT_OK
