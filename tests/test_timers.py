"""Durable timers on SQLite and Postgres: idempotent scheduling, one claim per timer, leases, retries,
and two real worker processes sharing 200 due timers on Postgres."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.standin import eventually
from bot.store.models import TimerRow
from bot.timers import MAX_ATTEMPTS, Scheduler, Timer, TimerStore
from tests.fixtures_bot import Clock

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession]) -> TimerStore:
    return TimerStore(sessions)


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[int, str]:
    async with sessions() as session:
        return {row.id: row.status for row in (await session.scalars(select(TimerRow))).all()}


async def test_a_key_schedules_once(store: TimerStore) -> None:
    assert await store.schedule("page", T0, T0, {"n": 1}, key="escalate:1:0:0")
    assert not await store.schedule("page", T0 + timedelta(minutes=5), T0, {"n": 2}, key="escalate:1:0:0")
    [timer] = await store.pending()
    assert (timer.payload, timer.due_at) == ({"n": 1}, T0)
    assert await store.schedule("page", T0, T0)  # without a key every schedule adds one
    assert await store.schedule("page", T0, T0)
    assert len(await store.pending(kind="page")) == 3


async def test_only_due_timers_are_claimed_in_due_order(store: TimerStore) -> None:
    for minutes in (10, 0, 5, 20):
        await store.schedule("t", T0 + timedelta(minutes=minutes), T0, {"m": minutes})
    claimed = await store.claim_due(T0 + timedelta(minutes=10), "w1")
    assert [t.payload["m"] for t in claimed] == [0, 5, 10]
    assert [t.attempts for t in claimed] == [1, 1, 1]
    assert await store.claim_due(T0 + timedelta(minutes=10), "w2") == []


async def test_two_workers_never_claim_the_same_timer(store: TimerStore, database_url: str) -> None:
    for n in range(60):
        await store.schedule("t", T0, T0, {"n": n})
    batches = await asyncio.gather(*(store.claim_due(T0, f"w{i}", limit=7) for i in range(12)))
    ids = [t.id for batch in batches for t in batch]
    assert len(ids) == len(set(ids)) == 60


async def test_a_dead_workers_timer_is_taken_over_after_its_lease(
    store: TimerStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await store.schedule("t", T0, T0)
    [timer] = await store.claim_due(T0, "dead", lease=timedelta(seconds=60))
    assert await store.claim_due(T0 + timedelta(seconds=59), "alive") == []
    [again] = await store.claim_due(T0 + timedelta(seconds=61), "alive")
    assert again.id == timer.id and again.attempts == 2
    await store.finish(timer, "dead", T0)  # the dead worker's late report must not win
    assert (await statuses(sessions))[timer.id] == "running"
    await store.finish(again, "alive", T0)
    assert (await statuses(sessions))[timer.id] == "done"


async def test_cancel_touches_only_pending_timers_of_the_incident(
    store: TimerStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from bot.store import IncidentStore
    from tests.test_store import _declare

    incidents = IncidentStore(sessions)
    one, two = await _declare(incidents, "k1"), await _declare(incidents, "k2")
    await store.schedule("reminder", T0, T0, incident_id=one.id)
    await store.schedule("escalate", T0, T0, incident_id=one.id)
    await store.schedule("reminder", T0, T0, incident_id=two.id)
    assert await store.cancel(one.id, "reminder") == 1
    assert [(t.kind, t.incident_id) for t in await store.pending()] == [
        ("escalate", one.id),
        ("reminder", two.id),
    ]


async def test_scheduler_fires_retries_and_gives_up(store: TimerStore, sessions) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0)
    scheduler = Scheduler(store, clock)
    fired: list[Timer] = []
    failures = Counter[int]()

    async def ok(timer: Timer) -> None:
        fired.append(timer)

    async def flaky(timer: Timer) -> None:
        failures[timer.id] += 1
        raise RuntimeError("Slack is down")

    scheduler.on("ok", ok)
    scheduler.on("flaky", flaky)
    await scheduler.schedule("ok", T0 + timedelta(minutes=1), {"a": 1})
    await scheduler.schedule("flaky", T0)
    await scheduler.schedule("mystery", T0)
    assert await scheduler.run_due() == 2  # flaky and mystery are due, ok is not yet
    assert fired == []
    clock.advance(seconds=4)
    assert await scheduler.run_due() == 0  # flaky waits 5 s before its second attempt
    clock.advance(minutes=1)
    assert await scheduler.run_due() == 2  # ok, and flaky's second attempt
    assert [t.payload for t in fired] == [{"a": 1}] and failures.total() == 2
    for _ in range(MAX_ATTEMPTS):
        clock.advance(minutes=10)
        await scheduler.run_due()
    assert sorted((await statuses(sessions)).values()) == ["done", "failed", "failed"]
    assert list(failures.values()) == [MAX_ATTEMPTS]


async def test_the_worker_loop_fires_a_timer_due_now_at_once(store: TimerStore) -> None:
    scheduler = Scheduler(store, lambda: datetime.now(UTC), poll_seconds=30)
    fired = asyncio.Event()

    async def handler(timer: Timer) -> None:
        fired.set()

    scheduler.on("now", handler)
    scheduler.start()
    try:
        await asyncio.sleep(0.05)  # the loop is waiting for its next poll, 30 s away
        await scheduler.schedule("now", datetime.now(UTC))
        await asyncio.wait_for(fired.wait(), 2)
    finally:
        await scheduler.stop()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_bot_processes_fire_each_of_200_timers_exactly_once(
    database_url: str, store: TimerStore, tmp_path: Path
) -> None:
    outputs = [tmp_path / f"worker{i}.txt" for i in range(2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.timer_worker", database_url, str(out), env=env, cwd=ROOT
        )
        for out in outputs
    ]
    await eventually(lambda: all(out.with_suffix(".ready").exists() for out in outputs), timeout=30)
    now = datetime.now(UTC)
    for n in range(200):
        await store.schedule("probe", now - timedelta(milliseconds=n % 7), now, {"n": n})
    assert [await asyncio.wait_for(w.wait(), 60) for w in workers] == [0, 0]
    per_worker = [out.read_text().split() if out.exists() else [] for out in outputs]
    fired = Counter(timer for ids in per_worker for timer in ids)
    assert len(fired) == 200 and set(fired.values()) == {1}
    assert all(len(ids) >= 10 for ids in per_worker), [len(ids) for ids in per_worker]  # both took part
    assert await store.pending() == []
