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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.catalog import report as rto_report
from bot.catalog.report import RtoTables, load_rto
from bot.changes import dora
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


class BadArgument(ValueError):
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
            raise BadArgument(f"{text!r}: give a duration longer than zero")
        return reference - delta
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadArgument(
            f"{text!r} is neither a duration (30d, 12w, 24h) "
            "nor an ISO date or time (2026-03-01, 2026-03-01T12:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def window(since: str, until: str | None, now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    end = moment(until, now, zone) if until else now
    start = moment(since, end, zone)
    if start >= end:
        raise BadArgument(f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})")
    return start, end


@dataclass(frozen=True)
class Section:
    """A section appended to the report in every format: its JSON key and data, CSV rows, Markdown."""

    key: str
    data: Any
    csv_rows: list[dict[str, Any]]
    markdown: str


def _with_sections(fmt: str, rendered: str, sections: list[Section]) -> str:
    """The communication and RTO figures in the same format: Markdown sections, JSON keys, CSV rows."""
    if fmt == "json":
        merged = {**json.loads(rendered), **{s.key: s.data for s in sections}}
        return json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        for section in sections:
            writer.writerows(section.csv_rows)
        return rendered + out.getvalue()
    return rendered.rstrip("\n") + "".join("\n\n" + s.markdown.rstrip("\n") for s in sections) + "\n"


def _dora(
    args: argparse.Namespace, settings: Settings, config: AppConfig, since: datetime, until: datetime
) -> int:
    production = config.changes.production

    async def load(sessions: Sessions) -> dora.Dora:
        return await dora.load_dora(sessions, production, since, until, args.service, args.include_drills)

    try:
        report = read_database(settings, load)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        sys.stdout.write(json.dumps(dora.data(report), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, dora.CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(dora.csv_rows(report))
        sys.stdout.write(out.getvalue())
    else:
        sys.stdout.write(dora.markdown(report))
    return EXIT_OK


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    now = utcnow()
    try:
        since, until = window(args.since or ("90d" if args.dora else "30d"), args.until, now, config.zone)
    except BadArgument as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.dora:
        return _dora(args, settings, config, since, until)
    if args.service:
        print("error: --service goes with --dora", file=sys.stderr)
        return EXIT_USAGE
    severities = [s.id for s in config.severities]

    async def load(sessions: Sessions) -> tuple[Report, list[AudienceFigures], RtoTables]:
        report = await load_report(sessions, config, since, until, now, args.include_drills)
        told = await load_communication(
            sessions,
            config.communication,
            config.resolved_status,
            severities,
            since,
            until,
            now,
            args.include_drills,
        )
        rto = await load_rto(sessions, config.catalog, since, until, now, args.include_drills)
        return report, told, rto

    try:
        report, told, rto = read_database(settings, load)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sections = [
        Section("communication", comm.data(told), comm.csv_rows(told), comm.markdown(told)),
        Section("rto", rto_report.data(rto), rto_report.csv_rows(rto), rto_report.markdown(rto)),
    ]
    sys.stdout.write(_with_sections(args.format, RENDERERS[args.format](report), sections))
    if args.check and report.missed:
        for line in report.missed:
            print(f"target missed: {line}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
