"""Hourly pruning of bookkeeping inside `serve`, on the durable timers: with several replicas, the timer's
claim makes exactly one of them prune each hour, and a restart keeps the rhythm."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.retention import RetentionConfig, prune
from bot.timers import LATER_PRIORITY, Scheduler, Timer

log = logging.getLogger(__name__)

PRUNE = "housekeeping_prune"
EVERY = timedelta(hours=1)


class Housekeeping:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: RetentionConfig,
        scheduler: Scheduler,
        now: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.scheduler = scheduler
        self.now = now
        scheduler.on(PRUNE, self.fire)

    async def start(self) -> None:
        """Make sure the next prune is scheduled (one per hour, whoever starts first)."""
        await self._next(self.now())

    async def _next(self, after: datetime) -> None:
        due = after.replace(minute=0, second=0, microsecond=0) + EVERY
        await self.scheduler.schedule(PRUNE, due, {}, key=f"prune:{due.isoformat()}", priority=LATER_PRIORITY)

    async def fire(self, timer: Timer) -> None:
        try:
            pruned = await prune(self.sessions, self.settings, self.now())
            log.info("pruned %s", pruned)
        finally:
            await self._next(self.now())
