"""`incidentbot report`: the incident metrics report (MTTD/MTTA/MTTM/MTTR per severity against their
targets, incidents per month, repeats, post-mortem and action item completion) from the database.

The window is [since, until). `--since` is a duration counted back from `--until` (30d, 12w) or an ISO
date or time; `--until` is an ISO date or time, or a duration counted back from now; dates and times
without a zone are in the config's time zone, and a date means its midnight (so `--until 2026-04-01`
ends the window with March 31).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.cli.db import DatabaseUnavailable, Sessions, read_database
from bot.communication import report as comm
from bot.communication.report import AudienceFigures, load_communication
from bot.config import AppConfig, Settings
from bot.postmortem.report import RENDERERS, load_report
from bot.postmortem.report_figures import Report
from bot.postmortem.report_render import CSV_COLUMNS
from bot.services.incidents import utcnow
from bot.settings import parse_duration

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _BadArgument(ValueError):
    pass


def moment(text: str, reference: datetime, zone: ZoneInfo) -> datetime:
    """`30d` (that long before `reference`) or an ISO date/time (without a zone: in `zone`)."""
    text = text.strip()
    try:
        delta = parse_duration(text)
    except ValueError:
        pass
    else:
        if delta <= timedelta(0):
            raise _BadArgument(f"{text!r}: give a duration longer than zero")
        return reference - delta
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _BadArgument(
            f"{text!r} is neither a duration (30d, 12w, 24h) "
            "nor an ISO date or time (2026-03-01, 2026-03-01T12:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def window(since: str, until: str | None, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    end = moment(until, now, zone) if until else now
    start = moment(since, end, zone)
    if start >= end:
        raise _BadArgument(f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})")
    return start, end


def _with_communication(fmt: str, rendered: str, told: list[AudienceFigures]) -> str:
    """The communication figures in the same format: a Markdown section, a JSON key, CSV rows."""
    if fmt == "json":
        return (
            json.dumps(
                {**json.loads(rendered), "communication": comm.data(told)}, indent=2, ensure_ascii=False
            )
            + "\n"
        )
    if fmt == "csv":
        out = io.StringIO()
        csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n").writerows(comm.csv_rows(told))
        return rendered + out.getvalue()
    return rendered.rstrip("\n") + "\n\n" + comm.markdown(told)


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    now = utcnow()
    try:
        since, until = window(args.since, args.until, now, config.zone)
    except _BadArgument as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    severities = [s.id for s in config.severities]

    async def load(sessions: Sessions) -> tuple[Report, list[AudienceFigures]]:
        report = await load_report(sessions, config, since, until, now)
        told = await load_communication(
            sessions, config.communication, config.resolved_status, severities, since, until, now
        )
        return report, told

    try:
        report, told = read_database(settings, load)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(_with_communication(args.format, RENDERERS[args.format](report), told))
    if args.check and report.missed:
        for line in report.missed:
            print(f"target missed: {line}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
