"""Pruning what is only bookkeeping, so years of use keep the database small.

Slack delivery keys exist to answer Slack's retries (minutes) and replays (five minutes); finished timers
and resolved alert groups only explain recent history; so do the status page subscribers' mails (ten
thousand rows an update) once sent. Addresses nobody confirmed, and those unsubscribed long ago, are
personal data the bot has no use for. The record — incidents, the timeline, pages, post-mortems, action
items — is never pruned here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import ColumnElement

from bot.settings import Duration, Strict
from bot.store.models import (
    AlertGroupRow,
    DeliveryRow,
    SubscriberMailRow,
    SubscriberNoticeRow,
    SubscriberRow,
    TimerRow,
)

FINISHED_TIMERS = ("done", "cancelled", "failed")


class RetentionConfig(Strict):
    """The config's `retention:` section."""

    delivery_keys: Duration = timedelta(days=7)
    """Slack delivery keys (retries and replays of one request) older than this are deleted."""
    bookkeeping: Duration = timedelta(days=90)
    """Finished timers, resolved alert groups, subscribers' mails sent (and subscribers unsubscribed)
    longer ago than this are deleted."""
    unconfirmed_subscriptions: Duration = timedelta(days=7)
    """Status page subscriptions nobody confirmed within this are deleted (their link expired long ago)."""


@dataclass(frozen=True)
class Pruned:
    deliveries: int
    timers: int
    alert_groups: int
    subscriber_mails: int = 0
    subscriber_notices: int = 0
    subscribers: int = 0

    def __str__(self) -> str:
        return (
            f"{self.deliveries} Slack delivery keys, {self.timers} finished timers, "
            f"{self.alert_groups} resolved alert groups, {self.subscriber_mails} subscriber mails, "
            f"{self.subscriber_notices} subscriber notices, {self.subscribers} stale subscriptions"
        )


def _conditions(settings: RetentionConfig, now: datetime) -> list[tuple[type, ColumnElement[bool]]]:
    old = now - settings.bookkeeping
    return [
        (DeliveryRow, DeliveryRow.created_at < now - settings.delivery_keys),
        (TimerRow, and_(TimerRow.status.in_(FINISHED_TIMERS), TimerRow.finished_at < old)),
        (AlertGroupRow, and_(AlertGroupRow.status == "resolved", AlertGroupRow.resolved_at < old)),
        *_subscriber_conditions(settings, now),
    ]


def _subscriber_conditions(
    settings: RetentionConfig, now: datetime
) -> list[tuple[type, ColumnElement[bool]]]:
    """In this order: mails first (a pending one keeps its notice and its subscriber), then notices without
    mail left, then subscriptions without mail left. A dry run counts notices and subscriptions whose
    mails would be deleted as not deletable yet, so it may say fewer than the run deletes."""
    old = now - settings.bookkeeping
    old_notices = select(SubscriberNoticeRow.id).where(SubscriberNoticeRow.created_at < old)
    mails_of_notice = exists().where(SubscriberMailRow.notice_id == SubscriberNoticeRow.id)
    mails_of_subscriber = exists().where(SubscriberMailRow.subscriber_id == SubscriberRow.id)
    unconfirmed = now - settings.unconfirmed_subscriptions
    stale = and_(
        SubscriberRow.status == "pending",
        SubscriberRow.created_at < unconfirmed,
        SubscriberRow.confirm_sent_at.is_(None) | (SubscriberRow.confirm_sent_at < unconfirmed),
    ) | and_(SubscriberRow.status == "unsubscribed", SubscriberRow.unsubscribed_at < old)
    return [
        (
            SubscriberMailRow,
            and_(SubscriberMailRow.status != "pending", SubscriberMailRow.notice_id.in_(old_notices)),
        ),
        (SubscriberNoticeRow, and_(SubscriberNoticeRow.created_at < old, ~mails_of_notice)),
        (SubscriberRow, and_(stale, ~mails_of_subscriber)),
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
