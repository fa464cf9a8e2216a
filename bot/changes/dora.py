"""DORA's four keys from the bot's own records, overall and per service, each with its performance band.

- Deployment frequency: successful production deploys per day over the window.
- Lead time for changes: commit time → the deploy reaching production, for deploys that give a commit
  time; median and 90th percentile.
- Change failure rate: production deploys that failed in production — marked as an incident's suspected
  cause, rolled back by the rollback watch or the what-changed offer, or reported `rolled_back` — over all
  production deploys that reached production (success or rolled back).
- Time to restore (failed deployment recovery time): declare → resolve of the change-caused incidents
  (a suspected cause was marked, or a rollback watch's threshold declared or joined it); median.

Bands are those of the 2023 State of DevOps report (elite, high, medium, low). Drills are left out
unless asked for. Pure functions over plain records; `load_dora` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.changes.deploys import Deploy
from bot.changes.store import DeployStore
from bot.domain import EventKind
from bot.formatting import human_duration
from bot.store.models import IncidentRow, TimelineEventRow

DAY = timedelta(days=1)
REACHED = ("success", "rolled_back")
"""Statuses of a deploy that reached its environment."""
CAUSED = (EventKind.CHANGE_SUSPECTED.value, EventKind.THRESHOLD_BREACHED.value, EventKind.ROLLBACK.value)


@dataclass(frozen=True)
class ChangeIncident:
    id: int
    service: str | None
    declared: datetime
    resolved: datetime | None


@dataclass(frozen=True)
class Keys:
    """The four keys of one scope (overall, or one service)."""

    scope: str
    deploys: int
    per_day: float
    lead_median: timedelta | None
    lead_p90: timedelta | None
    lead_known: int
    failed: int
    failure_rate: float | None
    restored: int
    restore_median: timedelta | None
    bands: dict[str, str] = field(default_factory=dict)


def frequency_band(per_day: float) -> str:
    if per_day >= 1:
        return "elite"
    if per_day >= 1 / 7:
        return "high"
    return "medium" if per_day >= 1 / 30 else "low"


def lead_band(lead: timedelta | None) -> str:
    if lead is None:
        return "—"
    if lead < DAY:
        return "elite"
    if lead < 7 * DAY:
        return "high"
    return "medium" if lead < 30 * DAY else "low"


def failure_band(rate: float | None) -> str:
    if rate is None:
        return "—"
    if rate <= 0.05:
        return "elite"
    if rate <= 0.10:
        return "high"
    return "medium" if rate <= 0.15 else "low"


def restore_band(restore: timedelta | None) -> str:
    if restore is None:
        return "—"
    if restore < timedelta(hours=1):
        return "elite"
    if restore < DAY:
        return "high"
    return "medium" if restore < 7 * DAY else "low"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (the value below which q of the values lie, one of them)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def keys(
    scope: str,
    deploys: Iterable[Deploy],
    failed: set[int],
    incidents: Iterable[ChangeIncident],
    days: float,
) -> Keys:
    reached = [d for d in deploys if d.status in REACHED]
    successes = [d for d in reached if d.status == "success"]
    leads = [
        (d.deployed_at - d.commit_time).total_seconds()
        for d in successes
        if d.commit_time is not None and d.deployed_at >= d.commit_time
    ]
    failures = sum(1 for d in reached if d.id in failed or d.status == "rolled_back")
    restores = [(i.resolved - i.declared).total_seconds() for i in incidents if i.resolved is not None]
    per_day = len(successes) / days if days > 0 else 0.0
    lead_median = timedelta(seconds=median(leads)) if leads else None
    rate = failures / len(reached) if reached else None
    restore = timedelta(seconds=median(restores)) if restores else None
    return Keys(
        scope=scope,
        deploys=len(successes),
        per_day=per_day,
        lead_median=lead_median,
        lead_p90=timedelta(seconds=percentile(leads, 0.9)) if leads else None,
        lead_known=len(leads),
        failed=failures,
        failure_rate=rate,
        restored=len(restores),
        restore_median=restore,
        bands={
            "deployment_frequency": frequency_band(per_day),
            "lead_time": lead_band(lead_median),
            "change_failure_rate": failure_band(rate),
            "time_to_restore": restore_band(restore),
        },
    )


@dataclass(frozen=True)
class Dora:
    since: datetime
    until: datetime
    overall: Keys
    services: list[Keys]


def dora(
    deploys: list[Deploy],
    failed: set[int],
    incidents: list[ChangeIncident],
    since: datetime,
    until: datetime,
) -> Dora:
    days = (until - since) / DAY
    services = sorted({d.service for d in deploys} | {i.service for i in incidents if i.service})
    return Dora(
        since,
        until,
        keys("all services", deploys, failed, incidents, days),
        [
            keys(
                s,
                [d for d in deploys if d.service == s],
                failed,
                [i for i in incidents if i.service == s],
                days,
            )
            for s in services
        ],
    )


async def load_dora(
    sessions: async_sessionmaker[AsyncSession],
    production: Sequence[str],
    since: datetime,
    until: datetime,
    service: str | None = None,
    include_drills: bool = False,
) -> Dora:
    """Deploys by their (deployed_at) index; events of the three kinds that mark a change as failed."""
    services = [service] if service else None
    deploys = await DeployStore(sessions).between(since, until, services, production)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    TimelineEventRow.kind,
                    TimelineEventRow.data,
                    IncidentRow.id,
                    IncidentRow.service,
                    IncidentRow.created_at,
                    IncidentRow.resolved_at,
                )
                .join(IncidentRow, IncidentRow.id == TimelineEventRow.incident_id)
                .where(
                    TimelineEventRow.kind.in_(CAUSED),
                    IncidentRow.created_at >= since,
                    IncidentRow.created_at < until,
                    *([] if include_drills else [IncidentRow.drill.is_(False)]),
                )
            )
        ).all()
    failed = _failed_deploys(deploys, [(row.kind, row.data or {}) for row in rows])
    changed = {r.id: ChangeIncident(r.id, r.service, r.created_at, r.resolved_at) for r in rows}
    incidents = [i for i in changed.values() if service is None or i.service == service]
    return dora(deploys, failed, incidents, since, until)


def _failed_deploys(deploys: list[Deploy], events: list[tuple[str, dict[str, Any]]]) -> set[int]:
    """Deploys marked as a cause (by id), or rolled back (by service and version)."""
    marked = {
        int(d["deploy_id"]) for k, d in events if k == EventKind.CHANGE_SUSPECTED.value and "deploy_id" in d
    }
    rolled = {
        (d.get("service"), d.get("version"))
        for k, d in events
        if k == EventKind.ROLLBACK.value and d.get("phase") in ("requested", "asked")
    }
    return {d.id for d in deploys if d.id in marked or (d.service, d.version) in rolled}


# -- rendering -----------------------------------------------------------------------------------------


def _rate(value: float | None) -> str:
    return f"{value * 100:.1f} %" if value is not None else "—"


def data(report: Dora) -> dict[str, Any]:
    def one(k: Keys) -> dict[str, Any]:
        return {
            "scope": k.scope,
            "deployments": k.deploys,
            "deployments_per_day": round(k.per_day, 4),
            "lead_time_median_seconds": k.lead_median.total_seconds() if k.lead_median else None,
            "lead_time_p90_seconds": k.lead_p90.total_seconds() if k.lead_p90 else None,
            "lead_time_deploys": k.lead_known,
            "failed_deployments": k.failed,
            "change_failure_rate": k.failure_rate,
            "restored_incidents": k.restored,
            "time_to_restore_median_seconds": k.restore_median.total_seconds() if k.restore_median else None,
            "bands": k.bands,
        }

    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "overall": one(report.overall),
        "services": [one(k) for k in report.services],
    }


def markdown(report: Dora) -> str:
    lines = [
        f"# DORA's four keys, {report.since:%Y-%m-%d} – {report.until:%Y-%m-%d}",
        "",
        "| Scope | Deploys | Per day | Lead time (median · p90) | Change failure rate | Time to restore |",
        "| --- | ---: | ---: | --- | --- | --- |",
    ]
    for k in [report.overall, *report.services]:
        b = k.bands
        lines.append(
            f"| {k.scope} | {k.deploys} | {k.per_day:.2f} ({b['deployment_frequency']})"
            f" | {human_duration(k.lead_median)} · {human_duration(k.lead_p90)} ({b['lead_time']})"
            f" | {_rate(k.failure_rate)}, {k.failed} failed ({b['change_failure_rate']})"
            f" | {human_duration(k.restore_median)}, {k.restored} incidents ({b['time_to_restore']}) |"
        )
    lines += ["", "Bands: the 2023 State of DevOps report's elite, high, medium and low."]
    return "\n".join(lines) + "\n"


CSV_FIELDS = [
    "scope",
    "deployments",
    "deployments_per_day",
    "lead_time_median_seconds",
    "lead_time_p90_seconds",
    "change_failure_rate",
    "time_to_restore_median_seconds",
    "frequency_band",
    "lead_time_band",
    "change_failure_band",
    "restore_band",
]


def csv_rows(report: Dora) -> list[dict[str, Any]]:
    rows = []
    for item in [data(report)["overall"], *data(report)["services"]]:
        bands = item["bands"]
        rows.append(
            {
                **{k: item[k] for k in CSV_FIELDS[:7] if k in item},
                "frequency_band": bands["deployment_frequency"],
                "lead_time_band": bands["lead_time"],
                "change_failure_band": bands["change_failure_rate"],
                "restore_band": bands["time_to_restore"],
            }
        )
    return rows
