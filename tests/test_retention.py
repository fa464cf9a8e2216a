"""Retention of bookkeeping: `incidentbot db prune` deletes old Slack delivery keys, finished timers and
resolved alert groups, keeps recent ones, and never touches the record (incidents, the timeline)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import AppConfig
from bot.domain import DeclareRequest, EventKind
from bot.standin import RunningStandin
from bot.store import IncidentStore, NewEvent
from bot.store.models import AlertGroupRow, DeliveryRow, TimelineEventRow, TimerRow
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG

INCIDENTBOT = str(Path(sys.executable).parent / "incidentbot")
NOW = datetime.now(UTC)


def incidentbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INCIDENTBOT, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


async def count(sessions: async_sessionmaker[AsyncSession], table: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_prune_removes_old_bookkeeping_and_keeps_the_record(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    store = IncidentStore(sessions)
    old = NOW - timedelta(days=200)
    request = DeclareRequest(title="Long ago", severity="SEV2", summary="", reporter=ALICE, service="api")
    incident, _ = await store.create(request, "old-1", "investigating", "incident_commander", old)
    await store.append(incident.id, NewEvent(EventKind.NOTE_ADDED, ALICE, "kept forever", {}), old)
    async with sessions() as session, session.begin():
        session.add_all(
            [
                DeliveryRow(key="slack:old", created_at=NOW - timedelta(days=8)),
                DeliveryRow(key="slack:recent", created_at=NOW - timedelta(hours=1)),
                TimerRow(kind="x", due_at=old, payload={}, status="done", created_at=old, finished_at=old),
                TimerRow(kind="x", due_at=NOW, payload={}, status="done", created_at=NOW, finished_at=NOW),
                TimerRow(kind="x", due_at=old, payload={}, status="pending", created_at=old),
                AlertGroupRow(
                    key_hash="a" * 64,
                    group_key="{}",
                    action="declare",
                    status="resolved",
                    firing=[],
                    first_seen=old,
                    last_seen=old,
                    resolved_at=old,
                ),
            ]
        )
    events = await count(sessions, TimelineEventRow)
    env_args = ("--config", str(EXAMPLE_CONFIG), "--database-url", database_url)
    dry = await asyncio.to_thread(incidentbot, "db", "prune", "--dry-run", *env_args, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would delete 1 Slack delivery keys, 1 finished timers, 1 resolved alert groups" in dry.stdout
    assert await count(sessions, DeliveryRow) == 2  # a dry run deletes nothing

    done = await asyncio.to_thread(incidentbot, "db", "prune", *env_args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "deleted 1 Slack delivery keys, 1 finished timers, 1 resolved alert groups" in done.stdout
    async with sessions() as session:
        assert list(await session.scalars(select(DeliveryRow.key))) == ["slack:recent"]
        assert sorted(await session.scalars(select(TimerRow.status))) == ["done", "pending"]
    assert await count(sessions, AlertGroupRow) == 0
    assert await count(sessions, TimelineEventRow) == events  # the record stays
    assert await store.get(incident.id) is not None


async def test_serving_prunes_once_an_hour_on_the_durable_timers(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    from bot.services.housekeeping import PRUNE
    from tests.fixtures_bot import Clock, bot_settings, running_bot

    clock = Clock(NOW)
    async with running_bot(bot_settings(database_url, standin), app_config, standin.workspace, clock) as bot:
        runtime = bot.runtime
        await runtime.housekeeping.start()
        await runtime.housekeeping.start()  # a second replica starting: still one prune an hour
        [due] = [t.due_at for t in await runtime.scheduler.store.pending(kind=PRUNE)]
        assert due > NOW and due - NOW <= timedelta(hours=1) and due.minute == 0
        async with runtime.incidents.store.sessions() as session, session.begin():
            session.add(DeliveryRow(key="slack:stale", created_at=NOW - timedelta(days=30)))
        clock.advance(hours=1)
        await runtime.scheduler.run_due()
        async with runtime.incidents.store.sessions() as session:
            assert "slack:stale" not in list(await session.scalars(select(DeliveryRow.key)))
        [following] = [t.due_at for t in await runtime.scheduler.store.pending(kind=PRUNE)]
        assert following == due + timedelta(hours=1)
