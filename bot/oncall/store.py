"""Escalations and pages in the database. Every state change is a conditional UPDATE, so two processes
(or a retried timer) acting on one escalation cannot both page, both acknowledge or both advance it.

Moving an escalation on and scheduling where it continues are one transaction: a crash between the two
would otherwise leave an escalation that never pages again. A page of a policy step is keyed by
(timer, step, person) and records its DM's channel before the post and its ts after, so a step repeated
after a crash finds what it already sent instead of sending it twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.oncall.escalation import Position
from bot.store.db import Store, insert_new
from bot.store.models import EscalationRow, PageRow, TimerRow
from bot.timers import CANCELLED, PENDING, NewTimer

ACTIVE, ACKNOWLEDGED, EXHAUSTED, CLOSED = "active", "acknowledged", "exhausted", "closed"
TAKEN = "taken"
"""Set in an escalation timer's payload when its step moved the escalation on."""
SENDING = "sending"
"""A page row written before its DM: the DM may or may not have reached Slack yet."""


@dataclass(frozen=True)
class Escalation:
    incident_id: int
    policy: str
    status: str
    position: Position
    started_at: datetime
    acked_at: datetime | None
    acked_by: str | None


@dataclass(frozen=True)
class Page:
    id: int
    incident_id: int
    provider: str
    target: str
    reason: str
    status: str
    sent_at: datetime
    acked_at: datetime | None
    acked_by: str | None
    channel: str | None
    ts: str | None
    error: str | None
    step_key: str | None = None


def _escalation(row: EscalationRow) -> Escalation:
    return Escalation(
        row.incident_id,
        row.policy,
        row.status,
        Position(row.round, row.step),
        row.started_at,
        row.acked_at,
        row.acked_by,
    )


def _page(row: PageRow) -> Page:
    return Page(
        row.id,
        row.incident_id,
        row.provider,
        row.target,
        row.reason,
        row.status,
        row.sent_at,
        row.acked_at,
        row.acked_by,
        row.channel,
        row.ts,
        row.error,
        row.step_key,
    )


