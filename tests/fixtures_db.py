"""Database fixtures: every persistence test runs on SQLite and on the real PostgreSQL server.

Postgres: one migrated template database per test session, then a cheap `CREATE DATABASE … TEMPLATE`
per test, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db

T = TypeVar("T")
POSTGRES_URL = os.environ.get(
    "INCIDENTBOT_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(db.async_url(url)).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(_dsn(POSTGRES_URL), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _drop(name: str) -> None:
    await _admin(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    await _admin(f'DROP DATABASE IF EXISTS "{name}"')


def _blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """Name of a migrated template database, or a skip with the reason when no server answers."""
    name = f"incidentbot_tmpl_{os.getpid()}"
    try:
        _blocking(_admin(f'DROP DATABASE IF EXISTS "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(
            f"PostgreSQL not reachable at {db.masked(POSTGRES_URL)}: {exc} — start it "
            "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or set INCIDENTBOT_TEST_DATABASE_URL"
        )
    _blocking(_admin(f'CREATE DATABASE "{name}"'))
    _blocking(db.upgrade(make_url(db.async_url(POSTGRES_URL)).set(database=name).render_as_string(False)))
    yield name
    _blocking(_drop(name))


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'incidentbot.db'}"
        await db.upgrade(url)
        yield url
        return
    template = request.getfixturevalue("postgres_template")
    name = f"incidentbot_t_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield make_url(db.async_url(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False)
    finally:
        await _drop(name)


@pytest.fixture
def unmigrated_database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    created = db.make_engine(database_url)
    try:
        yield created
    finally:
        await created.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return db.make_sessionmaker(engine)
