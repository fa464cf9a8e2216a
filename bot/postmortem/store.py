"""Post-mortems (what people wrote) and action items, in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import CursorResult, select, update

from bot.store.db import Store, insert_new
from bot.store.models import ActionItemRow, PostmortemRow

OPEN, DONE = "open", "done"
DRAFT, IN_REVIEW, PUBLISHED, REVIEWED = "draft", "in_review", "published", "reviewed"
"""The lifecycle: Draft → In review → Published (→ Reviewed, once the review meeting has been held)."""
OUT = frozenset({PUBLISHED, REVIEWED})
"""Statuses of a post-mortem readers can find."""


@dataclass(frozen=True)
class ActionItem:
    id: int
    incident_id: int
    text: str
    owner: str | None
    due: date | None
    status: str
    created_by: str
    created_at: datetime
    done_at: datetime | None
    done_by: str | None
    external_url: str | None = None
    """The issue it was exported to (GitHub or Jira), once exported."""

    def overdue(self, today: date) -> bool:
        return self.status == OPEN and self.due is not None and self.due < today


@dataclass(frozen=True)
class Postmortem:
    incident_id: int
    status: str
    narrative: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    reviewed_at: datetime | None
    published_at: datetime | None
    path: str | None
    names: dict[str, str] = field(default_factory=dict)
    """Display names of the people it mentions, as last seen in Slack."""


def _item(row: ActionItemRow) -> ActionItem:
    return ActionItem(
        row.id,
        row.incident_id,
        row.text,
        row.owner,
        row.due,
        row.status,
        row.created_by,
        row.created_at,
        row.done_at,
        row.done_by,
        row.external_url,
    )


def _postmortem(row: PostmortemRow) -> Postmortem:
    return Postmortem(
        row.incident_id,
        row.status,
        dict(row.narrative or {}),
        row.created_at,
        row.updated_at,
        row.updated_by,
        row.reviewed_at,
        row.published_at,
        row.path,
        dict(row.names or {}),
    )


class ActionItemStore(Store):
    async def add(
        self, incident_id: int, text: str, owner: str | None, due: date | None, created_by: str, now: datetime
    ) -> ActionItem:
        async with self._tx() as session:
            row = ActionItemRow(
                incident_id=incident_id,
                text=text,
                owner=owner,
                due=due,
                status=OPEN,
                created_by=created_by,
                created_at=now,
            )
            session.add(row)
            await session.flush()
            return _item(row)

    async def get(self, item_id: int) -> ActionItem | None:
        async with self.sessions() as session:
            row = await session.get(ActionItemRow, item_id)
            return _item(row) if row else None

    async def _list(self, *where: Any) -> list[ActionItem]:
        async with self.sessions() as session:
            rows = await session.scalars(select(ActionItemRow).where(*where).order_by(ActionItemRow.id))
            return [_item(row) for row in rows.all()]

    async def for_incident(self, incident_id: int) -> list[ActionItem]:
        return await self._list(ActionItemRow.incident_id == incident_id)

    async def open_items(self) -> list[ActionItem]:
        return await self._list(ActionItemRow.status == OPEN)

    async def everything(self) -> list[ActionItem]:
        return await self._list()

    async def complete(self, item_id: int, user: str, now: datetime) -> bool:
        """Open → done; False when it was done already (a second click, another person)."""
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(ActionItemRow)
                .where(ActionItemRow.id == item_id, ActionItemRow.status == OPEN)
                .values(status=DONE, done_at=now, done_by=user)
            )
            return result.rowcount == 1

    async def exported(self, item_id: int, url: str) -> bool:
        """Record where the item went; False when it had been exported already (a second click)."""
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(ActionItemRow)
                .where(ActionItemRow.id == item_id, ActionItemRow.external_url.is_(None))
                .values(external_url=url)
            )
            return result.rowcount == 1


class PostmortemStore(Store):
    async def get(self, incident_id: int) -> Postmortem | None:
        async with self.sessions() as session:
            row = await session.scalar(select(PostmortemRow).where(PostmortemRow.incident_id == incident_id))
            return _postmortem(row) if row else None

    async def everything(self) -> list[Postmortem]:
        async with self.sessions() as session:
            rows = await session.scalars(select(PostmortemRow).order_by(PostmortemRow.incident_id))
            return [_postmortem(row) for row in rows.all()]

    async def ensure(self, incident_id: int, now: datetime) -> Postmortem:
        """The incident's post-mortem, created as an empty draft the first time it is asked for."""
        async with self._tx() as session:
            await insert_new(
                session,
                PostmortemRow,
                "incident_id",
                incident_id=incident_id,
                status=DRAFT,
                narrative={},
                created_at=now,
                updated_at=now,
            )
        found = await self.get(incident_id)
        assert found is not None
        return found

    async def write(
        self, incident_id: int, sections: dict[str, Any], user: str | None, now: datetime
    ) -> Postmortem:
        """Merge what a person wrote into the narrative; sections not given keep their text. `user` None:
        facts recorded on the way (impact times at resolve), which do not count as a draft written."""
        await self.ensure(incident_id, now)
        async with self._tx() as session:
            row = await session.scalar(
                select(PostmortemRow).where(PostmortemRow.incident_id == incident_id).with_for_update()
            )
            assert row is not None
            row.narrative = {**(row.narrative or {}), **sections}
            row.updated_at = now
            if user is not None:
                row.updated_by = user
        found = await self.get(incident_id)
        assert found is not None
        return found

    async def remember_names(self, incident_id: int, names: dict[str, str]) -> None:
        """Keep the names Slack gave, merged with earlier ones (someone may have left the workspace since)."""
        async with self._tx() as session:
            row = await session.scalar(
                select(PostmortemRow).where(PostmortemRow.incident_id == incident_id).with_for_update()
            )
            if row is not None and {**(row.names or {}), **names} != (row.names or {}):
                row.names = {**(row.names or {}), **names}

    async def mark(self, incident_id: int, status: str, now: datetime, path: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == REVIEWED:
            values["reviewed_at"] = now
        if status == PUBLISHED:
            values["published_at"] = now
        if path is not None:
            values["path"] = path
        async with self._tx() as session:
            await session.execute(
                update(PostmortemRow).where(PostmortemRow.incident_id == incident_id).values(**values)
            )
