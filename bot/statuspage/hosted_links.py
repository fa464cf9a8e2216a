"""Which hosted (Atlassian Statuspage) incident each of ours became, and how far the push got.

A link is claimed before the hosted incident is opened, so two workers (or replicas) pushing the same
incident cannot both open one: the second sees the claim and waits. A claim whose opener died (no hosted
id after `STALE_CLAIM`) may be taken over; that is the one case that can open a hosted incident twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from bot.store.db import Store, dialect_insert
from bot.store.models import HostedStatuspageLinkRow

INCIDENT, MAINTENANCE = "incident", "maintenance"
STALE_CLAIM = timedelta(minutes=2)
RELEASED = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class HostedLink:
    kind: str
    local_id: int
    hosted_id: str | None
    pushed: int
    """How many of our public updates the hosted incident has (a maintenance: 1 opened, 2 cancelled)."""
    claimed_at: datetime
    failing_since: datetime | None
    last_error: str | None


def _link(row: HostedStatuspageLinkRow) -> HostedLink:
    return HostedLink(
        row.local_kind,
        row.local_id,
        row.hosted_id,
        row.pushed,
        row.claimed_at,
        row.failing_since,
        row.last_error,
    )


class HostedLinks(Store):
    async def get(self, kind: str, local_id: int) -> HostedLink | None:
        async with self.sessions() as session:
            row = await session.get(HostedStatuspageLinkRow, (kind, local_id))
            return _link(row) if row else None

    async def claim(self, kind: str, local_id: int, now: datetime) -> bool:
        """True when this call may open the hosted incident: no link yet, or a stale claim without one."""
        async with self._tx() as session:
            insert = dialect_insert(session.get_bind().dialect.name)(HostedStatuspageLinkRow)
            new = insert.values(local_kind=kind, local_id=local_id, claimed_at=now).on_conflict_do_nothing(
                index_elements=["local_kind", "local_id"]
            )
            if (await session.execute(new)).rowcount == 1:  # type: ignore[attr-defined]
                return True
            taken = await session.execute(
                update(HostedStatuspageLinkRow)
                .where(
                    HostedStatuspageLinkRow.local_kind == kind,
                    HostedStatuspageLinkRow.local_id == local_id,
                    HostedStatuspageLinkRow.hosted_id.is_(None),
                    HostedStatuspageLinkRow.claimed_at < now - STALE_CLAIM,
                )
                .values(claimed_at=now)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    async def pushed(self, kind: str, local_id: int, hosted_id: str, pushed: int) -> None:
        """Record a push that Atlassian accepted, and that nothing is failing any more."""
        await self._set(
            kind, local_id, hosted_id=hosted_id, pushed=pushed, failing_since=None, last_error=None
        )

    async def release(self, kind: str, local_id: int) -> None:
        """Give up a claim whose open was refused (so nothing was opened): the next try may claim it."""
        await self._set(kind, local_id, HostedStatuspageLinkRow.hosted_id.is_(None), claimed_at=RELEASED)

    async def failed(self, kind: str, local_id: int, error: str, now: datetime) -> None:
        await self._set(kind, local_id, last_error=error)
        await self._set(kind, local_id, HostedStatuspageLinkRow.failing_since.is_(None), failing_since=now)

    async def _set(self, kind: str, local_id: int, *where: Any, **values: Any) -> None:
        async with self._tx() as session:
            await session.execute(
                update(HostedStatuspageLinkRow)
                .where(
                    HostedStatuspageLinkRow.local_kind == kind,
                    HostedStatuspageLinkRow.local_id == local_id,
                    *where,
                )
                .values(**values)
            )
