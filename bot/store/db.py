"""Engine, sessions, schema migrations and the delivery-dedupe claim.

Alembic is configured here in code (no alembic.ini) so `incidentbot db upgrade` works the same from a
checkout, an installed wheel or the Docker image. Connection tuning lives here too so the server, the CLI
and the tests open the database the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import CursorResult, delete, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.store.models import DeliveryRow, FirstRow

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
"""Found next to this module, so it is the same folder in a checkout and in site-packages."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""The server's coroutines and a CLI run write to one SQLite file; wait for the lock instead of failing."""

MIGRATION_LOCK = 0x1C1DE47B07
"""Postgres advisory-lock key: replicas started together with AUTO_MIGRATE migrate one after the other."""

PING_TIMEOUT_S = 3.0
"""Well below a load balancer's health-check timeout, so /healthz reports instead of hanging."""

_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+pg8000": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}
_DELIVERY_KEY_LIMIT = 200  # deliveries.key is String(200)
_ALEMBIC_LOCK = threading.Lock()


DEFAULT_URL = "sqlite+aiosqlite:///./incidentbot.db"
"""`INCIDENTBOT_DATABASE_URL` when unset (the embedded default); `bot.config.Settings` uses the same."""


class SchemaNotMigrated(Exception):
    """The database is not at the schema this code needs; the message says which command fixes it."""


def async_url(url: str) -> str:
    """Rewrite the URLs people paste (`postgres://`, `postgresql://`, `sqlite://`) to the async drivers.

    libpq's `sslmode=` (Heroku, RDS and most dashboards add it) becomes asyncpg's `ssl=`, which asyncpg
    would otherwise reject as an unknown argument.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    driver = _ASYNC_DRIVERS.get(scheme.lower(), scheme)
    url = f"{driver}{sep}{rest}"
    if driver == "postgresql+asyncpg" and "sslmode=" in rest:
        parsed = make_url(url)
        query = dict(parsed.query)
        sslmode = query.pop("sslmode")
        query.setdefault("ssl", sslmode)
        url = parsed.set(query=query).render_as_string(hide_password=False)
    return url


def masked(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)


def make_engine(url: str) -> AsyncEngine:
    parsed = make_url(async_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_async_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(url: URL) -> AsyncEngine:
    in_memory = url.database in (None, "", ":memory:") or "mode=memory" in str(url)
    if in_memory:
        # SQLAlchemy picks a single-connection pool for :memory:, which takes no size arguments.
        engine = create_async_engine(url)
    else:
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=20, max_overflow=10)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching to WAL needs a lock that another process may hold.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            # Readers (the timeline, /healthz) no longer block the writer and vice versa.
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """expire_on_commit=False: rows are read after commit, and lazy reloads are not possible with asyncio."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation: a %-encoded password must survive it.
        config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def _known_revision(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def _run_alembic(action: Callable[..., None], url: str, revision: str) -> None:
    # Alembic's `context` and `op` are process-wide proxies: two commands running at once in one process
    # would drive each other's connections. Other processes are kept out by env.py's advisory lock.
    with _ALEMBIC_LOCK:
        action(_alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Runs in a worker thread because env.py drives the async engine with its own event loop."""
    await asyncio.to_thread(_run_alembic, command.upgrade, url, revision)


async def downgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(_run_alembic, command.downgrade, url, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def check_schema(engine: AsyncEngine) -> None:
    """Refuse to start on a schema this code was not written for, rather than fail at the first query."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    where = f"The database at {masked(engine.url)}"
    fix = "Run `incidentbot db upgrade`, or set INCIDENTBOT_AUTO_MIGRATE=true to migrate at start."
    if current is None:
        raise SchemaNotMigrated(
            f"{where} has no incidentbot schema (revision none, code needs {head}). {fix}"
        )
    if _known_revision(current):
        raise SchemaNotMigrated(f"{where} has an older schema (revision {current}, code needs {head}). {fix}")
    raise SchemaNotMigrated(
        f"{where} is at schema revision {current}, which this version of incidentbot does not know "
        f"(code needs {head}); a newer release probably migrated it. Run that release instead, "
        "or downgrade the schema with it first."
    )


async def ping(engine: AsyncEngine) -> str | None:
    """None when the database answers; otherwise a one-line reason for /healthz."""
    try:
        async with asyncio.timeout(PING_TIMEOUT_S), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return f"no answer within {PING_TIMEOUT_S:g} s"
    except DBAPIError as exc:
        return f"{type(exc.orig).__name__}: {exc.orig}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _delivery_key(key: str) -> str:
    """Long keys are shortened with a digest, never cut, so two different deliveries cannot collide."""
    if len(key) <= _DELIVERY_KEY_LIMIT:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: _DELIVERY_KEY_LIMIT - len(digest) - 1]}#{digest}"


