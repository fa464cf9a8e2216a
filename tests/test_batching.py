"""Batches (`/incident list` and replay claims under load): one run serves every call that arrived before
it started, and nobody gets a result older than a run of their own."""

from __future__ import annotations

import asyncio

from bot.services.batching import Batched, SharedRead
from bot.store import IncidentStore, db


class Table:
    """A stand-in for the database: `rows` changes, and while `held` each read waits for a `let_one()`."""

    def __init__(self) -> None:
        self.rows = 0
        self.reads = 0
        self.held = False
        self.reading = asyncio.Event()
        self.fail: Exception | None = None
        self._tokens: asyncio.Queue[None] = asyncio.Queue()

    def let_one(self) -> None:
        self._tokens.put_nowait(None)

    async def read(self) -> int:
        self.reads += 1
        seen = self.rows
        self.reading.set()
        if self.held:
            await self._tokens.get()
        if self.fail:
            raise self.fail
        return seen

    async def next_read(self) -> None:
        self.reading.clear()
        await self.reading.wait()


async def _first_read_held() -> tuple[Table, SharedRead[int], asyncio.Task[int]]:
    table = Table()
    shared = SharedRead(table.read)
    table.held = True
    first = asyncio.create_task(shared())
    await table.reading.wait()
    return table, shared, first


async def test_callers_arriving_during_a_read_share_the_next_one_and_see_what_was_written_before() -> None:
    table, shared, first = await _first_read_held()
    table.rows = 7  # written after the first read began, before the others asked
    later = [asyncio.create_task(shared()) for _ in range(49)]
    table.let_one()
    table.let_one()
    assert await first == 0
    assert await asyncio.gather(*later) == [7] * 49
    assert table.reads == 2


async def test_a_failed_read_fails_its_batch_only() -> None:
    table = Table()
    shared = SharedRead(table.read)
    table.fail = ConnectionError("database away")
    results = await asyncio.gather(*(shared() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    table.fail = None
    table.rows = 3
    assert await shared() == 3


async def test_the_caller_that_started_a_read_may_be_cancelled_without_stranding_the_others() -> None:
    table, shared, first = await _first_read_held()
    batch = [asyncio.create_task(shared()) for _ in range(3)]
    next_read = asyncio.create_task(table.next_read())
    table.let_one()
    assert await first == 0
    await next_read  # the batch's run is under way, started by batch[0] (the lock is first come first served)
    batch[0].cancel()
    results = await asyncio.gather(*batch, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(r, RuntimeError) for r in results[1:]), results
    table.held = False
    table.rows = 5
    assert await shared() == 5


async def test_claims_from_two_replicas_in_batches_let_each_delivery_through_once(database_url: str) -> None:
    """Slack's retries and replays land on any replica, in the same batch or not: each key wins once."""
    engines = [db.make_engine(database_url) for _ in range(2)]
    try:
        replicas = [Batched(IncidentStore(db.make_sessionmaker(engine)).claim_many) for engine in engines]
        keys = [f"signed:v0={n:064x}" for n in range(60)] + ["x" * 500 + str(n) for n in range(5)]
        deliveries = [(replica, key) for key in keys for replica in replicas for _ in range(2)]
        answers = await asyncio.gather(*(replica(key) for replica, key in deliveries))
        firsts = [key for (_, key), first in zip(deliveries, answers, strict=True) if first]
        assert sorted(firsts) == sorted(keys)
        assert await replicas[0](keys[0]) is False
    finally:
        for engine in engines:
            await engine.dispose()
