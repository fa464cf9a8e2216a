"""The communication plan in `incidentbot report`: per severity and audience, how soon the audience first
heard (median, p90 from the declaration), how many first deadlines were met or missed, how many were
waived ("Not needed"), and how often the update cadence was kept.

Rules: an incident counts under its severity at the end of the window; an audience counts for an
incident when the incident concerned it (its severity was in the audience's `first`) or it was told
anyway; a first deadline with no notice counts as missed once it has passed (by the resolution, or by
now for an open incident); cadence counts each gap between notices (and from the last one to the
resolution or now) against the audience's `every` for the incident's severity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.communication.plan import cadence, incident_plan
from bot.communication.settings import CommunicationConfig
from bot.domain import EventKind, Incident, TimelineEvent
from bot.formatting import human_duration
from bot.formatting.stats import median, p90
from bot.store import IncidentStore

KINDS = (
    EventKind.AUDIENCE_TOLD,
    EventKind.STATUS_PAGE_PUBLISHED,
    EventKind.CUSTOMER_CALL,
    EventKind.AUDIENCE_NOT_NEEDED,
    EventKind.SEVERITY_CHANGED,
)
"""The events the deadlines are derived from (the report reads these alone)."""


@dataclass(frozen=True)
class AudienceFigures:
    severity: str
    audience: str
    incidents: int
    told: int
    first_median: timedelta | None
    first_p90: timedelta | None
    met: int
    missed: int
    waived: int
    cadence_kept: int
    cadence_missed: int


@dataclass
class _Tally:
    incidents: int = 0
    firsts: list[timedelta] | None = None
    met: int = 0
    missed: int = 0
    waived: int = 0
    kept: int = 0
    late: int = 0


def communication_figures(
    section: CommunicationConfig,
    incidents: Sequence[Incident],
    timelines: Mapping[int, Sequence[TimelineEvent]],
    resolved_status: str,
    now: datetime,
    severities: Sequence[str] = (),
) -> list[AudienceFigures]:
    tallies: dict[tuple[str, str], _Tally] = {}
    for incident in incidents:
        timeline = timelines.get(incident.id, ())
        ended = incident.resolved_at or now
        for plan in incident_plan(section, incident, timeline, incident.status == resolved_status):
            tally = tallies.setdefault((incident.severity, plan.name), _Tally(firsts=[]))
            assert tally.firsts is not None
            tally.incidents += 1
            if plan.first_told is not None:
                tally.firsts.append(plan.first_told - incident.created_at)
            if plan.waiver is not None and plan.first_told is None:
                tally.waived += 1
            elif plan.first_due is not None and plan.met_first is True:
                tally.met += 1
            elif plan.first_due is not None and (plan.met_first is False or ended > plan.first_due):
                tally.missed += 1
            kept = cadence(plan, incident.severity, ended)
            tally.kept += kept.kept
            tally.late += kept.missed
    rank = {s: n for n, s in enumerate(dict.fromkeys([*severities, *(i.severity for i in incidents)]))}
    audiences = {a: n for n, a in enumerate(section.audiences)}
    ordered = sorted(tallies.items(), key=lambda kv: (rank[kv[0][0]], audiences.get(kv[0][1], 99)))
    return [
        AudienceFigures(
            severity=severity,
            audience=audience,
            incidents=tally.incidents,
            told=len(tally.firsts or []),
            first_median=median(tally.firsts) if tally.firsts else None,
            first_p90=p90(tally.firsts) if tally.firsts else None,
            met=tally.met,
            missed=tally.missed,
            waived=tally.waived,
            cadence_kept=tally.kept,
            cadence_missed=tally.late,
        )
        for (severity, audience), tally in ordered
    ]


async def load_communication(
    sessions: async_sessionmaker[AsyncSession],
    section: CommunicationConfig,
    resolved_status: str,
    severities: Sequence[str],
    since: datetime,
    until: datetime,
    now: datetime,
    include_drills: bool = False,
) -> list[AudienceFigures]:
    store = IncidentStore(sessions)
    incidents = [i for i in await store.declared_between(since, until) if include_drills or not i.drill]
    timelines = await store.timelines([i.id for i in incidents], KINDS)
    return communication_figures(section, incidents, timelines, resolved_status, now, severities)


def _human(delta: timedelta | None) -> str:
    return human_duration(delta) if delta is not None else "-"


def markdown(figures: Sequence[AudienceFigures]) -> str:
    lines = ["## Communication", ""]
    if not figures:
        return "\n".join([*lines, "No incident in the window concerned an audience of the plan.", ""])
    lines += [
        "| severity | audience | incidents | told | first notice median | p90 | deadline met | missed "
        "| not needed | cadence kept | late |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.severity} | {f.audience} | {f.incidents} | {f.told} | {_human(f.first_median)} "
            f"| {_human(f.first_p90)} | {f.met} | {f.missed} | {f.waived} | {f.cadence_kept} "
            f"| {f.cadence_missed} |"
        )
    lines += [
        "",
        "- first notice: declaration → the audience's first notice (a post, an e-mail, a status-page "
        "publication, or the last customer reached by phone)",
        "- cadence: gaps between notices within the audience's `every` for the severity",
        "",
    ]
    return "\n".join(lines)


def data(figures: Sequence[AudienceFigures]) -> list[dict[str, Any]]:
    def seconds(delta: timedelta | None) -> float | None:
        return delta.total_seconds() if delta is not None else None

    return [
        {
            "severity": f.severity,
            "audience": f.audience,
            "incidents": f.incidents,
            "told": f.told,
            "first_notice_median_seconds": seconds(f.first_median),
            "first_notice_p90_seconds": seconds(f.first_p90),
            "first_deadline_met": f.met,
            "first_deadline_missed": f.missed,
            "not_needed": f.waived,
            "cadence_kept": f.cadence_kept,
            "cadence_missed": f.cadence_missed,
        }
        for f in figures
    ]


def csv_rows(figures: Sequence[AudienceFigures]) -> list[dict[str, Any]]:
    """Rows in the report's CSV columns: `first_notice:<audience>` and `cadence:<audience>`."""
    rows: list[dict[str, Any]] = []
    for f in figures:
        rows.append(
            {
                "metric": f"first_notice:{f.audience}",
                "severity": f.severity,
                "samples": f.told,
                "median_seconds": f.first_median.total_seconds() if f.first_median else None,
                "p90_seconds": f.first_p90.total_seconds() if f.first_p90 else None,
                "numerator": f.met,
                "denominator": f.met + f.missed,
            }
        )
        rows.append(
            {
                "metric": f"cadence:{f.audience}",
                "severity": f.severity,
                "numerator": f.cadence_kept,
                "denominator": f.cadence_kept + f.cadence_missed,
            }
        )
    return rows
