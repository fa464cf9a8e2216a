"""Posted runbooks and their steps' states. Every transition is a conditional UPDATE: a double click,
a retried Slack delivery or a second replica cannot start a step that is already running."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, or_, select, update

from bot.store.db import Store
from bot.store.models import RunbookRunRow, RunbookStepRow

PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
AWAITING_APPROVAL, SKIPPED, DONE = "awaiting_approval", "skipped", "done"


@dataclass(frozen=True)
class RunRecord:
    id: int
    incident_id: int
    runbook: str
    started_by: str
    created_at: datetime
    channel: str | None
    messages: dict[str, str]


@dataclass(frozen=True)
class StepRecord:
    id: int
    run_id: int
    step_id: str
    section: str
    state: str
    actor: str | None
    params: dict[str, str]
    result: dict[str, Any]
    started_at: datetime | None
    finished_at: datetime | None
    runs: int


def _run(row: RunbookRunRow) -> RunRecord:
    return RunRecord(
        row.id,
        row.incident_id,
        row.runbook,
        row.started_by,
        row.created_at,
        row.channel,
        dict(row.messages or {}),
    )


def _step(row: RunbookStepRow) -> StepRecord:
    return StepRecord(
        row.id,
        row.run_id,
        row.step_id,
        row.section,
        row.state,
        row.actor,
        dict(row.params or {}),
        dict(row.result or {}),
        row.started_at,
        row.finished_at,
        row.runs,
    )


class RunbookStore(Store):
    async def create_run(
        self, incident_id: int, runbook: str, started_by: str, now: datetime, steps: list[tuple[str, str]]
    ) -> RunRecord:
        async with self._tx() as session:
            row = RunbookRunRow(
                incident_id=incident_id, runbook=runbook, started_by=started_by, created_at=now, messages={}
            )
            session.add(row)
            await session.flush()
            for section, step_id in steps:
                session.add(
                    RunbookStepRow(
                        run_id=row.id,
                        step_id=step_id,
                        section=section,
                        state=PENDING,
                        params={},
                        result={},
                        runs=0,
                    )
                )
            return _run(row)

    async def set_messages(self, run_id: int, channel: str, messages: dict[str, str]) -> None:
        async with self._tx() as session:
            await session.execute(
                update(RunbookRunRow)
                .where(RunbookRunRow.id == run_id)
                .values(channel=channel, messages=messages)
            )

    async def run(self, run_id: int) -> RunRecord | None:
        async with self.sessions() as session:
            row = await session.get(RunbookRunRow, run_id)
            return _run(row) if row else None

    async def runs(self, incident_id: int) -> list[RunRecord]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(RunbookRunRow)
                .where(RunbookRunRow.incident_id == incident_id)
                .order_by(RunbookRunRow.id)
            )
            return [_run(row) for row in rows.all()]

    async def steps(self, run_id: int) -> list[StepRecord]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(RunbookStepRow).where(RunbookStepRow.run_id == run_id).order_by(RunbookStepRow.id)
            )
            return [_step(row) for row in rows.all()]

    async def step(self, run_id: int, step_id: str) -> StepRecord | None:
        async with self.sessions() as session:
            row = await session.scalar(
                select(RunbookStepRow).where(
                    RunbookStepRow.run_id == run_id, RunbookStepRow.step_id == step_id
                )
            )
            return _step(row) if row else None

    async def _move(self, run_id: int, step_id: str, allowed: Any, **values: Any) -> bool:
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(RunbookStepRow)
                .where(RunbookStepRow.run_id == run_id, RunbookStepRow.step_id == step_id, allowed)
                .values(**values)
            )
            return result.rowcount == 1

    async def start(
        self,
        run_id: int,
        step_id: str,
        actor: str,
        params: dict[str, str],
        now: datetime,
        stale_before: datetime,
        seen_runs: int | None = None,
    ) -> bool:
        """Running, unless it already runs (a run older than `stale_before` died with its process), or it
        ran since the person saw it (`seen_runs`: a double click on Run of a quick step runs it once)."""
        allowed = or_(
            RunbookStepRow.state.not_in((RUNNING, AWAITING_APPROVAL)),
            (RunbookStepRow.state == RUNNING) & (RunbookStepRow.started_at < stale_before),
        )
        if seen_runs is not None:
            allowed = allowed & (RunbookStepRow.runs == seen_runs)
        return await self._move(
            run_id,
            step_id,
            allowed,
            state=RUNNING,
            actor=actor,
            params=params,
            started_at=now,
            finished_at=None,
            runs=RunbookStepRow.runs + 1,
        )

    async def await_approval(self, run_id: int, step_id: str, actor: str, params: dict[str, str]) -> bool:
        allowed = RunbookStepRow.state.not_in((RUNNING, AWAITING_APPROVAL))
        return await self._move(run_id, step_id, allowed, state=AWAITING_APPROVAL, actor=actor, params=params)

    async def approve(self, run_id: int, step_id: str, now: datetime) -> bool:
        """Awaiting approval → running: only one approver wins."""
        return await self._move(
            run_id,
            step_id,
            RunbookStepRow.state == AWAITING_APPROVAL,
            state=RUNNING,
            started_at=now,
            finished_at=None,
            runs=RunbookStepRow.runs + 1,
        )

    async def reject(self, run_id: int, step_id: str) -> bool:
        return await self._move(run_id, step_id, RunbookStepRow.state == AWAITING_APPROVAL, state=PENDING)

    async def finish(
        self, run_id: int, step_id: str, state: str, result: dict[str, Any], now: datetime
    ) -> None:
        await self._move(
            run_id, step_id, RunbookStepRow.state == RUNNING, state=state, result=result, finished_at=now
        )

    async def mark(self, run_id: int, step_id: str, state: str, actor: str, now: datetime) -> bool:
        """Done or skipped by a person; never while the step runs or waits for approval."""
        allowed = RunbookStepRow.state.not_in((RUNNING, AWAITING_APPROVAL, state))  # not done twice
        return await self._move(run_id, step_id, allowed, state=state, actor=actor, finished_at=now)
