"""Durable timers: escalation waits, update reminders, snoozes and queued jobs, kept as database rows.

Why rows and not asyncio tasks: a restart or a crash must neither lose a pending page nor send it twice,
and with several replicas on one Postgres each timer must fire in exactly one of them.

A worker claims due timers with one conditional UPDATE (`… WHERE status = 'pending' RETURNING`); on
Postgres the candidate SELECT also takes `FOR UPDATE SKIP LOCKED`, so replicas never wait on each other.
The same statement works on SQLite (one bot process), so there is one code path and no task-queue
service to run. A claimed timer carries a lease: if its worker dies while firing it, another worker takes
it over once the lease has expired, so a crash can at worst repeat a timer, never lose it; handlers
check the state they act on, so a repeat is harmless. The worker renews the leases of the timers it is
still firing, so a lease can be short (a dead worker's page is taken over within seconds) while a
handler may wait on a slow Slack for longer than that.

The worker fires several timers at once (bounded) and claims the most urgent first (`priority`: pages
before a SEV1's set-up before a SEV4's before reminders). A handler never sleeps on a rate limit: it
raises `RetryLater`, and the timer goes back to the queue, due when the limit allows, freeing the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, CursorResult, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Store, dialect_insert, insert_new
from bot.store.models import TimerRow

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, CANCELLED, FAILED = "pending", "running", "done", "cancelled", "failed"
LEASE = timedelta(seconds=15)
"""How long a claim holds without renewal; the worker renews it every third of that while firing."""
MAX_ATTEMPTS = 5
CONCURRENCY = 8
"""Timers one worker fires at once: a slow Slack call must not hold up a page behind it."""

PAGE_PRIORITY = 0
"""Pages and escalation steps: the reason the bot exists."""
RECORD_PRIORITY = 5
"""Recording an incident an alert declared (and starting its paging): a page needs the record."""
SETUP_PRIORITY = 10
"""Setting up a SEV1's channel; a SEVn's is `setup_priority(n - 1)`."""
LATER_PRIORITY = 80
"""Reminders, nudges, cosmetics: nothing a responder waits for."""
DEFAULT_PRIORITY = 50


def setup_priority(rank: int) -> int:
    """The set-up of an incident of the `rank`-th severity (0 is the most severe) waits behind pages and
    behind every more severe incident's set-up, but before reminders."""
    return min(SETUP_PRIORITY + 10 * max(rank, 0), LATER_PRIORITY - 10)


IN_WORKER: contextvars.ContextVar[bool] = contextvars.ContextVar("incidentbot_in_timer_worker", default=False)
"""True while a timer handler runs: code below it must not sleep on a rate limit (raise `RetryLater`)."""
FIRING: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "incidentbot_firing_timer", default=None
)
"""(timer id, priority) of the timer whose handler runs: a rate budget serves the most urgent first."""


class RetryLater(Exception):
    """Raised by a handler that must wait (a rate limit's Retry-After): the timer is due again `after`
    from now, without counting an attempt, and the worker is free for other timers meanwhile."""

    def __init__(self, after: timedelta, reason: str) -> None:
        super().__init__(reason)
        self.after = after
        self.reason = reason


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str
    key: str | None
    incident_id: int | None
    due_at: datetime
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    priority: int = DEFAULT_PRIORITY


@dataclass(frozen=True)
class NewTimer:
    """A timer to add in the same transaction as the state change that wants it (see `add_timer`)."""

    kind: str
    due_at: datetime
    payload: dict[str, Any]
    incident_id: int | None = None
    key: str | None = None
    priority: int = DEFAULT_PRIORITY

    async def add(self, session: AsyncSession, now: datetime) -> bool:
        return await add_timer(
            session,
            self.kind,
            self.due_at,
            now,
            self.payload,
            incident_id=self.incident_id,
            key=self.key,
            priority=self.priority,
        )


Handler = Callable[[Timer], Awaitable[None]]
Lane = Callable[[Timer], str | None]
"""Timers of one lane (say, the jobs of one alert group) fire one after the other, in claim order."""


def _timer(row: TimerRow) -> Timer:
    return Timer(
        row.id,
        row.kind,
        row.key,
        row.incident_id,
        row.due_at,
        dict(row.payload or {}),
        row.attempts,
        row.created_at,
        row.priority,
    )


