"""Public updates, scheduled maintenance and the change counter, in the database.

Every change the public can see commits together with its timeline event and a bump of the counter, so a
replica or the CLI that reads the counter knows the page it rendered is stale. Readers join the incident
and skip private ones: a private incident never reaches a public route, whatever got stored.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import EventKind
from bot.statuspage.model import (
    PENDING,
    PUBLISHED,
    REJECTED,
    Maintenance,
    PublicDraft,
    PublicIncident,
    PublicUpdate,
)
from bot.store.db import Store, insert_new
from bot.store.models import (
    IncidentRow,
    StatusPageMaintenanceRow,
    StatusPageRevisionRow,
    StatusPageUpdateRow,
    TimelineEventRow,
)


def _update(row: StatusPageUpdateRow) -> PublicUpdate:
    return PublicUpdate(
        id=row.id,
        incident_id=row.incident_id,
        state=row.state,
        status=row.status,
        title=row.title,
        body=row.body,
        components=dict(row.components or {}),
        impact=row.impact,
        author=row.author,
        approver=row.approver,
        source=row.source,
        created_at=row.created_at,
        display_at=row.display_at,
        decided_at=row.decided_at,
        edited=bool(row.edited),
        request_channel=row.request_channel,
        request_ts=row.request_ts,
    )


def _maintenance(row: StatusPageMaintenanceRow) -> Maintenance:
    return Maintenance(
        id=row.id,
        title=row.title,
        body=row.body,
        components=tuple(row.components or ()),
        scheduled_for=row.scheduled_for,
        scheduled_until=row.scheduled_until,
        created_by=row.created_by,
        created_at=row.created_at,
        source=row.source,
        cancelled_at=row.cancelled_at,
        cancelled_by=row.cancelled_by,
    )


def _event(
    incident_id: int, kind: EventKind, actor: str | None, text: str, data: dict[str, Any], now: datetime
):
    return TimelineEventRow(
        incident_id=incident_id, kind=kind.value, actor=actor, occurred_at=now, text=text, data=data
    )


async def _bump(session: AsyncSession, now: datetime) -> None:
    await session.execute(
        update(StatusPageRevisionRow)
        .where(StatusPageRevisionRow.id == 1)
        .values(revision=StatusPageRevisionRow.revision + 1, changed_at=now)
    )


async def _insert_once(session: AsyncSession, entity: Any, key: str, **values: Any) -> Any:
    """The row inserted with `request_key` = `key`, or None when that key was used before (a retry)."""
    if not await insert_new(session, entity, "request_key", request_key=key, **values):
        return None
    return await session.scalar(select(entity).where(entity.request_key == key))


def _public(*where: Any) -> Any:
    """Published updates of incidents that are not private."""
    return (
        select(StatusPageUpdateRow)
        .join(IncidentRow, IncidentRow.id == StatusPageUpdateRow.incident_id)
        .where(StatusPageUpdateRow.state == PUBLISHED, IncidentRow.private.is_(False), *where)
        .order_by(StatusPageUpdateRow.display_at, StatusPageUpdateRow.id)
    )


class StatusPageStore(Store):
    async def revision(self) -> tuple[int, datetime | None]:
        async with self.sessions() as session:
            row = await session.get(StatusPageRevisionRow, 1)
            return (row.revision, row.changed_at) if row else (0, None)

    async def get(self, update_id: int) -> PublicUpdate | None:
        async with self.sessions() as session:
            row = await session.get(StatusPageUpdateRow, update_id)
            return _update(row) if row else None

    async def add(
        self,
        incident_id: int,
        draft: PublicDraft,
        impact: str,
        author: str,
        source: str,
        now: datetime,
        key: str,
        approver: str | None,
        event: tuple[EventKind, str, dict[str, Any]],
    ) -> PublicUpdate | None:
        """A new update: published at once when `approver` is given, else pending. None when `key` was
        used before (a retried submission): nothing is added twice."""
        published = approver is not None
        async with self._tx() as session:
            row = await _insert_once(
                session,
                StatusPageUpdateRow,
                key,
                incident_id=incident_id,
                state=PUBLISHED if published else PENDING,
                status=draft.status,
                title=draft.title,
                body=draft.body,
                components=dict(draft.components),
                impact=impact,
                author=author,
                approver=approver,
                source=source,
                edited=False,
                created_at=now,
                display_at=now if published else None,
                decided_at=now if published else None,
            )
            if row is None:
                return None
            kind, text, data = event
            session.add(
                _event(incident_id, kind, approver or author, text, {**data, "update_id": row.id}, now)
            )
            if published:
                await _bump(session, now)
            return _update(row)

    async def decide(
        self,
        update_id: int,
        approver: str,
        now: datetime,
        publish: bool,
        draft: PublicDraft | None,
        event: tuple[EventKind, str, dict[str, Any]],
        impact: str | None = None,
    ) -> PublicUpdate | None:
        """Pending → published (with the approver's edits, when `draft`, and the impact of the incident's
        severity now) or rejected; None when someone decided first (a double click, two approvers): one
        conditional UPDATE decides."""
        values: dict[str, Any] = {"approver": approver, "decided_at": now}
        if publish:
            values |= {"state": PUBLISHED, "display_at": now, **({"impact": impact} if impact else {})}
        else:
            values["state"] = REJECTED
        if draft is not None:
            values |= {
                "status": draft.status,
                "title": draft.title,
                "body": draft.body,
                "components": dict(draft.components),
                "edited": True,
            }
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(StatusPageUpdateRow)
                .where(StatusPageUpdateRow.id == update_id, StatusPageUpdateRow.state == PENDING)
                .values(**values)
            )
            if result.rowcount != 1:
                return None
            row = await session.get(StatusPageUpdateRow, update_id)
            assert row is not None
            await session.refresh(row)
            kind, text, data = event
            session.add(_event(row.incident_id, kind, approver, text, {**data, "update_id": row.id}, now))
            if publish:
                await _bump(session, now)
            return _update(row)

    async def set_request_message(self, update_id: int, channel: str, ts: str) -> None:
        async with self._tx() as session:
            await session.execute(
                update(StatusPageUpdateRow)
                .where(StatusPageUpdateRow.id == update_id)
                .values(request_channel=channel, request_ts=ts)
            )

    async def incident(self, incident_id: int) -> PublicIncident | None:
        async with self.sessions() as session:
            rows = (await session.scalars(_public(StatusPageUpdateRow.incident_id == incident_id))).all()
        return PublicIncident(incident_id, tuple(_update(r) for r in rows)) if rows else None

    async def incidents(self, since: datetime) -> list[PublicIncident]:
        """Public incidents with an update since `since`, or still open inside the bot (an open incident
        stays on the page however long ago it was last updated); newest first."""
        async with self.sessions() as session:
            recent = (
                select(StatusPageUpdateRow.incident_id)
                .where(StatusPageUpdateRow.state == PUBLISHED, StatusPageUpdateRow.display_at >= since)
                .distinct()
            )
            rows = (
                await session.scalars(
                    _public(
                        or_(StatusPageUpdateRow.incident_id.in_(recent), IncidentRow.resolved_at.is_(None))
                    )
                )
            ).all()
        grouped: dict[int, list[PublicUpdate]] = defaultdict(list)
        for row in rows:
            grouped[row.incident_id].append(_update(row))
        found = [PublicIncident(i, tuple(updates)) for i, updates in grouped.items()]
        return sorted(found, key=lambda i: i.updated_at, reverse=True)

    async def has_public_updates(self, incident_id: int) -> bool:
        async with self.sessions() as session:
            found = await session.scalar(
                select(StatusPageUpdateRow.id)
                .where(StatusPageUpdateRow.incident_id == incident_id, StatusPageUpdateRow.state == PUBLISHED)
                .limit(1)
            )
            return found is not None

    # -- scheduled maintenance ------------------------------------------------------------------------
    async def add_maintenance(
        self,
        title: str,
        body: str,
        components: list[str],
        starts: datetime,
        ends: datetime,
        created_by: str,
        source: str,
        now: datetime,
        key: str,
    ) -> Maintenance | None:
        async with self._tx() as session:
            row = await _insert_once(
                session,
                StatusPageMaintenanceRow,
                key,
                title=title,
                body=body,
                components=list(components),
                scheduled_for=starts,
                scheduled_until=ends,
                created_by=created_by,
                created_at=now,
                source=source,
            )
            if row is None:
                return None
            await _bump(session, now)
            return _maintenance(row)

    async def cancel_maintenance(self, maintenance_id: int, who: str, now: datetime) -> Maintenance | None:
        """None when there is no such maintenance, or it was cancelled already."""
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(StatusPageMaintenanceRow)
                .where(
                    StatusPageMaintenanceRow.id == maintenance_id,
                    StatusPageMaintenanceRow.cancelled_at.is_(None),
                )
                .values(cancelled_at=now, cancelled_by=who)
            )
            if result.rowcount != 1:
                return None
            await _bump(session, now)
            row = await session.get(StatusPageMaintenanceRow, maintenance_id)
            assert row is not None
            await session.refresh(row)
            return _maintenance(row)

    async def get_maintenance(self, maintenance_id: int) -> Maintenance | None:
        async with self.sessions() as session:
            row = await session.get(StatusPageMaintenanceRow, maintenance_id)
            return _maintenance(row) if row else None

    async def maintenances(self, ending_after: datetime) -> list[Maintenance]:
        """Maintenance windows (cancelled ones included) that end after `ending_after`, soonest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(StatusPageMaintenanceRow)
                .where(StatusPageMaintenanceRow.scheduled_until > ending_after)
                .order_by(StatusPageMaintenanceRow.scheduled_for, StatusPageMaintenanceRow.id)
            )
            return [_maintenance(r) for r in rows.all()]
