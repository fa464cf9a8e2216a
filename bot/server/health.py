"""Health checks that run in the background, so `/healthz` answers at once whatever a dependency does.

Prometheus answering slowly (or not at all, ~3.5 s until the client gives up) must not make `/healthz`
slow: Docker's health check gives up after 4 s and would restart a bot that is merely degraded. The probe
runs on its own schedule; `/healthz` reports its last answer and how old that answer is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

PROBE_EVERY_S = 15.0
"""Between two probes; /healthz reports the last answer and its age."""
FIRST_WAIT_S = 0.8
"""How long the first /healthz after a start waits for the first answer: /healthz stays under 1 s."""


class BackgroundProbe:
    """Calls `check` (None when healthy, else why not) every `every` seconds in a task of its own."""

    def __init__(
        self,
        name: str,
        check: Callable[[], Awaitable[str | None]],
        every: float = PROBE_EVERY_S,
        first_wait: float = FIRST_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.check = check
        self.every = every
        self.first_wait = first_wait
        self.clock = clock
        self.last: tuple[float, str | None] | None = None
        self._answered = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._started = self.clock()
            self._task = asyncio.create_task(self._loop(), name=f"{self.name} health probe")

    async def _loop(self) -> None:
        while True:
            try:
                error = await self.check()
            except Exception as exc:  # a probe must never die: report the failure instead
                error = f"{type(exc).__name__}: {exc}"
            self._log_change(error)
            self.last = (self.clock(), error)
            self._answered.set()
            await asyncio.sleep(self.every)

    def _log_change(self, error: str | None) -> None:
        """One WARNING when it goes away and one line when it is back: an outage, not a line a probe."""
        before = self.last[1] if self.last is not None else None
        if error is not None and before is None:
            log.warning("%s is not answering: %s", self.name, error)
        elif error is None and before is not None:
            log.warning("%s answers again", self.name)

    async def report(self) -> dict[str, Any]:
        """The last answer (`ok`, `error`) and `checked_seconds_ago`; waits only for the very first one,
        and not longer than `first_wait`."""
        self.start()
        if self.last is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), self.first_wait)
        if self.last is None:
            waited = self.clock() - self._started
            return {
                "ok": False,
                "error": f"{self.name} slow (no answer within {waited:.1f} s so far; still probing)",
            }
        at, error = self.last
        age = round(self.clock() - at, 1)
        return {"ok": error is None, "checked_seconds_ago": age, **({"error": error} if error else {})}

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
