"""Database work of one-shot CLI commands (`report`, `postmortem show`): open, check the schema, run,
close, and turn what can go wrong into one message the command prints with exit code 2."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.store import db

T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]


DAMAGED = ("file is not a database", "malformed", "disk image", "not an error")
"""How SQLite says that the file is not a healthy database (corrupt, truncated, something else)."""


def start_fault(url: str, exc: BaseException) -> str:
    """One line for a database that cannot be opened at start: where (no password), why, what to do."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = " ".join(str(cause).split())[:300] or type(cause).__name__
    if any(sign in reason for sign in DAMAGED):
        todo = (
            "The SQLite file is damaged: move it away (or restore a backup), "
            "then run `incidentbot db upgrade`."
        )
    else:
        todo = (
            "Check that the database is up and INCIDENTBOT_DATABASE_URL is right, "
            "then run `incidentbot db upgrade`."
        )
    return f"cannot open the database at {db.masked(url)}: {type(cause).__name__}: {reason}. {todo}"


START_FAULTS = (OSError, SQLAlchemyError, TimeoutError)
"""What opening a database can raise for reasons outside the code: unreachable, refused, damaged."""


class DatabaseUnavailable(Exception):
    """The command could not read the database: not migrated, unreachable, or refused."""


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file a URL names when it does not exist: a read-only command must not create it."""
    parsed = make_url(db.async_url(url))
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database or "").expanduser()
    return None if path.exists() else path


def read_database(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    missing = missing_sqlite_file(settings.database_url)
    if missing is not None:
        raise DatabaseUnavailable(
            f"no database at {missing}: set INCIDENTBOT_DATABASE_URL to the bot's database, "
            "or create one with `incidentbot db upgrade`"
        )

    async def run() -> T:
        engine = db.make_engine(settings.database_url)
        try:
            await db.check_schema(engine)
            return await work(db.make_sessionmaker(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except db.SchemaNotMigrated as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    except (OSError, DBAPIError) as exc:
        where = db.masked(settings.database_url)
        raise DatabaseUnavailable(f"cannot read the database at {where}: {exc}") from exc