async def claim(session: AsyncSession, key: str) -> bool:
    """True if this call recorded `key`, False if any process (replica) had already recorded it; the
    claim commits or rolls back with the caller's transaction."""
    return await insert_new(session, DeliveryRow, "key", key=_delivery_key(key), created_at=datetime.now(UTC))


async def claim_many(session: AsyncSession, keys: list[str]) -> set[str]:
    """`claim` for many keys in one INSERT: the keys this call recorded."""
    stored = {_delivery_key(key): key for key in keys}
    now = datetime.now(UTC)
    statement = (
        dialect_insert(session.get_bind().dialect.name)(DeliveryRow)
        .values([{"key": key, "created_at": now} for key in stored])
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(DeliveryRow.key)
    )
    return {stored[key] for key in (await session.scalars(statement)).all()}


async def first(
    session: AsyncSession, key: str, actor: str | None, now: datetime
) -> tuple[str | None, datetime] | None:
    """None when this call is the first to do `key`; else who did it first and when (a unique key)."""
    if await insert_new(session, FirstRow, "key", key=_delivery_key(key), actor=actor, at=now):
        return None
    row = await session.get(FirstRow, _delivery_key(key))
    return (row.actor, row.at) if row else (None, now)


async def forget_claims(session: AsyncSession, prefix: str, before: datetime) -> int:
    statement = delete(DeliveryRow).where(
        DeliveryRow.key.startswith(prefix, autoescape=True), DeliveryRow.created_at < before
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount


def dialect_insert(dialect: str) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    """The INSERT construct that knows ON CONFLICT for this database (both dialects spell it alike)."""
    inserts = {"postgresql": pg_insert, "sqlite": sqlite_insert}
    if dialect not in inserts:
        raise NotImplementedError(f"incidentbot supports PostgreSQL and SQLite, not {dialect}")
    return inserts[dialect]


async def insert_new(session: AsyncSession, entity: Any, unique: str, **values: Any) -> bool:
    """INSERT … ON CONFLICT (unique) DO NOTHING in the caller's transaction; True when this call inserted.

    The check and the insert are one statement: a concurrent insert of the same value (another replica)
    waits for the first transaction on Postgres and then inserts nothing."""
    statement = (
        dialect_insert(session.get_bind().dialect.name)(entity)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[unique])
    )
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


class Store:
    """Base of the stores: sessions, and `_tx()` for one committed transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session


def backup_sqlite(url: str, target: Path) -> int:
    """Copy a live SQLite database with SQLite's online backup API: consistent while the bot writes.

    Returns the pages copied. Restoring is pointing INCIDENTBOT_DATABASE_URL at the copy; PostgreSQL has
    pg_dump for this, so a PostgreSQL URL is refused with that advice.
    """
    import sqlite3

    parsed = make_url(async_url(url))
    if not parsed.drivername.startswith("sqlite"):
        raise ValueError(
            f"{masked(url)} is not SQLite: back PostgreSQL up with pg_dump (or your provider's snapshots)"
        )
    source_path = Path(parsed.database or "")
    if not source_path.is_file():
        raise ValueError(f"there is no SQLite database at {source_path}")
    if target.exists():
        raise ValueError(f"{target} exists already; name a new file")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    copy = sqlite3.connect(str(target))
    try:
        with copy:
            source.backup(copy, pages=1024)
        return int(copy.execute("PRAGMA page_count").fetchone()[0])
    finally:
        copy.close()
        source.close()