async def add_timer(
    session: AsyncSession,
    kind: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
    *,
    incident_id: int | None = None,
    key: str | None = None,
    priority: int = DEFAULT_PRIORITY,
) -> bool:
    """Add a timer inside the caller's transaction, so it commits (or not) with the change that wants it
    (a queued job and the state it acts on); with a `key`, a second add of the same key adds nothing.

    The caller kicks the scheduler after its commit when the timer is due now.
    """
    return await insert_new(
        session,
        TimerRow,
        "key",
        kind=kind,
        key=key,
        incident_id=incident_id,
        due_at=due_at,
        payload=payload or {},
        status=PENDING,
        attempts=0,
        created_at=now,
        priority=priority,
    )


def add_timer_now(connection: Connection, timer: NewTimer, now: datetime) -> bool:
    """`add_timer` for synchronous code inside a flush (`bot.store.listen`): same row, same key rule."""
    statement = (
        dialect_insert(connection.dialect.name)(TimerRow)
        .values(
            kind=timer.kind,
            key=timer.key,
            incident_id=timer.incident_id,
            due_at=timer.due_at,
            payload=timer.payload,
            status=PENDING,
            attempts=0,
            created_at=now,
            priority=timer.priority,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return connection.execute(statement).rowcount == 1


def cancel_key_prefix_now(connection: Connection, prefix: str, incident_id: int) -> int:
    """Cancel an incident's pending timers whose key starts with `prefix`, inside a flush."""
    statement = (
        update(TimerRow)
        .where(
            TimerRow.incident_id == incident_id, TimerRow.status == PENDING, TimerRow.key.startswith(prefix)
        )
        .values(status=CANCELLED)
    )
    return connection.execute(statement).rowcount


class TimerStore(Store):
    async def schedule(
        self,
        kind: str,
        due_at: datetime,
        now: datetime,
        payload: dict[str, Any] | None = None,
        *,
        incident_id: int | None = None,
        key: str | None = None,
        priority: int = DEFAULT_PRIORITY,
    ) -> bool:
        """Add a timer; with a `key`, a second schedule of the same key adds nothing (returns False)."""
        async with self._tx() as session:
            return await add_timer(
                session, kind, due_at, now, payload, incident_id=incident_id, key=key, priority=priority
            )

    async def cancel(self, incident_id: int, *kinds: str) -> int:
        """Cancel the pending timers of these kinds for an incident (all kinds when none are given)."""
        statement = update(TimerRow).where(TimerRow.incident_id == incident_id, TimerRow.status == PENDING)
        if kinds:
            statement = statement.where(TimerRow.kind.in_(kinds))
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(statement.values(status=CANCELLED))  # type: ignore[assignment]
            return result.rowcount

    async def postpone(self, key: str, due_at: datetime, payload: dict[str, Any]) -> bool:
        """Move the pending timer with `key` to `due_at` (earlier or later), with a new payload."""
        statement = (
            update(TimerRow)
            .where(TimerRow.key == key, TimerRow.status == PENDING)
            .values(due_at=due_at, payload=payload)
        )
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(statement)  # type: ignore[assignment]
            return result.rowcount == 1

    async def has_key(self, key: str) -> bool:
        """Whether a timer with `key` was ever added (pending, done or cancelled alike)."""
        async with self.sessions() as session:
            return await session.scalar(select(TimerRow.id).where(TimerRow.key == key)) is not None

    async def cancel_key_prefix(self, prefix: str) -> int:
        """Cancel the pending timers whose key starts with `prefix` (e.g. one action item's reminders)."""
        statement = update(TimerRow).where(TimerRow.status == PENDING, TimerRow.key.startswith(prefix))
        async with self._tx() as session:
            result: CursorResult[Any] = await session.execute(statement.values(status=CANCELLED))  # type: ignore[assignment]
            return result.rowcount

    async def pending(self, incident_id: int | None = None, kind: str | None = None) -> list[Timer]:
        statement = select(TimerRow).where(TimerRow.status == PENDING).order_by(TimerRow.due_at, TimerRow.id)
        if incident_id is not None:
            statement = statement.where(TimerRow.incident_id == incident_id)
        if kind is not None:
            statement = statement.where(TimerRow.kind == kind)
        async with self.sessions() as session:
            return [_timer(row) for row in (await session.scalars(statement)).all()]

    async def claim_due(
        self, now: datetime, worker: str, limit: int = 20, lease: timedelta = LEASE
    ) -> list[Timer]:
        """Claim up to `limit` due timers for `worker`; a timer is claimed by exactly one worker.

        A read first, so that polling an idle queue writes nothing: on SQLite every write takes the
        database's one write lock, and a Slack request's write that meets it waits in SQLite's busy
        handler, which sleeps in steps of up to 100 ms."""
        async with self.sessions() as session:
            work = await session.scalar(
                select(TimerRow.id)
                .where(
                    or_(
                        and_(TimerRow.status == PENDING, TimerRow.due_at <= now),
                        and_(TimerRow.status == RUNNING, TimerRow.lease_until < now),
                    )
                )
                .limit(1)
            )
        if work is None:
            return []
        async with self._tx() as session:
            await session.execute(
                update(TimerRow)
                .where(TimerRow.status == RUNNING, TimerRow.lease_until < now)
                .values(status=PENDING, claimed_by=None, lease_until=None)
            )
            due = (
                select(TimerRow.id)
                .where(TimerRow.status == PENDING, TimerRow.due_at <= now)
                .order_by(TimerRow.priority, TimerRow.due_at, TimerRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            claimed = await session.scalars(
                update(TimerRow)
                .where(TimerRow.id.in_(due.scalar_subquery()), TimerRow.status == PENDING)
                .values(
                    status=RUNNING, claimed_by=worker, lease_until=now + lease, attempts=TimerRow.attempts + 1
                )
                .returning(TimerRow)
                .execution_options(synchronize_session=False)
            )
            return sorted((_timer(row) for row in claimed.all()), key=lambda t: (t.priority, t.due_at, t.id))

    async def renew(self, ids: list[int], worker: str, until: datetime) -> None:
        """Extend the leases of the timers `worker` is still firing (a slow Slack is not a dead worker)."""
        if not ids:
            return
        async with self._tx() as session:
            await session.execute(
                update(TimerRow)
                .where(TimerRow.id.in_(ids), TimerRow.status == RUNNING, TimerRow.claimed_by == worker)
                .values(lease_until=until)
            )

    async def finish(
        self,
        timer: Timer,
        worker: str,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
        *,
        counts: bool = True,
    ) -> None:
        """Record the outcome, unless the lease expired and another worker has taken the timer over.

        `counts=False` (a rate limit, not a failure) gives the claim's attempt back."""
        if error is None:
            values: dict[str, Any] = {"status": DONE, "finished_at": now, "lease_until": None}
        elif retry_at is not None:
            values = {"status": PENDING, "due_at": retry_at, "last_error": error, "lease_until": None}
            if not counts:
                values["attempts"] = TimerRow.attempts - 1
        else:
            values = {"status": FAILED, "finished_at": now, "last_error": error, "lease_until": None}
        async with self._tx() as session:
            await session.execute(
                update(TimerRow)
                .where(TimerRow.id == timer.id, TimerRow.status == RUNNING, TimerRow.claimed_by == worker)
                .values(**values)
            )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    """Fires due timers with the handler registered for their kind; one per process."""

    def __init__(
        self,
        store: TimerStore,
        now: Callable[[], datetime],
        poll_seconds: float = 1.0,
        batch: int = 20,
        concurrency: int = CONCURRENCY,
        lease: timedelta = LEASE,
    ) -> None:
        self.store = store
        self.now = now
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.concurrency = concurrency
        self.lease = lease
        self.worker = worker_name()
        self.handlers: dict[str, Handler] = {}
        self.lanes: dict[str, Lane] = {}
        self._lane_tails: dict[str, asyncio.Task[None]] = {}
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._firing: dict[int, asyncio.Task[None]] = {}
        self._stopping = False
        self._away_since: float | None = None

    def on(self, kind: str, handler: Handler, lane: Lane | None = None) -> None:
        self.handlers[kind] = handler
        if lane is not None:
            self.lanes[kind] = lane

    async def schedule(
        self,
        kind: str,
        due_at: datetime,
        payload: dict[str, Any] | None = None,
        *,
        incident_id: int | None = None,
        key: str | None = None,
        priority: int = DEFAULT_PRIORITY,
    ) -> bool:
        created = await self.store.schedule(
            kind, due_at, self.now(), payload, incident_id=incident_id, key=key, priority=priority
        )
        if created and due_at <= self.now():
            self.kick()
        return created

    def kick(self) -> None:
        """Look for due timers now rather than at the next poll (a timer due now was just added)."""
        self._kick.set()

    async def run_due(self) -> int:
        """Fire every timer due by now, one after the other; returns how many fired. Tests call this after
        moving the clock (the running worker fires them side by side instead)."""
        fired = 0
        while not self._stopping:
            timers = await self.store.claim_due(self.now(), self.worker, self.batch, self.lease)
            if not timers:
                return fired
            for timer in timers:
                await self._fire(timer)
                fired += 1
        return fired

    async def _fire(self, timer: Timer) -> None:
        handler = self.handlers.get(timer.kind)
        if handler is None:
            await self.store.finish(
                timer, self.worker, self.now(), f"no handler for timer kind {timer.kind!r}"
            )
            log.error("timer %s: no handler for kind %s", timer.id, timer.kind)
            return
        token = IN_WORKER.set(True)
        firing = FIRING.set((timer.id, timer.priority))
        try:
            await handler(timer)
        except RetryLater as later:
            log.info("timer %s (%s) waits %s: %s", timer.id, timer.kind, later.after, later.reason)
            now = self.now()
            await self.store.finish(timer, self.worker, now, later.reason, now + later.after, counts=False)
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            retry = timer.attempts < MAX_ATTEMPTS
            delay = timedelta(seconds=min(300, 5 * 2 ** (timer.attempts - 1)))
            log.exception(
                "timer %s (%s, incident %s) failed on attempt %s%s",
                timer.id,
                timer.kind,
                timer.incident_id,
                timer.attempts,
                f"; retrying in {delay}" if retry else "; giving up",
            )
            now = self.now()
            await self.store.finish(timer, self.worker, now, error, now + delay if retry else None)
            return
        finally:
            IN_WORKER.reset(token)
            FIRING.reset(firing)
        await self.store.finish(timer, self.worker, self.now())

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="incidentbot-timers")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Let the timers being fired finish (a page half sent is worse than a slow shutdown); what is
        still running after the grace is cancelled, and its lease lets another worker finish it."""
        self._stopping = True
        self._kick.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _loop(self) -> None:
        renewing = asyncio.create_task(self._renew_leases(), name="incidentbot-timer-leases")
        try:
            while not self._stopping:
                self._kick.clear()
                claimed = await self._claim_some()
                if claimed and len(self._firing) < self.concurrency:
                    continue  # there may be more due right now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), self.poll_seconds)
            if self._firing:
                await asyncio.wait(list(self._firing.values()))
        finally:
            for task in self._firing.values():
                task.cancel()
            renewing.cancel()
            await asyncio.gather(renewing, *self._firing.values(), return_exceptions=True)
            self._firing.clear()

    async def _claim_some(self) -> int:
        free = self.concurrency - len(self._firing)
        if free <= 0:
            return 0
        try:
            timers = await self.store.claim_due(self.now(), self.worker, min(free, self.batch), self.lease)
        except Exception as exc:  # the database may be away for a while; keep the loop alive
            self._database_away(exc)
            return 0
        self._database_back()
        for timer in timers:
            lane_of = self.lanes.get(timer.kind)
            lane = lane_of(timer) if lane_of is not None else None
            after = self._lane_tails.get(lane) if lane is not None else None
            task = asyncio.create_task(self._fire_logged(timer, after), name=f"incidentbot-timer-{timer.id}")
            if lane is not None:
                self._lane_tails[lane] = task
                task.add_done_callback(
                    lambda done, lane=lane: (
                        self._lane_tails.pop(lane, None) if self._lane_tails.get(lane) is done else None
                    )
                )
            self._firing[timer.id] = task
            task.add_done_callback(lambda _, timer_id=timer.id: self._fired(timer_id))
        return len(timers)

    def _fired(self, timer_id: int) -> None:
        self._firing.pop(timer_id, None)
        self._kick.set()  # a slot is free

    async def _fire_logged(self, timer: Timer, after: asyncio.Task[None] | None = None) -> None:
        if after is not None:
            await asyncio.wait([after])  # the lane's previous timer first
        try:
            await self._fire(timer)
        except Exception as exc:  # finishing failed (database away): the lease hands it on later
            self._database_away(exc)

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            with contextlib.suppress(Exception):  # an outage is reported by the claim loop
                await self.store.renew(list(self._firing), self.worker, self.now() + self.lease)

    def _database_away(self, exc: Exception) -> None:
        """One WARNING per outage, not a traceback per poll."""
        if self._away_since is None:
            self._away_since = time.monotonic()
            log.warning(
                "timer worker: database unreachable (%s: %s); retrying every %g s",
                type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "",
                self.poll_seconds,
            )
        else:
            log.debug("timer worker: database still unreachable", exc_info=exc)

    def _database_back(self) -> None:
        if self._away_since is not None:
            log.warning(
                "timer worker: database reachable again after %.0f s", time.monotonic() - self._away_since
            )
            self._away_since = None
