"""What subscribers are told, and to whom each notice has gone: the durable outbox of subscriber mail.

A notice (a public update, a maintenance) is rendered once, with a placeholder where each subscriber's own
unsubscribe link goes, and stored under a key (`update:<id>`), so a repeated publication event adds
nothing. Its fan-out writes one row per notice and subscriber (a unique pair: each subscriber is mailed a
notice once however often the fan-out runs) a page of subscribers per transaction: ten thousand
subscribers are ten short transactions, never one long one that would hold SQLite's write lock while the
incident flow waits. The senders then take the pending rows of their lane in order.

As with the audiences' outbox, SMTP offers no exactly-once: should the process die after the server
accepted a mail and before its row says so, that mail is sent again once, with the same Message-ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from bot.store import db
from bot.store.models import SubscriberMailRow, SubscriberNoticeRow, SubscriberRow

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
UNSUBSCRIBE_URL = "@@UNSUBSCRIBE_URL@@"
"""Stands in the rendered notice where each subscriber's unsubscribe link goes (no template writes it)."""


@dataclass(frozen=True)
class SubscriberNotice:
    id: int
    key: str
    incident_id: int | None
    components: tuple[str, ...]
    subject: str
    text: str
    html: str
    tag: str
    created_at: datetime


@dataclass(frozen=True)
class NewNotice:
    key: str
    incident_id: int | None
    components: Sequence[str]
    subject: str
    text: str
    html: str
    tag: str


@dataclass(frozen=True)
class Addressee:
    """A mail of a chunk still to send: to whom, and whether they are still subscribed."""

    mail_id: int
    subscriber_id: int
    email: str
    subscribed: bool
    attempts: int


def _notice(row: SubscriberNoticeRow) -> SubscriberNotice:
    return SubscriberNotice(
        row.id,
        row.key,
        row.incident_id,
        tuple(row.components or ()),
        row.subject,
        row.text,
        row.html,
        row.tag,
        row.created_at,
    )


class SubscriberNotices(db.Store):
    async def notice(self, key: str) -> SubscriberNotice | None:
        async with self.sessions() as session:
            row = await session.scalar(select(SubscriberNoticeRow).where(SubscriberNoticeRow.key == key))
            return _notice(row) if row else None

    async def get(self, notice_id: int) -> SubscriberNotice | None:
        async with self.sessions() as session:
            row = await session.get(SubscriberNoticeRow, notice_id)
            return _notice(row) if row else None

    async def add(self, new: NewNotice, now: datetime) -> SubscriberNotice:
        """Store the notice; when its key exists already (a repeated fan-out), the stored one."""
        async with self._tx() as session:
            await db.insert_new(
                session,
                SubscriberNoticeRow,
                "key",
                key=new.key,
                incident_id=new.incident_id,
                components=list(new.components),
                subject=new.subject,
                text=new.text,
                html=new.html,
                tag=new.tag,
                created_at=now,
            )
            row = await session.scalar(select(SubscriberNoticeRow).where(SubscriberNoticeRow.key == new.key))
            assert row is not None
            return _notice(row)

    async def add_mails(self, notice_id: int, subscriber_ids: Sequence[int]) -> int:
        """One mail row per subscriber not mailed this notice yet, in one transaction (the caller keeps
        them short: a page of subscribers each); returns how many rows were new."""
        if not subscriber_ids:
            return 0
        async with self._tx() as session:
            statement = (
                db.dialect_insert(session.get_bind().dialect.name)(SubscriberMailRow)
                .values(
                    [
                        {"notice_id": notice_id, "subscriber_id": s, "status": PENDING, "attempts": 0}
                        for s in subscriber_ids
                    ]
                )
                .on_conflict_do_nothing(index_elements=["notice_id", "subscriber_id"])
                .returning(SubscriberMailRow.id)
            )
            return len((await session.scalars(statement)).all())

    async def to_send(self, notice_id: int, lane: int, lanes: int, after: int, limit: int) -> list[Addressee]:
        """The next `limit` pending mails of the notice in `lane` (mail id modulo `lanes`), after mail id
        `after`, with their addresses: a lane is one sender's share, so two senders never take one mail."""
        async with self.sessions() as session:
            rows: Any = await session.execute(
                select(
                    SubscriberMailRow.id,
                    SubscriberRow.id,
                    SubscriberRow.email,
                    SubscriberRow.status,
                    SubscriberMailRow.attempts,
                )
                .join(SubscriberRow, SubscriberRow.id == SubscriberMailRow.subscriber_id)
                .where(
                    SubscriberMailRow.notice_id == notice_id,
                    SubscriberMailRow.id > after,
                    SubscriberMailRow.id % lanes == lane,
                    SubscriberMailRow.status == PENDING,
                )
                .order_by(SubscriberMailRow.id)
                .limit(limit)
            )
            return [Addressee(m, s, email, status == "confirmed", a) for m, s, email, status, a in rows.all()]

    async def threads(self, notice: SubscriberNotice, subscriber_ids: Sequence[int]) -> dict[int, list[str]]:
        """Subscriber → the tags of the earlier notices of the same incident they were mailed, oldest
        first: their mails' Message-IDs, to thread the next one under (one thread per incident)."""
        if notice.incident_id is None or not subscriber_ids:
            return {}
        async with self.sessions() as session:
            rows: Any = await session.execute(
                select(SubscriberMailRow.subscriber_id, SubscriberNoticeRow.tag)
                .join(SubscriberNoticeRow, SubscriberNoticeRow.id == SubscriberMailRow.notice_id)
                .where(
                    SubscriberNoticeRow.incident_id == notice.incident_id,
                    SubscriberNoticeRow.id < notice.id,
                    SubscriberMailRow.subscriber_id.in_(list(subscriber_ids)),
                    SubscriberMailRow.status.in_([SENT, PENDING]),
                )
                .order_by(SubscriberNoticeRow.id)
            )
            found: dict[int, list[str]] = {}
            for subscriber_id, tag in rows.all():
                found.setdefault(subscriber_id, []).append(tag)
            return found

    async def finish(
        self, mail_ids: Sequence[int], status: str, now: datetime, error: str | None = None
    ) -> None:
        """Mark mails sent, failed for good or skipped (unsubscribed meanwhile); only pending ones change."""
        if not mail_ids:
            return
        values: dict[str, Any] = {"status": status}
        values |= {"sent_at": now} if status == SENT else {"last_error": error}
        async with self._tx() as session:
            await session.execute(
                update(SubscriberMailRow)
                .where(SubscriberMailRow.id.in_(list(mail_ids)), SubscriberMailRow.status == PENDING)
                .values(**values)
            )

    async def attempt_failed(self, mail_ids: Sequence[int], error: str) -> None:
        if not mail_ids:
            return
        async with self._tx() as session:
            await session.execute(
                update(SubscriberMailRow)
                .where(SubscriberMailRow.id.in_(list(mail_ids)), SubscriberMailRow.status == PENDING)
                .values(attempts=SubscriberMailRow.attempts + 1, last_error=error)
            )

    async def tally(self, notice_id: int) -> dict[str, int]:
        """Status → mails of the notice (the bench and the tests read how far a notice got)."""
        async with self.sessions() as session:
            rows: Any = await session.execute(
                select(SubscriberMailRow.status, func.count())
                .where(SubscriberMailRow.notice_id == notice_id)
                .group_by(SubscriberMailRow.status)
            )
            return {status: count for status, count in rows.all()}
