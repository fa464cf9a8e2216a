"""`incidentbot drill report`: past drills and their scores over time, per team and scenario, and the
scheduled game days nobody ran (a reminder with no drill of its scenario within `skipped_after_days`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import EventKind
from bot.drills.schedule import occurrences
from bot.drills.settings import DrillsConfig
from bot.store.models import IncidentRow, TimelineEventRow


@dataclass(frozen=True)
class PastDrill:
    incident_id: int
    started: datetime
    scenario: str
    team: str | None
    score: int


@dataclass
class History:
    drills: list[PastDrill] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


async def load_history(
    sessions: async_sessionmaker[AsyncSession],
    config: DrillsConfig,
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
) -> History:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(IncidentRow.id, IncidentRow.created_at, TimelineEventRow.data)
                .join(TimelineEventRow, TimelineEventRow.incident_id == IncidentRow.id)
                .where(
                    IncidentRow.drill.is_(True),
                    IncidentRow.created_at >= since - timedelta(days=config.skipped_after_days),
                    IncidentRow.created_at < until,
                    TimelineEventRow.kind == EventKind.DRILL_SCORED.value,
                )
                .order_by(IncidentRow.created_at)
            )
        ).all()
        started = (
            await session.execute(
                select(IncidentRow.created_at, IncidentRow.fields).where(
                    IncidentRow.drill.is_(True),
                    IncidentRow.created_at >= since,
                    IncidentRow.created_at < until,
                )
            )
        ).all()
    history = History(
        [
            PastDrill(
                r.id,
                r.created_at,
                str(r.data.get("scenario")),
                r.data.get("team"),
                int(r.data.get("score") or 0),
            )
            for r in rows
            if r.created_at >= since
        ]
    )
    runs = [(r.created_at, (r.fields or {}).get("drill_scenario")) for r in started]
    grace = timedelta(days=config.skipped_after_days)
    for entry in config.schedule:
        for due in occurrences(entry, since, min(until - grace, until), zone):
            if not any(scenario == entry.scenario and due <= at <= due + grace for at, scenario in runs):
                history.skipped.append(
                    {"scenario": entry.scenario, "due": due.isoformat(), "every": entry.every}
                )
    return history


def history_rows(history: History) -> list[dict[str, Any]]:
    return [
        {
            "started": d.started.isoformat(),
            "reference": f"INC-{d.incident_id}",
            "scenario": d.scenario,
            "team": d.team or "",
            "score": d.score,
        }
        for d in history.drills
    ]


def markdown(history: History) -> str:
    lines = [
        "# Drills",
        "",
        "| Started | Drill | Scenario | Team | Score |",
        "| --- | --- | --- | --- | ---: |",
    ]
    lines += [
        f"| {d.started:%Y-%m-%d} | INC-{d.incident_id} | {d.scenario} | {d.team or '—'} | {d.score} % |"
        for d in history.drills
    ] or ["| — | none in this window | | | |"]
    groups: dict[tuple[str, str], list[int]] = {}
    for d in history.drills:
        groups.setdefault((d.team or "—", d.scenario), []).append(d.score)
    if groups:
        lines += [
            "",
            "## Over time, per team and scenario",
            "",
            "| Team | Scenario | Drills | Scores (oldest first) |",
        ]
        lines += ["| --- | --- | ---: | --- |"]
        lines += [
            f"| {team} | {scenario} | {len(scores)} | {' → '.join(f'{s} %' for s in scores)} |"
            for (team, scenario), scores in sorted(groups.items())
        ]
    lines += ["", "## Scheduled drills skipped", ""]
    lines += [
        f"- {s['scenario']} ({s['every']}), due {s['due'][:16].replace('T', ' ')}" for s in history.skipped
    ] or ["- none"]
    return "\n".join(lines) + "\n"
