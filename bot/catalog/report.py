"""The catalog in `incidentbot report`: RTO met or missed per service and per tier, and the MTTR of each
service against its RTO.

Rules: an incident counts when it was declared in the window on a catalog service that has an RTO (the
RTO the catalog gives now: a changed RTO re-judges the past, as a changed target does elsewhere in the
report). Resolved within the RTO of its declaration: met; resolved later: missed; still open and older
than the RTO: missed; still open and younger: open (not judged yet). MTTR is the mean declaration →
resolution of the service's resolved incidents; it is "within" its RTO when not longer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.catalog.backstage import duration_text
from bot.catalog.settings import CatalogConfig
from bot.domain import Incident
from bot.formatting import human_duration
from bot.store import IncidentStore


@dataclass
class RtoFigures:
    """One service (`tier` set, `service` its id) or one tier (`service` empty)."""

    service: str
    tier: int | None
    rto: timedelta | None
    incidents: int = 0
    met: int = 0
    missed: int = 0
    open: int = 0
    durations: list[timedelta] = field(default_factory=list)

    @property
    def mttr(self) -> timedelta | None:
        return sum(self.durations, timedelta()) / len(self.durations) if self.durations else None

    @property
    def attainment(self) -> float | None:
        judged = self.met + self.missed
        return self.met / judged if judged else None

    @property
    def mttr_verdict(self) -> str:
        if self.mttr is None or self.rto is None:
            return "-"
        return "within" if self.mttr <= self.rto else "over"


RtoTables = tuple[list[RtoFigures], list[RtoFigures]]


def rto_figures(section: CatalogConfig, incidents: Sequence[Incident], now: datetime) -> RtoTables:
    """(per service in catalog order, per tier in tier order)."""
    services = {c.id: RtoFigures(c.id, c.tier, c.rto) for c in section.components if c.rto is not None}
    tiers: dict[int | None, RtoFigures] = {}
    for incident in incidents:
        figures = services.get(incident.service or "")
        if figures is None or figures.rto is None:
            continue
        tier = tiers.setdefault(figures.tier, RtoFigures("", figures.tier, None))
        taken = incident.time_to_resolve()
        for row in (figures, tier):
            row.incidents += 1
            if taken is not None:
                row.durations.append(taken)
        verdict = _verdict(incident, figures.rto, now)
        for row in (figures, tier):
            setattr(row, verdict, getattr(row, verdict) + 1)
    per_service = [f for f in services.values() if f.incidents]
    per_tier = [tiers[t] for t in sorted(tiers, key=lambda t: (t is None, t or 0))]
    return per_service, per_tier


def _verdict(incident: Incident, rto: timedelta, now: datetime) -> str:
    taken = incident.time_to_resolve()
    if taken is not None:
        return "met" if taken <= rto else "missed"
    return "missed" if now - incident.created_at > rto else "open"


async def load_rto(
    sessions: async_sessionmaker[AsyncSession],
    section: CatalogConfig,
    since: datetime,
    until: datetime,
    now: datetime,
    include_drills: bool = False,
) -> RtoTables:
    """Drills are left out unless asked for: practice does not spend a service's recovery record."""
    incidents = await IncidentStore(sessions).declared_between(since, until)
    return rto_figures(section, [i for i in incidents if include_drills or not i.drill], now)


def _human(delta: timedelta | None) -> str:
    return human_duration(delta) if delta is not None else "-"


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "-"


def _tier(tier: int | None) -> str:
    return f"tier {tier}" if tier else "no tier"


def markdown(figures: RtoTables) -> str:
    per_service, per_tier = figures
    lines = ["## Recovery time objectives", ""]
    if not per_service:
        return "\n".join([*lines, "No incident in the window was on a catalog service with an RTO.", ""])
    lines += [
        "| service | tier | RTO | incidents | RTO met | missed | open | MTTR | MTTR vs RTO |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in per_service:
        lines.append(
            f"| {f.service} | {_tier(f.tier)} | {_human(f.rto)} | {f.incidents} | {f.met} | {f.missed} "
            f"| {f.open} | {_human(f.mttr)} | {f.mttr_verdict} |"
        )
    lines += [
        "",
        "| tier | incidents | RTO met | missed | open | met of judged |",
        "|---|---|---|---|---|---|",
    ]
    for f in per_tier:
        lines.append(
            f"| {_tier(f.tier)} | {f.incidents} | {f.met} | {f.missed} | {f.open} | {_pct(f.attainment)} |"
        )
    lines += [
        "",
        "- RTO met: resolved within the service's RTO of the declaration; open: younger than the RTO",
        "",
    ]
    return "\n".join(lines)


def _row(f: RtoFigures) -> dict[str, Any]:
    return {
        "incidents": f.incidents,
        "rto_met": f.met,
        "rto_missed": f.missed,
        "open": f.open,
        "mttr_seconds": f.mttr.total_seconds() if f.mttr is not None else None,
    }


def data(figures: RtoTables) -> dict[str, Any]:
    per_service, per_tier = figures
    return {
        "services": [
            {
                "service": f.service,
                "tier": f.tier,
                "rto": duration_text(f.rto) if f.rto else None,
                "rto_seconds": f.rto.total_seconds() if f.rto else None,
                **_row(f),
                "mttr_vs_rto": f.mttr_verdict,
            }
            for f in per_service
        ],
        "tiers": [{"tier": f.tier, **_row(f), "attainment": f.attainment} for f in per_tier],
    }


def csv_rows(figures: RtoTables) -> list[dict[str, Any]]:
    """Rows in the report's CSV columns: `rto:<service>` and `rto:tier-<n>` (numerator: met, denominator:
    met + missed, samples: incidents, mean: MTTR, target: the RTO)."""
    per_service, per_tier = figures
    rows = []
    for f in [*per_service, *per_tier]:
        rows.append(
            {
                "metric": f"rto:{f.service}" if f.service else f"rto:tier-{f.tier or 'none'}",
                "samples": f.incidents,
                "mean_seconds": f.mttr.total_seconds() if f.mttr is not None else None,
                "numerator": f.met,
                "denominator": f.met + f.missed,
                "value": f.attainment,
                "target": duration_text(f.rto) if f.rto else None,
                "status": f.mttr_verdict if f.service else None,
            }
        )
    return rows
