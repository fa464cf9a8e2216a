"""Incident persistence: every change to an incident and its timeline event commit together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CompoundSelect, CursorResult, Select, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import DeclareRequest, DomainError, EventKind, Incident, TimelineEvent, event_kind
from bot.store import db
from bot.store.models import IncidentRow, RoleAssignmentRow, TimelineEventRow


class StaleChange(Exception):
    """The incident changed since it was read: another click or form got there first."""


ANY_HOLDER = object()
"""`assign_role` without a compare-and-set: whoever holds the role now hands it over."""
_INCIDENT_FIELDS = {f.name for f in fields(Incident)} - {"roles"}
_IDS_PER_QUERY = 1000
"""Bound parameters per IN list: well under SQLite's and asyncpg's limits (32766 / 32767)."""


InTransaction = Callable[[AsyncSession, int], Awaitable[None]]
"""Work that commits with a change (a durable job it wants), given the session and the new event's id."""


@dataclass(frozen=True)
class NewEvent:
    kind: EventKind
    actor: str | None
    text: str = ""
    data: dict[str, Any] | None = None


class IncidentStore(db.Store):
    async def create(
        self, request: DeclareRequest, key: str, status: str, commander_role: str, now: datetime
    ) -> tuple[Incident, bool]:
        """Insert the incident once per `key`; a second call with the same key returns the first one."""
        async with self._tx() as session:
            incident_id = await self.create_in(session, request, key, status, commander_role, now)
        if incident_id is None:
            existing = await self.by_key(key)
            assert existing is not None
            return existing, False
        created = await self.get(incident_id)
        assert created is not None
        return created, True

    async def create_in(
        self,
        session: AsyncSession,
        request: DeclareRequest,
        key: str,
        status: str,
        commander_role: str,
        now: datetime,
    ) -> int | None:
        """`create` inside the caller's transaction (an alert webhook's): the new incident's id, or None
        when the key exists. One conditional INSERT, so a duplicate never aborts the caller's commit."""
        values = {
            "declare_key": key,
            "title": request.title,
            "severity": request.severity,
            "status": status,
            "summary": request.summary,
            "service": request.service,
            "private": request.private,
            "reporter": request.reporter,
            "created_at": now,
            "source_permalink": request.source_permalink,
            "drill": request.drill,
            "fields": dict(request.fields) or None,
        }
        if not await db.insert_new(session, IncidentRow, "declare_key", **values):
            return None
        incident_id = await session.scalar(select(IncidentRow.id).where(IncidentRow.declare_key == key))
        assert incident_id is not None
        commander = request.commander or request.reporter
        session.add(
            RoleAssignmentRow(
                incident_id=incident_id, role=commander_role, user_id=commander, assigned_at=now
            )
        )
        data = {
            "severity": request.severity,
            "status": status,
            "summary": request.summary,
            "service": request.service,
            "commander": commander,
            "private": request.private,
            "source_permalink": request.source_permalink,
            **({"drill": True} if request.drill else {}),
        }
        session.add(
            _event_row(incident_id, NewEvent(EventKind.DECLARED, request.reporter, request.title, data), now)
        )
        await session.flush()
        return int(incident_id)

    async def by_key(self, key: str) -> Incident | None:
        async with self.sessions() as session:
            row = await session.scalar(select(IncidentRow).where(IncidentRow.declare_key == key))
            return await _load(session, row)

    async def get(self, incident_id: int) -> Incident | None:
        async with self.sessions() as session:
            return await _load(session, await session.get(IncidentRow, incident_id))

    async def require(self, incident_id: int) -> Incident:
        """The incident, or a DomainError the user sees: the id came from a button, command or timer."""
        incident = await self.get(incident_id)
        if incident is None:
            raise DomainError(f"Incident {incident_id} does not exist.")
        return incident

    async def by_channel(self, channel_id: str) -> Incident | None:
        async with self.sessions() as session:
            row = await session.scalar(select(IncidentRow).where(IncidentRow.channel_id == channel_id))
            return await _load(session, row)

    async def list_open(self, final_status: str) -> list[Incident]:
        async with self.sessions() as session:
            return await _open(session, final_status)

    async def listing(self, final_status: str, since: datetime) -> tuple[list[Incident], list[Incident]]:
        """The open incidents, and those resolved since `since` (the latest first), in one query (a UNION,
        so the open ones still come from their partial index)."""
        both = union_all(
            select(*_INCIDENT_COLUMNS).where(
                IncidentRow.resolved_at.is_(None), IncidentRow.status != final_status
            ),
            select(*_INCIDENT_COLUMNS).where(
                IncidentRow.status == final_status, IncidentRow.resolved_at >= since
            ),
        ).subquery()
        holders = select(both, RoleAssignmentRow.role, RoleAssignmentRow.user_id).outerjoin(
            RoleAssignmentRow, RoleAssignmentRow.incident_id == both.c.id
        )
        async with self.sessions() as session:
            rows = (await session.execute(holders)).all()
        incidents: dict[int, Incident] = {}
        for row in rows:
            values = row._asdict()
            role, user = values.pop("role"), values.pop("user_id")
            incident = incidents.setdefault(row.id, Incident(**values, roles={}))
            if role is not None:
                incident.roles[role] = user
        incidents = list(incidents.values())
        still_open = sorted(
            (i for i in incidents if i.resolved_at is None and i.status != final_status), key=lambda i: i.id
        )
        resolved = sorted(
            (i for i in incidents if i.resolved_at is not None and i.status == final_status),
            key=lambda i: i.resolved_at,
            reverse=True,
        )
        return still_open, resolved

    async def change(
        self,
        incident_id: int,
        now: datetime,
        event: NewEvent | None = None,
        expect: dict[str, Any] | None = None,
        also: InTransaction | None = None,
        **values: Any,
    ) -> Incident:
        """Set incident columns and append the event describing the change, atomically.

        With `expect` (column -> value read before), the UPDATE itself decides who was first: it changes
        the row only while it still holds those values, and raises `StaleChange` otherwise, so two
        concurrent clicks cannot both resolve (or both change the status of) one incident. `also` runs in
        the same transaction once the event has its id (a job that must not be lost if the process dies
        right after the commit)."""
        unknown = set(values) - _INCIDENT_FIELDS
        if unknown:
            raise ValueError(f"unknown incident fields {sorted(unknown)}")
        if expect is not None:
            await self._change_if(incident_id, now, event, expect, values, also)
            changed = await self.get(incident_id)
            assert changed is not None
            return changed
        async with self._tx() as session:
            row = await session.get(IncidentRow, incident_id, with_for_update=True)
            if row is None:
                raise LookupError(f"incident {incident_id} not found")
            for name, value in values.items():
                setattr(row, name, value)
            if event is not None:
                await _add_event(session, incident_id, event, now, also)
        changed = await self.get(incident_id)
        assert changed is not None
        return changed

    async def set_field(
        self, incident_id: int, name: str, value: str, event: NewEvent, now: datetime
    ) -> bool:
        """Set one custom field under the row's lock (two fields set at once both stay); False when it
        already had that value (nothing recorded)."""
        async with self._tx() as session:
            row = await session.get(IncidentRow, incident_id, with_for_update=True)
            if row is None:
                raise LookupError(f"incident {incident_id} not found")
            fields = dict(row.fields or {})
            if fields.get(name) == value:
                return False
            row.fields = {**fields, name: value}
            await _add_event(session, incident_id, event, now, None)
            return True

    async def _change_if(
        self,
        incident_id: int,
        now: datetime,
        event: NewEvent | None,
        expect: dict[str, Any],
        values: dict[str, Any],
        also: InTransaction | None,
    ) -> None:
        conditions = [
            getattr(IncidentRow, name).is_(None) if value is None else getattr(IncidentRow, name) == value
            for name, value in expect.items()
        ]
        async with self._tx() as session:
            result = cast(
                CursorResult[Any],
                await session.execute(
                    update(IncidentRow)
                    .where(IncidentRow.id == incident_id, *conditions)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                ),
            )
            if result.rowcount != 1:
                raise StaleChange(f"incident {incident_id} no longer has {expect}")
            if event is not None:
                await _add_event(session, incident_id, event, now, also)

    async def last_event(self, incident_id: int, *kinds: EventKind) -> TimelineEvent | None:
        """The newest event of these kinds: who got there first, for the slower click's answer."""
        async with self.sessions() as session:
            row = await session.scalar(
                select(TimelineEventRow)
                .where(
                    TimelineEventRow.incident_id == incident_id,
                    TimelineEventRow.kind.in_([kind.value for kind in kinds]),
                )
                .order_by(TimelineEventRow.occurred_at.desc(), TimelineEventRow.id.desc())
                .limit(1)
            )
            return _event(row) if row else None

    async def assign_role(
        self,
        incident_id: int,
        role: str,
        user_id: str,
        actor: str,
        now: datetime,
        expect: str | object | None = ANY_HOLDER,
        extra: dict[str, Any] | None = None,
    ) -> tuple[Incident, str | None]:
        """Give `role` to `user_id`; returns the previous holder so hand-overs can be announced.

        With `expect` (the holder the person saw, None for nobody) the write decides who was first: an
        UPDATE conditional on that holder, or for a first holder the (incident, role) unique key; the
        slower one gets `StaleChange`. The write comes first, so SQLite takes its write lock at once.
        `extra` joins the event's data (a transfer of command names the request it answers)."""
        try:
            async with self._tx() as session:
                if expect is ANY_HOLDER:
                    previous = await _hand_over(session, incident_id, role, user_id, now)
                elif expect is None:
                    session.add(
                        RoleAssignmentRow(
                            incident_id=incident_id, role=role, user_id=user_id, assigned_at=now
                        )
                    )
                    await session.flush()
                    previous = None
                else:
                    result = cast(
                        CursorResult[Any],
                        await session.execute(
                            update(RoleAssignmentRow)
                            .where(
                                RoleAssignmentRow.incident_id == incident_id,
                                RoleAssignmentRow.role == role,
                                RoleAssignmentRow.user_id == expect,
                            )
                            .values(user_id=user_id, assigned_at=now)
                            .execution_options(synchronize_session=False)
                        ),
                    )
                    if result.rowcount != 1:
                        raise StaleChange(f"{role} of incident {incident_id} changed hands meanwhile")
                    previous = str(expect)
                data = {
                    "role": role,
                    "user": user_id,
                    "previous": previous,
                    "handover": previous not in (None, user_id),
                    **(extra or {}),
                }
                event = NewEvent(EventKind.ROLE_ASSIGNED, actor, f"{role} → {user_id}", data)
                session.add(_event_row(incident_id, event, now))
        except IntegrityError:
            if expect is ANY_HOLDER:
                raise
            raise StaleChange(f"{role} of incident {incident_id} was given to someone meanwhile") from None
        incident = await self.get(incident_id)
        assert incident is not None
        return incident, previous

    async def append(
        self, incident_id: int, event: NewEvent, now: datetime, once: str | None = None
    ) -> TimelineEvent | None:
        """Append `event`; with `once`, only the first call with that key does (a retried job)."""
        async with self._tx() as session:
            if once is not None and not await db.claim(session, once):
                return None
            row = _event_row(incident_id, event, now)
            session.add(row)
            await session.flush()
            return _event(row)

    async def timeline(self, incident_id: int) -> list[TimelineEvent]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(TimelineEventRow)
                .where(TimelineEventRow.incident_id == incident_id)
                .order_by(TimelineEventRow.occurred_at, TimelineEventRow.id)
            )
            return [_event(r) for r in rows.all()]

    async def declared_between(self, start: datetime, end: datetime) -> list[Incident]:
        """Incidents declared in [start, end), oldest first; two queries however many there are."""
        window = (IncidentRow.created_at >= start, IncidentRow.created_at < end)
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(IncidentRow).where(*window).order_by(IncidentRow.created_at, IncidentRow.id)
                )
            ).all()
            assignments = await session.scalars(select(RoleAssignmentRow).join(IncidentRow).where(*window))
            holders = _holders(assignments.all())
            return [_incident(row, holders.get(row.id, {})) for row in rows]

    async def timelines(
        self, incident_ids: Sequence[int], kinds: Sequence[EventKind] | None = None
    ) -> dict[int, list[TimelineEvent]]:
        """The timelines of many incidents in one query (one per `_IDS_PER_QUERY` ids), each in time order;
        with `kinds`, only events of those kinds (a report reads what its figures need, not the chatter).

        Every id asked for is a key of the answer, with an empty list when it has no events.
        """
        wanted = sorted(set(incident_ids))
        found: dict[int, list[TimelineEvent]] = {incident_id: [] for incident_id in wanted}
        async with self.sessions() as session:
            for chunk in range(0, len(wanted), _IDS_PER_QUERY):
                query = select(TimelineEventRow).where(
                    TimelineEventRow.incident_id.in_(wanted[chunk : chunk + _IDS_PER_QUERY])
                )
                if kinds is not None:
                    query = query.where(TimelineEventRow.kind.in_([str(kind) for kind in kinds]))
                rows = await session.scalars(
                    query.order_by(TimelineEventRow.occurred_at, TimelineEventRow.id)
                )
                for row in rows.all():
                    found[row.incident_id].append(_event(row))
        return found

    async def first(self, key: str, actor: str | None, now: datetime) -> tuple[str | None, datetime] | None:
        """None when this call is the first to do `key`, else who was and when (see `db.first`)."""
        async with self._tx() as session:
            return await db.first(session, key, actor, now)

    async def forget_claims(self, prefix: str, before: datetime) -> int:
        """Delete claims of `prefix` made before `before` (bookkeeping that has done its job)."""
        async with self._tx() as session:
            return await db.forget_claims(session, prefix, before)

    async def claim_many(self, keys: list[str]) -> list[bool]:
        """`claim` for each of `keys` in one statement and one commit; a key twice in `keys` is first once."""
        async with self._tx() as session:
            new = await db.claim_many(session, keys)
        answers = []
        for key in keys:
            answers.append(key in new)
            new.discard(key)
        return answers


