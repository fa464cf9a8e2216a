"""Database work of one-shot CLI commands (`report`, `postmortem show`): open, check the schema, run,
close, and turn what can go wrong into one message the command prints with exit code 2."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.store import db

T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]


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
