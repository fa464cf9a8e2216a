"""The state figures of `/metrics` (open incidents, late post-mortems, open follow-ups, DORA), counted in the
database at scrape time, so every replica reports the same numbers and a restart loses none."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.changes.dora import Keys, load_dora
from bot.config import AppConfig
from bot.metrics import Gauges
from bot.postmortem.store import OPEN, OUT
from bot.store.models import ActionItemRow, IncidentRow, PostmortemRow

DORA_WINDOW = timedelta(days=30)


async def current_gauges(
    sessions: async_sessionmaker[AsyncSession], config: AppConfig, now: datetime
) -> Gauges:
    resolved = config.resolved_status
    publish_by = now - config.postmortems.publish_within
    today = now.astimezone(config.zone).date()
    published = exists().where(
        and_(PostmortemRow.incident_id == IncidentRow.id, PostmortemRow.status.in_(OUT))
    )
    async with sessions() as session:
        by_severity = await session.execute(
            select(IncidentRow.severity, func.count())
            .where(IncidentRow.status != resolved, IncidentRow.drill.is_(False))
            .group_by(IncidentRow.severity)
        )
        late = await session.scalar(
            select(func.count())
            .select_from(IncidentRow)
            .where(IncidentRow.status == resolved, IncidentRow.resolved_at < publish_by, ~published)
        )
        open_items = await session.scalar(
            select(func.count()).select_from(ActionItemRow).where(ActionItemRow.status == OPEN)
        )
        overdue_items = await session.scalar(
            select(func.count())
            .select_from(ActionItemRow)
            .where(ActionItemRow.status == OPEN, ActionItemRow.due < today)
        )
    counts = {severity: int(count) for severity, count in by_severity.all()}
    report = await load_dora(sessions, config.changes.production, now - DORA_WINDOW, now)
    return Gauges(
        open_by_severity={s.id: counts.get(s.id, 0) for s in config.severities} | counts,
        postmortems_overdue=int(late or 0),
        action_items_open=int(open_items or 0),
        action_items_overdue=int(overdue_items or 0),
        dora={
            ("all" if k is report.overall else k.scope): _figures(k)
            for k in [report.overall, *report.services]
        },
    )


def _figures(keys: Keys) -> dict[str, float | None]:
    return {
        "deployments_per_day": keys.per_day,
        "lead_time_seconds": keys.lead_median.total_seconds() if keys.lead_median else None,
        "change_failure_ratio": keys.failure_rate,
        "time_to_restore_seconds": keys.restore_median.total_seconds() if keys.restore_median else None,
    }
