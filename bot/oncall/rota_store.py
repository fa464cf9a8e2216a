"""Swaps, overrides and calendar feeds in the database, and the history the hand-off and the load
report read (pages, escalations still running, the noisiest alert groups).

Every decision is a conditional UPDATE (`pending` → `accepted` or `declined`), so two clicks on Accept, a
click on each button, or Slack's retry of one, decide a swap once. A feed token is kept only as its
SHA-256: a database dump does not hand out calendars."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update

from bot.oncall.rota import ACCEPTED, PENDING, Piece, RotaChange
from bot.store.db import Store, insert_new
from bot.store.models import (
    AlertGroupRow,
    EscalationRow,
    IncidentRow,
    OncallChangeRow,
    OncallFeedRow,
    PageRow,
)


@dataclass(frozen=True)
class PageRecord:
    """A page to one person, as the hand-off and the load report count it."""

    incident_id: int
    target: str
    sent_at: datetime
    acked_at: datetime | None


@dataclass(frozen=True)
class NoisyAlert:
    group_key: str
    notifications: int
    incident_id: int | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _change(row: OncallChangeRow) -> RotaChange:
    return RotaChange(
        row.id,
        row.kind,
        row.schedule_id,
        row.user,
        row.replaces,
        row.starts_at,
        row.ends_at,
        row.status,
        tuple(Piece.from_json(p) for p in row.pieces or []),
        row.requested_by,
        row.created_at,
        row.decided_by,
    )


class RotaStore(Store):
    async def add(
        self, request_key: str, kind: str, values: dict[str, Any], now: datetime
    ) -> tuple[RotaChange, bool]:
        """The change asked for by one Slack request: (it, True) the first time, (it, False) on a retry."""
        async with self._tx() as session:
            created = await insert_new(
                session,
                OncallChangeRow,
                "request_key",
                request_key=request_key,
                kind=kind,
                created_at=now,
                **values,
            )
            row = await session.scalar(
                select(OncallChangeRow).where(OncallChangeRow.request_key == request_key)
            )
            assert row is not None
            return _change(row), created

    async def get(self, change_id: int) -> RotaChange | None:
        async with self.sessions() as session:
            row = await session.get(OncallChangeRow, change_id)
            return _change(row) if row else None

    async def decide(
        self, change_id: int, status: str, by: str, now: datetime, pieces: list[Piece] | None = None
    ) -> bool:
        """Accept or decline a pending change; True only for the first decision."""
        values: dict[str, Any] = {"status": status, "decided_at": now, "decided_by": by}
        if pieces is not None:
            values["pieces"] = [p.to_json() for p in pieces]
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(OncallChangeRow)
                .where(OncallChangeRow.id == change_id, OncallChangeRow.status == PENDING)
                .values(**values)
            )
            return result.rowcount == 1

    async def pieces(self, since: datetime | None = None) -> list[Piece]:
        """The pieces of every accepted change (ending after `since`), oldest change first."""
        statement = select(OncallChangeRow).where(OncallChangeRow.status == ACCEPTED)
        if since is not None:
            statement = statement.where(OncallChangeRow.ends_at > since)
        async with self.sessions() as session:
            rows = await session.scalars(statement.order_by(OncallChangeRow.decided_at, OncallChangeRow.id))
            return [piece for row in rows.all() for piece in _change(row).pieces]

    # -- calendar feeds -----------------------------------------------------------------------------------
    async def add_feed(self, token: str, subject: str, now: datetime) -> None:
        async with self._tx() as session:
            session.add(OncallFeedRow(token_hash=token_hash(token), subject=subject, created_at=now))

    async def revoke_feeds(self, subject: str, now: datetime) -> int:
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(OncallFeedRow)
                .where(OncallFeedRow.subject == subject, OncallFeedRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return result.rowcount

    async def feed_subject(self, token: str) -> str | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(OncallFeedRow.subject).where(
                    OncallFeedRow.token_hash == token_hash(token), OncallFeedRow.revoked_at.is_(None)
                )
            )

    # -- history ------------------------------------------------------------------------------------------
    async def pages_between(self, start: datetime, end: datetime) -> list[PageRecord]:
        """Slack pages sent in [start, end): one per person paged (the record the load is counted from)."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(PageRow.incident_id, PageRow.target, PageRow.sent_at, PageRow.acked_at)
                .where(PageRow.provider == "slack", PageRow.sent_at >= start, PageRow.sent_at < end)
                .where(PageRow.status != "failed")
                .order_by(PageRow.sent_at, PageRow.id)
            )
            return [PageRecord(*row) for row in rows.all()]

    async def escalating(self) -> list[int]:
        """Incidents whose escalation policy is still paging (nobody acknowledged yet)."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(EscalationRow.incident_id)
                .where(EscalationRow.status == "active")
                .order_by(EscalationRow.incident_id)
            )
            return list(rows.all())

    async def noisiest_alerts(self, start: datetime, end: datetime, limit: int = 5) -> list[NoisyAlert]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(AlertGroupRow.group_key, AlertGroupRow.notifications, AlertGroupRow.incident_id)
                .where(AlertGroupRow.last_seen >= start, AlertGroupRow.first_seen < end)
                .order_by(AlertGroupRow.notifications.desc(), AlertGroupRow.id)
                .limit(limit)
            )
            return [NoisyAlert(*row) for row in rows.all()]

    async def drill_incidents(self, incident_ids: set[int]) -> set[int]:
        """The incidents among these that were drills: practice is left out of the load."""
        if not incident_ids:
            return set()
        async with self.sessions() as session:
            rows = await session.scalars(
                select(IncidentRow.id).where(
                    IncidentRow.id.in_(sorted(incident_ids)), IncidentRow.drill.is_(True)
                )
            )
            return set(rows.all())
