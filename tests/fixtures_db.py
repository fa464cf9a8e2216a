"""Database fixtures: every persistence test runs on SQLite and on the real PostgreSQL server.

Migrating per test would dominate the suite, so each backend is migrated once per session: a SQLite
file that every test copies, and a Postgres template database that every test clones with
`CREATE DATABASE … TEMPLATE` and drops afterwards. A clone costs ~0.3 s (the server fsyncs it) but
four in parallel cost about the same, so clones are made a few tests ahead in background threads.

An unreachable Postgres skips the `postgres` cases with the reason, repeated in the terminal summary;
set INCIDENTBOT_TEST_REQUIRE_POSTGRES=1 (CI) to fail instead. `-m "not postgres"` deselects them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import uuid
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.store import db

T = TypeVar("T")
POSTGRES_URL = db.async_url(
    os.environ.get("INCIDENTBOT_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
)
REQUIRE_POSTGRES = os.environ.get("INCIDENTBOT_TEST_REQUIRE_POSTGRES", "").lower() in {"1", "true", "yes"}
_STALE_AFTER = "1 hour"
_CLONES_AHEAD = 4
_unreachable: list[str] = []

POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
BACKENDS = [pytest.param("sqlite"), POSTGRES]


def postgres_url(database: str) -> str:
    """The test server's URL pointing at another database on it."""
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


def _dsn(database: str | None = None) -> str:
    parsed = make_url(POSTGRES_URL).set(drivername="postgresql")
    return parsed.set(database=database or parsed.database).render_as_string(hide_password=False)


async def _admin(*statements: str) -> None:
    connection = await asyncpg.connect(_dsn(), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _drop_statements(name: str) -> list[str]:
    # Terminate first: a pool the test forgot to dispose must not block the drop (works before PG 13 too).
    return [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        f'DROP DATABASE IF EXISTS "{name}"',
    ]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


async def _sweep_stale() -> None:
    """Drop databases left by interrupted sessions: old enough, and their pytest process is gone.

    The age check (from the database's files) protects other sessions that share the server; without
    the privilege to read it nothing is swept.
    """
    connection = await asyncpg.connect(_dsn(), timeout=5)
    try:
        try:
            rows = await connection.fetch(
                "SELECT datname FROM pg_database WHERE datname ~ $1 AND "
                "(pg_stat_file('base/' || oid || '/PG_VERSION')).modification "
                f"< now() - interval '{_STALE_AFTER}'",
                "^incidentbot_t(mpl)?_",
            )
        except asyncpg.PostgresError:
            return
        for row in rows:
            pid = re.match(r"incidentbot_t(?:mpl)?_(\d+)_", row["datname"] + "_")
            if pid and _pid_alive(int(pid.group(1))):
                continue
            with contextlib.suppress(asyncpg.PostgresError):  # someone else's cleanup got there first
                for statement in _drop_statements(row["datname"]):
                    await connection.execute(statement)
    finally:
        await connection.close()


def _blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, even when called (lazily) while a test's event loop runs here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The Postgres URL, after checking it answers; skips (or fails, in CI) with the reason when not."""
    try:
        _blocking(_sweep_stale())
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = (
            f"PostgreSQL not reachable at {db.masked(POSTGRES_URL)}: {type(exc).__name__}: {exc} — "
            "start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or set INCIDENTBOT_TEST_DATABASE_URL"
        )
        if REQUIRE_POSTGRES:
            pytest.fail(reason, pytrace=False)
        _unreachable.append(reason)
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """A migrated database to clone; its name carries our pid so a later sweep knows when it is stale."""
    name = f"incidentbot_tmpl_{os.getpid()}"
    _blocking(_admin(*_drop_statements(name), f'CREATE DATABASE "{name}"'))
    try:
        _blocking(db.upgrade(postgres_url(name)))
        yield name
    finally:
        _blocking(_admin(*_drop_statements(name)))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "incidentbot.db"
    _blocking(db.upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


def _copy_sqlite(template: Path, directory: Path) -> Path:
    path = directory / template.name
    for sidecar in ("", "-wal", "-shm"):  # normally only the main file: closing checkpoints the WAL
        if Path(f"{template}{sidecar}").exists():
            shutil.copyfile(f"{template}{sidecar}", f"{path}{sidecar}")
    return path


def _scratch_name() -> str:
    """Carries our pid, so a later session's sweep knows when it is stale."""
    return f"incidentbot_t_{os.getpid()}_{uuid.uuid4().hex[:10]}"


class _Clones:
    """Migrated databases cloned ahead of need, and dropped in the background after use."""

    def __init__(self, template: str) -> None:
        self._template = template
        self._threads = ThreadPoolExecutor(_CLONES_AHEAD, thread_name_prefix="pg-clone")
        self._ahead: deque[Future[str]] = deque()
        self._drops: list[Future[None]] = []
        for _ in range(_CLONES_AHEAD):
            self._ahead.append(self._threads.submit(self._create))

    def _create(self) -> str:
        name = _scratch_name()
        asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
        return name

    async def take(self) -> str:
        ready = self._ahead.popleft()
        self._ahead.append(self._threads.submit(self._create))
        return await asyncio.wrap_future(ready)

    def give_back(self, name: str) -> None:
        self._drops.append(self._threads.submit(asyncio.run, _admin(*_drop_statements(name))))

    def close(self) -> None:
        for pending in self._ahead:
            with contextlib.suppress(Exception):
                self.give_back(pending.result())
        for drop in self._drops:
            with contextlib.suppress(Exception):
                drop.result()
        self._threads.shutdown()


@pytest.fixture(scope="session")
def postgres_clones(postgres_template: str) -> Iterator[_Clones]:
    clones = _Clones(postgres_template)
    try:
        yield clones
    finally:
        clones.close()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database at the head revision, on each backend."""
    if request.param == "sqlite":
        path = _copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    clones: _Clones = request.getfixturevalue("postgres_clones")
    name = await clones.take()
    try:
        yield postgres_url(name)
    finally:
        clones.give_back(name)


@pytest.fixture(params=BACKENDS)
async def unmigrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database, as a first deployment finds it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("postgres_server")
    name = _scratch_name()
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url(name)
    finally:
        await _admin(*_drop_statements(name))


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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A skipped backend is easy to miss in a green run; say it where people look."""
    if _unreachable:
        terminalreporter.write_sep("!", "postgres tests SKIPPED", red=True, bold=True)
        terminalreporter.write_line(_unreachable[0], red=True)
