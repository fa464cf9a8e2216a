"""The deploys table: one row per deploy, written by every source through `record`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.changes.deploys import Deploy, DeployNotice
from bot.store.db import Store, insert_new
from bot.store.models import DeployRow
from bot.timers import NewTimer

RECORDED = "changes.recorded"

Outcome = Literal["created", "updated", "duplicate"]


@dataclass(frozen=True)
class Recorded:
    outcome: Outcome
    deploy: Deploy


def _deploy(row: DeployRow) -> Deploy:
    return Deploy(
        id=row.id,
        service=row.service,
        environment=row.environment,
        version=row.version,
        previous_version=row.previous_version,
        commit=row.commit,
        commit_time=row.commit_time,
        url=row.url,
        status=row.status,
        canary_percent=row.canary_percent,
        deployed_at=row.deployed_at,
        stage_at=row.stage_at,
        source=row.source,
    )


class DeployStore(Store):
    async def record(self, notice: DeployNotice, key: str, source: str, now: datetime) -> Recorded:
        """Insert the deploy once per key; a later notice of it updates its status, stage and links.
        Replays (the same notice again, GitHub's redeliveries) change nothing and say so. A new or
        changed deploy gets its `RECORDED` job in the same transaction: what follows from it (a rollback
        watch, a line in open incidents) is done by the serving bot, also for the CLI's records."""
        deployed_at = notice.deployed_at or now
        async with self._tx() as session:
            previous = await self._previous(
                session, notice.service, notice.environment, notice.version, deployed_at
            )
            inserted = await insert_new(
                session,
                DeployRow,
                "key",
                key=key,
                source=source,
                service=notice.service,
                environment=notice.environment,
                version=notice.version,
                previous_version=previous,
                commit=notice.commit,
                commit_time=notice.commit_time,
                url=notice.url,
                status=notice.status,
                canary_percent=notice.canary_percent,
                deployed_at=deployed_at,
                stage_at=now,
                recorded_at=now,
            )
            row = (
                await session.execute(select(DeployRow).where(DeployRow.key == key).with_for_update())
            ).scalar_one()
            changed = {"created"} if inserted else _update(row, notice, deployed_at, now)
            if not changed:
                return Recorded("duplicate", _deploy(row))
            await session.flush()
            deploy = _deploy(row)
            key = f"deploy:{deploy.id}:{deploy.status}:{deploy.canary_percent}"
            await NewTimer(RECORDED, now, {"deploy_id": deploy.id}, key=key).add(session, now)
            return Recorded("created" if inserted else "updated", deploy)

    @staticmethod
    async def _previous(
        session: AsyncSession, service: str, environment: str, version: str, before: datetime
    ) -> str | None:
        return await session.scalar(
            select(DeployRow.version)
            .where(
                DeployRow.service == service,
                DeployRow.environment == environment,
                DeployRow.status == "success",
                DeployRow.version != version,
                DeployRow.deployed_at < before,
            )
            .order_by(DeployRow.deployed_at.desc(), DeployRow.id.desc())
            .limit(1)
        )

    async def get(self, deploy_id: int) -> Deploy | None:
        async with self.sessions() as session:
            row = await session.get(DeployRow, deploy_id)
            return _deploy(row) if row else None

    async def latest(self, service: str, version: str) -> Deploy | None:
        async with self.sessions() as session:
            row = await session.scalar(
                select(DeployRow)
                .where(DeployRow.service == service, DeployRow.version == version)
                .order_by(DeployRow.stage_at.desc(), DeployRow.id.desc())
                .limit(1)
            )
            return _deploy(row) if row else None

    async def between(
        self,
        start: datetime,
        end: datetime,
        services: Sequence[str] | None = None,
        environments: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Deploy]:
        """Newest first; by the (service, deployed_at) index when services are given."""
        statement = select(DeployRow).where(*_window(start, end, services, environments))
        statement = statement.order_by(DeployRow.deployed_at.desc(), DeployRow.id.desc())
        if limit is not None:
            statement = statement.limit(limit)
        async with self.sessions() as session:
            return [_deploy(row) for row in (await session.execute(statement)).scalars()]

    async def count_between(
        self, start: datetime, end: datetime, services: Sequence[str] | None, environments: Sequence[str]
    ) -> int:
        statement = select(func.count()).where(*_window(start, end, services, environments))
        async with self.sessions() as session:
            return int(await session.scalar(statement) or 0)


def _window(
    start: datetime, end: datetime, services: Sequence[str] | None, environments: Sequence[str] | None
) -> list[ColumnElement[bool]]:
    """The deploys `between` lists and `count_between` counts: the same ones."""
    where = [DeployRow.deployed_at >= start, DeployRow.deployed_at <= end]
    if services is not None:
        where.append(DeployRow.service.in_(list(services)))
    if environments is not None:
        where.append(DeployRow.environment.in_(list(environments)))
    return where


def _update(row: DeployRow, notice: DeployNotice, deployed_at: datetime, now: datetime) -> set[str]:
    """What a later notice of the same deploy changes; a success moves `deployed_at` to its own time
    (lead time runs to the deploy that reached production, not to its start)."""
    changed: set[str] = set()
    values = {
        "status": notice.status,
        "canary_percent": notice.canary_percent,
        "url": notice.url,
        "commit": notice.commit,
        "commit_time": notice.commit_time,
    }
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed.add(name)
    if "status" in changed and notice.status == "success" and row.deployed_at != deployed_at:
        row.deployed_at = deployed_at
    if changed & {"status", "canary_percent"}:
        row.stage_at = now
    return changed