_INCIDENT_COLUMNS = [IncidentRow.__table__.c[name] for name in sorted(_INCIDENT_FIELDS)]
"""Lists read plain rows: building ORM objects for fifty incidents cost more than the query."""


async def _open(session: AsyncSession, final_status: str) -> list[Incident]:
    statement = select(*_INCIDENT_COLUMNS).where(
        IncidentRow.resolved_at.is_(None), IncidentRow.status != final_status
    )
    return await _incidents(session, statement.order_by(IncidentRow.id))


async def _incidents(session: AsyncSession, statement: Select[Any] | CompoundSelect) -> list[Incident]:
    rows = (await session.execute(statement)).all()
    roles = await _roles(session, [row.id for row in rows])
    return [Incident(**row._asdict(), roles=roles.get(row.id, {})) for row in rows]


async def _hand_over(
    session: AsyncSession, incident_id: int, role: str, user_id: str, now: datetime
) -> str | None:
    current = await session.scalar(
        select(RoleAssignmentRow)
        .where(RoleAssignmentRow.incident_id == incident_id, RoleAssignmentRow.role == role)
        .with_for_update()
    )
    previous = current.user_id if current else None
    if current is None:
        session.add(RoleAssignmentRow(incident_id=incident_id, role=role, user_id=user_id, assigned_at=now))
    else:
        current.user_id = user_id
        current.assigned_at = now
    return previous


