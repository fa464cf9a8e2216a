"""The durable outbox: each mail is a row written in the transaction of the timeline event that tells
its audience, together with the timer that sends it; the timer worker sends it and records the outcome.

Exactly-once is not on offer from SMTP: if the process dies after the server accepted a mail and before
the row says so, the timer's lease hands it to another worker, which sends it again — at most once per
crash, with the same Message-ID, so mail clients show it as the same message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from bot.domain import EventKind
from bot.store import db
from bot.store.models import OutboxMailRow, TimelineEventRow
from bot.timers import NewTimer

PENDING, SENT, FAILED = "pending", "sent", "failed"
REFERENCES_KEPT = 10


@dataclass(frozen=True)
class MailDraft:
    recipients: list[str]
    subject: str
    text: str
    html: str
    message_id: str


@dataclass(frozen=True)
class Mail:
    id: int
    incident_id: int
    audience: str
    notice: str
    recipients: list[str]
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str | None
    references: str | None
    status: str
    attempts: int
    last_error: str | None
    refused: list[str]
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class Told:
    first: bool
    """This was the audience's first notice about the incident."""
    mail: Mail | None


def _mail(row: OutboxMailRow) -> Mail:
    return Mail(**{name: getattr(row, name) for name in Mail.__dataclass_fields__})


def _event(incident_id: int, kind: EventKind, text: str, data: dict[str, Any], now: datetime) -> Any:
    return TimelineEventRow(
        incident_id=incident_id, kind=kind.value, actor=None, occurred_at=now, text=text, data=data
    )


