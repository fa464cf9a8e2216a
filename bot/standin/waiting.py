"""Waiting for asynchronous effects without fixed sleeps.

The bot acks Slack first and does the slow work afterwards, so a test cannot assert right after the
request returns. Polling a predicate keeps such tests both fast and free of flaky `sleep(1)` calls.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 5.0,  # noqa: ASYNC109 - a polling budget, not an I/O timeout
    interval: float = 0.02,
    message: str | None = None,
) -> T:
    """Await `predicate` (sync or async) until it returns something truthy, and return that.

    Exceptions raised by the predicate count as "not yet" (so `lambda: ws.messages(c)[-1]` works),
    but the last one is reported if time runs out.
    """
    deadline = time.monotonic() + timeout
    last_value: Any = None
    last_error: BaseException | None = None
    attempts = 0
    while True:
        attempts += 1
        try:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[return-value]
            last_value, last_error = value, None
        except Exception as exc:
            last_value, last_error = None, exc
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(interval)
    name = message or getattr(predicate, "__qualname__", repr(predicate))
    detail = f"last error: {last_error!r}" if last_error is not None else f"last result: {last_value!r}"
    raise AssertionError(f"{name} was still not true after {timeout}s ({attempts} attempts; {detail})")