async def _add_event(
    session: AsyncSession, incident_id: int, event: NewEvent, now: datetime, also: InTransaction | None
) -> None:
    row = _event_row(incident_id, event, now)
    session.add(row)
    if also is not None:
        await session.flush()
        await also(session, row.id)


def _event_row(incident_id: int, event: NewEvent, now: datetime) -> TimelineEventRow:
    return TimelineEventRow(
        incident_id=incident_id,
        kind=event.kind.value,
        actor=event.actor,
        occurred_at=now,
        text=event.text,
        data=event.data or {},
    )


def _event(row: TimelineEventRow) -> TimelineEvent:
    kind, unknown = event_kind(row.kind)
    data = dict(row.data) if isinstance(row.data, dict) else {}
    if unknown is not None:
        data["unknown_kind"] = unknown
    return TimelineEvent(
        id=row.id,
        incident_id=row.incident_id,
        kind=kind,
        actor=row.actor,
        occurred_at=row.occurred_at,
        text=row.text,
        data=data,
    )


async def _roles(session: AsyncSession, incident_ids: list[int]) -> dict[int, dict[str, str]]:
    """Role holders of many incidents in one query, so a list costs two queries however long it is."""
    if not incident_ids:
        return {}
    columns = RoleAssignmentRow.incident_id, RoleAssignmentRow.role, RoleAssignmentRow.user_id
    rows = await session.execute(select(*columns).where(RoleAssignmentRow.incident_id.in_(incident_ids)))
    return _holders(rows.all())


def _holders(assignments: Sequence[Any]) -> dict[int, dict[str, str]]:
    """incident id -> role -> user, from role assignment rows."""
    holders: dict[int, dict[str, str]] = {}
    for row in assignments:
        holders.setdefault(row.incident_id, {})[row.role] = row.user_id
    return holders


def _incident(row: IncidentRow, roles: dict[str, str]) -> Incident:
    return Incident(**{name: getattr(row, name) for name in _INCIDENT_FIELDS}, roles=roles)


async def _load(session: AsyncSession, row: IncidentRow | None) -> Incident | None:
    if row is None:
        return None
    return _incident(row, (await _roles(session, [row.id])).get(row.id, {}))