class PagingStore(Store):
    async def _update(self, statement: Any) -> bool:
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(statement)
            return result.rowcount == 1

    async def start(self, incident_id: int, policy: str, now: datetime, first: NewTimer) -> bool:
        """One escalation per incident, with the timer of its first step; False when it already has one
        (a retried declare)."""
        try:
            async with self._tx() as session:
                session.add(
                    EscalationRow(
                        incident_id=incident_id, policy=policy, status=ACTIVE, step=0, round=0, started_at=now
                    )
                )
                await session.flush()
                await first.add(session, now)
        except IntegrityError:
            return False
        return True

    async def start_in(
        self, session: AsyncSession, incident_id: int, policy: str, now: datetime, first: NewTimer
    ) -> bool:
        """`start` inside the caller's transaction (the alert webhook that records the incident)."""
        values = {"incident_id": incident_id, "policy": policy, "status": ACTIVE, "step": 0, "round": 0}
        if not await insert_new(session, EscalationRow, "incident_id", **values, started_at=now):
            return False
        await first.add(session, now)
        return True

    async def get(self, incident_id: int) -> Escalation | None:
        async with self.sessions() as session:
            row = await session.scalar(select(EscalationRow).where(EscalationRow.incident_id == incident_id))
            return _escalation(row) if row else None

    async def advance(
        self,
        incident_id: int,
        at: Position,
        to: Position | None,
        now: datetime,
        *,
        taken_by: tuple[int, dict[str, Any]] | None = None,
        then: NewTimer | None = None,
        cancel_pending: str | None = None,
    ) -> bool:
        """Move an active escalation from `at` to `to` (None: exhausted) if nobody moved it first, and in the
        same transaction add `then` (the timer of the next step) after cancelling the incident's pending
        timers of kind `cancel_pending` (the wait "Escalate now" skips).

        `taken_by` (timer id, payload) is the timer whose step this is: its payload gets `taken: true`
        in the same commit, so a repeat of that timer knows the step is its own to finish."""
        values: dict[str, Any] = (
            {"round": to.round, "step": to.step} if to is not None else {"status": EXHAUSTED}
        )
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(EscalationRow)
                .where(
                    EscalationRow.incident_id == incident_id,
                    EscalationRow.status == ACTIVE,
                    EscalationRow.round == at.round,
                    EscalationRow.step == at.step,
                )
                .values(**values)
            )
            if result.rowcount != 1:
                return False
            if cancel_pending:
                await session.execute(
                    update(TimerRow)
                    .where(
                        TimerRow.incident_id == incident_id,
                        TimerRow.kind == cancel_pending,
                        TimerRow.status == PENDING,
                    )
                    .values(status=CANCELLED)
                )
            if taken_by is not None:
                timer_id, payload = taken_by
                await session.execute(
                    update(TimerRow).where(TimerRow.id == timer_id).values(payload={**payload, TAKEN: True})
                )
            if then is not None:
                await then.add(session, now)
        return True

    async def acknowledge(self, incident_id: int, user: str, now: datetime) -> bool:
        """Stop the escalation; True only for the first acknowledgement."""
        return await self._update(
            update(EscalationRow)
            .where(EscalationRow.incident_id == incident_id, EscalationRow.status.in_((ACTIVE, EXHAUSTED)))
            .values(status=ACKNOWLEDGED, acked_at=now, acked_by=user)
        )

    async def close(self, incident_id: int) -> bool:
        return await self._update(
            update(EscalationRow)
            .where(EscalationRow.incident_id == incident_id, EscalationRow.status != CLOSED)
            .values(status=CLOSED)
        )

    async def restart(self, incident_id: int, policy: str, now: datetime, first: NewTimer) -> None:
        """A reopened incident escalates again from the first step (and its timer, in the same commit)."""
        async with self._tx() as session:
            await session.execute(
                update(EscalationRow)
                .where(EscalationRow.incident_id == incident_id)
                .values(
                    status=ACTIVE,
                    policy=policy,
                    step=0,
                    round=0,
                    started_at=now,
                    acked_at=None,
                    acked_by=None,
                )
            )
            await first.add(session, now)

    async def add_page(
        self,
        incident_id: int,
        provider: str,
        target: str,
        reason: str,
        now: datetime,
        channel: str | None = None,
        ts: str | None = None,
        error: str | None = None,
        *,
        status: str | None = None,
    ) -> Page:
        async with self._tx() as session:
            row = PageRow(
                incident_id=incident_id,
                provider=provider,
                target=target,
                reason=reason[:200],
                status=status or ("failed" if error else "sent"),
                sent_at=now,
                channel=channel,
                ts=ts,
                error=error,
            )
            session.add(row)
            await session.flush()
            return _page(row)

    async def step_page(
        self, incident_id: int, step_key: str, target: str, reason: str, now: datetime
    ) -> Page:
        """The page of one person at one step of a policy: added `sending` the first time, found again
        when the step is repeated (its worker died)."""
        async with self._tx() as session:
            await insert_new(
                session,
                PageRow,
                "step_key",
                incident_id=incident_id,
                provider="slack",
                target=target,
                reason=reason[:200],
                status=SENDING,
                sent_at=now,
                step_key=step_key,
            )
            row = await session.scalar(select(PageRow).where(PageRow.step_key == step_key))
            assert row is not None
            return _page(row)

    async def dm_opened(self, page_id: int, channel: str) -> None:
        """Where the DM goes, recorded before it is posted: a repeat looks there for a post that got
        through before the crash."""
        async with self._tx() as session:
            await session.execute(update(PageRow).where(PageRow.id == page_id).values(channel=channel))

    async def delivered(self, page_id: int, channel: str | None, ts: str | None, error: str | None) -> None:
        async with self._tx() as session:
            await session.execute(
                update(PageRow)
                .where(PageRow.id == page_id)
                .values(channel=channel, ts=ts, error=error, status="failed" if error else "sent")
            )

    async def set_status(self, page_id: int, status: str) -> None:
        async with self._tx() as session:
            await session.execute(update(PageRow).where(PageRow.id == page_id).values(status=status))

    async def page(self, page_id: int) -> Page | None:
        async with self.sessions() as session:
            row = await session.get(PageRow, page_id)
            return _page(row) if row else None

    async def pages(self, incident_id: int) -> list[Page]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(PageRow).where(PageRow.incident_id == incident_id).order_by(PageRow.id)
            )
            return [_page(row) for row in rows.all()]

    async def ack_pages(self, incident_id: int, user: str, now: datetime) -> list[Page]:
        """Mark every open page of the incident answered; returns those it changed."""
        async with self._tx() as session:
            rows = await session.scalars(
                update(PageRow)
                .where(PageRow.incident_id == incident_id, PageRow.status == "sent")
                .values(status="acked", acked_at=now, acked_by=user)
                .returning(PageRow)
                .execution_options(synchronize_session=False)
            )
            return [_page(row) for row in rows.all()]
