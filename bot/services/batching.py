"""Batches: calls that arrive together share one run of the work behind them.

Fifty people typing `/incident list` in the same second need one query, not fifty, and fifty Slack
deliveries need one INSERT of their replay claims, not fifty commits: at 50 requests in flight the bot's
one busy core spent its time in SQLAlchemy building the same rows again (about 3 ms a query), and on
SQLite fifty one-row commits queued on the single writer lock in SQLite's busy handler (ack p99 1.9 s,
68× a bare Bolt app). Never stale: a call that arrives while a run is under way waits for the next run,
which starts after it arrived, so it reads nothing older than a run of its own would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")
T = TypeVar("T")


class Batched(Generic[K, R]):
    """`await batched(item)` → the result for `item` of `run(items)`, one run per batch of waiting calls;
    `run` answers a list in the order of `items`. One run at a time per process."""

    def __init__(self, run: Callable[[list[K]], Awaitable[Sequence[R]]], max_batch: int = 500) -> None:
        self._run = run
        self.max_batch = max_batch
        self._lock = asyncio.Lock()
        self._pending: list[tuple[K, asyncio.Future[R]]] = []

    async def __call__(self, item: K) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)
        self._pending.append((item, future))
        while not future.done():
            async with self._lock:
                if future.done():
                    break
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._settle(batch)
        return future.result()

    async def _settle(self, batch: list[tuple[K, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except Exception as exc:  # the whole batch sees what each of its calls would have seen
            _fail(batch, exc)
        except BaseException:  # the caller running it was cancelled: the others must not wait forever
            _fail(batch, RuntimeError("the batch was interrupted"))
            raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


class SharedRead(Generic[T]):
    """A read without arguments, shared by the calls that arrive together."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._batched: Batched[None, T] = Batched(self._all)

    async def _all(self, callers: list[None]) -> list[T]:
        result = await self._read()
        return [result] * len(callers)

    async def __call__(self) -> T:
        return await self._batched(None)


def _fail(batch: list[tuple[K, asyncio.Future[R]]], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


def _retrieved(future: asyncio.Future[R]) -> None:
    """A call that went away must not leave "exception was never retrieved" in the log."""
    if not future.cancelled():
        future.exception()
