"""Pruning what is only bookkeeping, so years of use keep the database small.

Slack delivery keys exist to answer Slack's retries (minutes) and replays (five minutes); finished timers
and resolved alert groups only explain recent history. The record — incidents, the timeline, pages,
post-mortems, action items — is never pruned here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import ColumnElement

from bot.settings import Duration, Strict
from bot.store.models import AlertGroupRow, DeliveryRow, TimerRow

FINISHED_TIMERS = ("done", "cancelled", "failed")


class RetentionConfig(Strict):
    """The config's `retention:` section."""

    delivery_keys: Duration = timedelta(days=7)
    """Slack delivery keys (retries and replays of one request) older than this are deleted."""
    bookkeeping: Duration = timedelta(days=90)
    """Finished timers and resolved alert groups older than this are deleted."""


@dataclass(frozen=True)
class Pruned:
    deliveries: int
    timers: int
    alert_groups: int

    def __str__(self) -> str:
        return (
            f"{self.deliveries} Slack delivery keys, {self.timers} finished timers, "
            f"{self.alert_groups} resolved alert groups"
        )


def _conditions(settings: RetentionConfig, now: datetime) -> list[tuple[type, ColumnElement[bool]]]:
    old = now - settings.bookkeeping
    return [
        (DeliveryRow, DeliveryRow.created_at < now - settings.delivery_keys),
        (TimerRow, and_(TimerRow.status.in_(FINISHED_TIMERS), TimerRow.finished_at < old)),
        (AlertGroupRow, and_(AlertGroupRow.status == "resolved", AlertGroupRow.resolved_at < old)),
    ]


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    settings: RetentionConfig,
    now: datetime,
    dry_run: bool = False,
) -> Pruned:
    """Delete (or, with `dry_run`, count) what is older than the retention; one transaction."""
    counts = []
    async with sessions() as session, session.begin():
        for table, condition in _conditions(settings, now):
            if dry_run:
                counts.append(
                    int(await session.scalar(select(func.count()).select_from(table).where(condition)) or 0)
                )
            else:
                result = await session.execute(delete(table).where(condition))
                counts.append(int(result.rowcount or 0))  # type: ignore[attr-defined]
    return Pruned(*counts)
