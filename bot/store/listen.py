"""Every new timeline event, seen inside the transaction that writes it (the workflows' one event bus).

Why at the store and not in each service: a change reaches the timeline from Slack, the CLI, an
Alertmanager webhook or an auto-resolve, through several stores; a listener here sees all of them alike,
and whatever it writes (durable timers) commits or rolls back with the event itself. The listener is
synchronous because SQLAlchemy's flush events are; under the asyncio session it runs inside the flush's
greenlet, so it may execute statements on `session.connection()`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, UOWTransaction

from bot.store.models import TimelineEventRow

NewEvents = Callable[[Session, list[TimelineEventRow]], None]


def listen_timeline(sessions: async_sessionmaker[AsyncSession], on_new: NewEvents) -> None:
    """Call `on_new` with the timeline rows each flush of these sessions inserts (ids assigned). Scoped to
    this sessionmaker (a session class of its own), so two runtimes in one process (tests, the sandbox) do
    not hear each other."""
    base = sessions.kw.get("sync_session_class") or Session
    scoped = type("TimelineListeningSession", (base,), {})
    sessions.configure(sync_session_class=scoped)

    def after_flush(session: Session, context: UOWTransaction) -> None:
        rows = [row for row in session.new if isinstance(row, TimelineEventRow)]
        if rows:
            on_new(session, sorted(rows, key=lambda row: row.id))

    event.listen(scoped, "after_flush", after_flush)