class OutboxStore(db.Store):
    async def tell(
        self,
        incident_id: int,
        audience: str,
        notice: str,
        once: str,
        text: str,
        data: dict[str, Any],
        draft: MailDraft | None,
        now: datetime,
        sender: Callable[[int], NewTimer],
    ) -> Told | None:
        """Record that `audience` is told (an `audience_told` event), queue its mail threaded under its
        earlier ones, and add the timer that sends it, in one transaction; None when `once` was done."""
        async with self._tx() as session:
            if not await db.claim(session, once):
                return None
            earlier = await session.scalars(
                select(TimelineEventRow.data).where(
                    TimelineEventRow.incident_id == incident_id,
                    TimelineEventRow.kind == EventKind.AUDIENCE_TOLD.value,
                )
            )
            first = not any(isinstance(d, dict) and d.get("audience") == audience for d in earlier.all())
            mail = None
            if draft is not None:
                row = await self._queue(session, incident_id, audience, notice, draft, now)
                await sender(row.id).add(session, now)
                mail = _mail(row)
                data = {**data, "mail_id": row.id, "message_id": row.message_id}
            data = {**data, "audience": audience, "notice": notice, "first": first}
            session.add(_event(incident_id, EventKind.AUDIENCE_TOLD, text, data, now))
            return Told(first, mail)

    async def _queue(
        self, session: Any, incident_id: int, audience: str, notice: str, draft: MailDraft, now: datetime
    ) -> OutboxMailRow:
        thread = (
            await session.scalars(
                select(OutboxMailRow.message_id)
                .where(OutboxMailRow.incident_id == incident_id, OutboxMailRow.audience == audience)
                .order_by(OutboxMailRow.id)
            )
        ).all()
        row = OutboxMailRow(
            incident_id=incident_id,
            audience=audience,
            notice=notice,
            recipients=list(draft.recipients),
            subject=draft.subject,
            text=draft.text,
            html=draft.html,
            message_id=draft.message_id,
            in_reply_to=thread[-1] if thread else None,
            references=_references(list(thread)) if thread else None,
            status=PENDING,
            attempts=0,
            refused=[],
            created_at=now,
        )
        session.add(row)
        await session.flush()
        return row

    async def get(self, mail_id: int) -> Mail | None:
        async with self.sessions() as session:
            row = await session.get(OutboxMailRow, mail_id)
            return _mail(row) if row else None

    async def thread(self, incident_id: int, audience: str) -> list[Mail]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(OutboxMailRow)
                .where(OutboxMailRow.incident_id == incident_id, OutboxMailRow.audience == audience)
                .order_by(OutboxMailRow.id)
            )
            return [_mail(row) for row in rows.all()]

    async def waits_for_earlier(self, mail: Mail) -> bool:
        """Whether an earlier mail of the same thread is still pending: a thread is read in order, so a
        later notice waits while the server refuses the first one."""
        async with self.sessions() as session:
            earlier = await session.scalar(
                select(OutboxMailRow.id)
                .where(
                    OutboxMailRow.incident_id == mail.incident_id,
                    OutboxMailRow.audience == mail.audience,
                    OutboxMailRow.status == PENDING,
                    OutboxMailRow.id < mail.id,
                )
                .limit(1)
            )
            return earlier is not None

    async def told(self, incident_id: int) -> dict[str, datetime]:
        """Audience → when it was first told about the incident."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(TimelineEventRow.data, TimelineEventRow.occurred_at)
                .where(
                    TimelineEventRow.incident_id == incident_id,
                    TimelineEventRow.kind == EventKind.AUDIENCE_TOLD.value,
                )
                .order_by(TimelineEventRow.occurred_at, TimelineEventRow.id)
            )
            found: dict[str, datetime] = {}
            for data, at in rows.all():
                if isinstance(data, dict) and data.get("audience"):
                    found.setdefault(str(data["audience"]), at)
            return found

    async def attempt_failed(self, mail_id: int, error: str) -> int:
        """Count a failed attempt that will be retried; returns the attempts so far."""
        async with self._tx() as session:
            row = await session.get(OutboxMailRow, mail_id, with_for_update=True)
            if row is None:
                return 0
            row.attempts += 1
            row.last_error = error
            return row.attempts

    async def finish(self, mail: Mail, now: datetime, error: str | None, refused: tuple[str, ...]) -> bool:
        """Sent (error None) or failed for good, with its timeline event, in one transaction; False when
        the row was no longer pending (another worker finished it first)."""
        status = FAILED if error else SENT
        values: dict[str, Any] = {"status": status, "refused": list(refused), "attempts": mail.attempts + 1}
        values |= {"last_error": error} if error else {"sent_at": now}
        data = {
            "audience": mail.audience,
            "notice": mail.notice,
            "mail_id": mail.id,
            "message_id": mail.message_id,
            "recipients": mail.recipients,
            "refused": list(refused),
            "attempts": mail.attempts + 1,
            **({"error": error} if error else {}),
        }
        kind = EventKind.EMAIL_FAILED if error else EventKind.EMAIL_SENT
        if error:
            text = f"e-mail to {mail.audience} failed: {error}"
        else:
            text = f"e-mail to {mail.audience} delivered to the mail server"
        async with self._tx() as session:
            result: Any = await session.execute(
                update(OutboxMailRow)
                .where(OutboxMailRow.id == mail.id, OutboxMailRow.status == PENDING)
                .values(**values)
            )
            if result.rowcount != 1:
                return False
            session.add(_event(mail.incident_id, kind, text, data, now))
            return True

    async def note_failure(
        self, incident_id: int, audience: str, error: str, data: dict[str, Any], now: datetime
    ) -> None:
        """An e-mail that could not even be queued (no SMTP configured): on the timeline all the same."""
        async with self._tx() as session:
            text = f"e-mail to {audience} not sent: {error}"
            session.add(
                _event(
                    incident_id,
                    EventKind.EMAIL_FAILED,
                    text,
                    {**data, "audience": audience, "error": error},
                    now,
                )
            )


def _references(thread: list[str]) -> str:
    """The References header of the next mail: the thread's first and its latest Message-IDs (RFC 5322
    allows trimming the middle of a long chain)."""
    chain = thread if len(thread) <= REFERENCES_KEPT else [thread[0], *thread[-(REFERENCES_KEPT - 1) :]]
    return " ".join(chain)
