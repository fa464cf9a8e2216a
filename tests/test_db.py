"""Database layer: migrations, the schema check, the append-only timeline, delivery claims, UTC.

Every test that touches a database runs on SQLite and on PostgreSQL (see tests/fixtures_db.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.store import db
from bot.store.db import MIGRATION_LOCK
from bot.store.models import Base, IncidentRow, TimelineEventRow
from tests.fixtures_db import POSTGRES

T0 = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


def incident(key: str = "declare:V1", **overrides: object) -> IncidentRow:
    fields: dict[str, object] = {
        "declare_key": key,
        "title": "Checkout errors",
        "severity": "SEV2",
        "status": "investigating",
        "reporter": "U0ALICE000",
        "created_at": T0,
        "summary": "",
        "private": False,
    }
    return IncidentRow(**{**fields, **overrides})


def event(incident_id: int, kind: str = "declared", text_: str = "declared") -> TimelineEventRow:
    return TimelineEventRow(
        incident_id=incident_id, kind=kind, actor="U0ALICE000", occurred_at=T0, text=text_, data={"a": 1}
    )


async def add_incident_with_event(sessions: Sessions) -> int:
    async with sessions() as session, session.begin():
        row = incident()
        session.add(row)
        await session.flush()
        session.add(event(row.id))
    return row.id


async def claim(sessions: Sessions, key: str) -> bool:
    async with sessions() as session, session.begin():
        return await db.claim(session, key)


# --- migrations and the schema check -------------------------------------------------------------


async def test_upgrade_reaches_head_and_schema_check_passes(database_url: str, engine: AsyncEngine) -> None:
    assert db.head_revision() == sorted(p.stem[:4] for p in db.MIGRATIONS.glob("versions/0*.py"))[-1]
    assert await db.current_revision(engine) == db.head_revision()
    await db.check_schema(engine)
    assert await db.ping(engine) is None
    await db.upgrade(database_url)  # already at head: nothing to do, no error
    assert await db.current_revision(engine) == db.head_revision()


async def test_migration_creates_exactly_the_models_tables(engine: AsyncEngine) -> None:
    """The hand-written migration and bot/store/models.py must not drift apart (types, indexes, keys)."""

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_unmigrated_database_is_refused_with_the_command_to_run(unmigrated_database_url: str) -> None:
    url = make_url(unmigrated_database_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(password="hunter2")  # trust auth ignores it; the message must not show it
    engine = db.make_engine(url.render_as_string(hide_password=False))
    try:
        with pytest.raises(db.SchemaNotMigrated) as caught:
            await db.check_schema(engine)
    finally:
        await engine.dispose()
    message = str(caught.value)
    assert f"has no incidentbot schema (revision none, code needs {db.head_revision()})" in message
    assert "Run `incidentbot db upgrade`" in message
    assert "INCIDENTBOT_AUTO_MIGRATE=true" in message
    assert "hunter2" not in message
    assert message.startswith(f"The database at {db.masked(url)} ")


async def test_an_older_schema_is_refused_and_upgrading_keeps_the_incidents(database_url: str) -> None:
    await db.downgrade(database_url, "0001")
    engine = db.make_engine(database_url)
    try:
        async with engine.begin() as connection:  # the ORM knows columns 0001 had not: plain SQL
            incident_id = await connection.scalar(
                text(
                    "INSERT INTO incidents (declare_key, title, severity, status, summary, private, reporter,"
                    " created_at) VALUES ('declare:V1', 'Checkout errors', 'SEV2', 'investigating', '',"
                    " false, 'U0ALICE000', :at) RETURNING id"
                ),
                {"at": T0},
            )
            await connection.execute(
                text(
                    "INSERT INTO timeline_events (incident_id, kind, actor, occurred_at, text, data)"
                    " VALUES (:id, 'declared', 'U0ALICE000', :at, 'declared', '{}')"
                ),
                {"id": incident_id, "at": T0},
            )
        expected = rf"older schema \(revision 0001, code needs {db.head_revision()}\)"
        with pytest.raises(db.SchemaNotMigrated, match=expected):
            await db.check_schema(engine)
        await db.upgrade(database_url)
        await db.check_schema(engine)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM timeline_events")) == 1
            assert await connection.scalar(text("SELECT id FROM incidents")) == incident_id
    finally:
        await engine.dispose()


async def test_schema_from_a_newer_release_is_named_as_such(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'a1b2c3d4e5f6'"))
    with pytest.raises(db.SchemaNotMigrated, match="revision a1b2c3d4e5f6, which this version of"):
        await db.check_schema(engine)


async def test_downgrade_to_base_then_upgrade_again(database_url: str) -> None:
    await db.downgrade(database_url, "base")
    engine = db.make_engine(database_url)
    try:
        assert await db.current_revision(engine) is None
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
            assert set(tables) <= {"alembic_version"}
            if engine.dialect.name == "postgresql":
                leftover = "SELECT count(*) FROM pg_proc WHERE proname = 'timeline_events_append_only'"
                assert await connection.scalar(text(leftover)) == 0
        await db.upgrade(database_url)
        await db.check_schema(engine)
        incident_id = await add_incident_with_event(db.make_sessionmaker(engine))
        with pytest.raises(IntegrityError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM timeline_events"))
        assert incident_id == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize("unmigrated_database_url", [POSTGRES], indirect=True)  # only it has replicas
async def test_a_replica_waits_for_another_replicas_migration(unmigrated_database_url: str) -> None:
    """Replicas started together with AUTO_MIGRATE: the second waits on the advisory lock, then finds
    the schema at head and does nothing."""
    dsn = make_url(unmigrated_database_url).set(drivername="postgresql")
    other_replica = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await other_replica.execute("BEGIN")
        await other_replica.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        waiting = asyncio.create_task(db.upgrade(unmigrated_database_url))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await other_replica.execute("COMMIT")
        await asyncio.wait_for(waiting, 10)
    finally:
        await other_replica.close()
    await asyncio.gather(db.upgrade(unmigrated_database_url), db.upgrade(unmigrated_database_url))
    engine = db.make_engine(unmigrated_database_url)
    try:
        await db.check_schema(engine)
    finally:
        await engine.dispose()


async def test_migrations_run_from_any_directory_without_alembic_ini(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the Docker image: another working directory, a relative SQLite path in a missing folder."""
    monkeypatch.chdir(tmp_path)
    await db.upgrade("sqlite:///data/incidentbot.db")
    assert (tmp_path / "data" / "incidentbot.db").exists()
    engine = db.make_engine("sqlite:///data/incidentbot.db")
    try:
        await db.check_schema(engine)
    finally:
        await engine.dispose()


# --- the append-only timeline --------------------------------------------------------------------


async def test_timeline_refuses_update_and_delete_but_takes_inserts(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    incident_id = await add_incident_with_event(sessions)
    refused = [
        "UPDATE timeline_events SET text = 'rewritten history'",
        "DELETE FROM timeline_events",
    ]
    if engine.dialect.name == "postgresql":
        refused.append("TRUNCATE timeline_events")
    for statement in refused:
        with pytest.raises(IntegrityError, match="timeline_events is append-only"):
            async with engine.begin() as connection:
                await connection.execute(text(statement))

    async with sessions() as session, session.begin():
        session.add(event(incident_id, "note_added", "second"))
    async with sessions() as session:
        texts = await session.scalars(select(TimelineEventRow.text).order_by(TimelineEventRow.id))
        assert texts.all() == ["declared", "second"]


async def test_foreign_keys_are_enforced(sessions: Sessions) -> None:
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            session.add(event(incident_id=999))


async def test_declare_key_is_unique(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        session.add(incident("declare:V42"))
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            session.add(incident("declare:V42", title="the retried submission"))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(IncidentRow)) == 1


# --- delivery claims -----------------------------------------------------------------------------


async def test_claim_is_true_once_per_key(sessions: Sessions) -> None:
    assert await claim(sessions, "view:V1") is True
    assert await claim(sessions, "view:V1") is False
    assert await claim(sessions, "view:V2") is True
    # Longer than the column: shortened with a digest, so keys that share a prefix stay distinct.
    first, second = "x" * 300 + "a", "x" * 300 + "b"
    assert [await claim(sessions, k) for k in (first, second, first)] == [True, True, False]


async def test_old_replay_claims_are_forgotten_and_others_kept(sessions: Sessions) -> None:
    assert await claim(sessions, "signed:v0=abc") is True
    assert await claim(sessions, "signed:v0=a%c_") is True  # LIKE wildcards in a key are literal
    assert await claim(sessions, "view:V9") is True
    async with sessions() as session, session.begin():
        assert await db.forget_claims(session, "signed:", datetime.now(UTC) - timedelta(minutes=10)) == 0
    async with sessions() as session, session.begin():
        assert await db.forget_claims(session, "signed:", datetime.now(UTC) + timedelta(seconds=1)) == 2
    assert await claim(sessions, "signed:v0=abc") is True  # forgotten: a replay window is long over
    assert await claim(sessions, "view:V9") is False  # other bookkeeping is left alone


async def test_concurrent_claims_from_two_replicas_have_one_winner(database_url: str) -> None:
    replicas = [db.make_engine(database_url) for _ in range(2)]
    try:
        makers = [db.make_sessionmaker(e) for e in replicas]
        results = await asyncio.gather(*(claim(makers[i % 2], "view:V7:retry") for i in range(20)))
    finally:
        for replica in replicas:
            await replica.dispose()
    assert results.count(True) == 1


@pytest.mark.parametrize("first_commits", [True, False], ids=["commit", "rollback"])
async def test_claim_waits_for_an_open_claim_and_follows_its_outcome(
    sessions: Sessions, first_commits: bool
) -> None:
    """A retry arriving while the first delivery is still being handled waits, then obeys its outcome:
    a handler that failed (rolled back) must not swallow Slack's retry."""
    async with sessions() as first:
        await first.begin()
        assert await db.claim(first, "action:A1") is True
        retry = asyncio.create_task(claim(sessions, "action:A1"))
        await asyncio.sleep(0.1)
        assert not retry.done()
        await (first.commit() if first_commits else first.rollback())
    assert await asyncio.wait_for(retry, 10) is (not first_commits)


# --- time ----------------------------------------------------------------------------------------


async def test_datetimes_round_trip_as_aware_utc(sessions: Sessions) -> None:
    berlin = T0.astimezone(timezone(timedelta(hours=2)))
    async with sessions() as session, session.begin():
        session.add(incident(created_at=berlin, next_update_due=T0 + timedelta(minutes=30)))
    async with sessions() as session:
        row = await session.scalar(select(IncidentRow))
        assert row is not None
        assert row.created_at == T0 and row.created_at.tzinfo is UTC
        assert row.created_at.microsecond == 123456
        assert row.next_update_due is not None and row.next_update_due.tzinfo is UTC
        assert row.resolved_at is None
        due = select(IncidentRow.id).where(IncidentRow.next_update_due <= T0 + timedelta(hours=1))
        not_yet = select(IncidentRow.id).where(IncidentRow.next_update_due <= T0 + timedelta(minutes=29))
        assert (await session.scalars(due)).all() == [row.id]
        assert (await session.scalars(not_yet)).all() == []


async def test_naive_datetimes_are_refused(sessions: Sessions) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with sessions() as session, session.begin():
            session.add(incident(created_at=datetime(2026, 3, 29, 1, 30)))


# --- URLs and engines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("postgres://ib:pw@db:5432/incidents", "postgresql+asyncpg://ib:pw@db:5432/incidents"),
        ("postgresql://ib@db/incidents", "postgresql+asyncpg://ib@db/incidents"),
        ("postgresql+psycopg2://ib@db/incidents", "postgresql+asyncpg://ib@db/incidents"),
        ("postgresql+asyncpg://ib@db/incidents", "postgresql+asyncpg://ib@db/incidents"),
        ("postgres://ib@db/incidents?sslmode=require", "postgresql+asyncpg://ib@db/incidents?ssl=require"),
        ("sqlite:///./incidentbot.db", "sqlite+aiosqlite:///./incidentbot.db"),
        ("sqlite:////var/lib/incidentbot/db.sqlite", "sqlite+aiosqlite:////var/lib/incidentbot/db.sqlite"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///./incidentbot.db", "sqlite+aiosqlite:///./incidentbot.db"),
    ],
)
def test_pasted_urls_get_the_async_driver(pasted: str, expected: str) -> None:
    assert db.async_url(pasted) == expected


def test_passwords_are_masked() -> None:
    assert db.masked("postgres://ib:s3cr%40t@db/x") == "postgres://ib:***@db/x"
    assert db.masked("postgresql+asyncpg://ib@db/x") == "postgresql+asyncpg://ib@db/x"
    assert db.masked(make_url("postgresql+asyncpg://ib:pw@db/x")) == "postgresql+asyncpg://ib:***@db/x"


async def test_make_engine_rewrites_and_tunes(tmp_path: Path) -> None:
    postgres = db.make_engine("postgres://ib:pw@127.0.0.1:1/x")
    assert postgres.url.drivername == "postgresql+asyncpg"
    assert postgres.pool._pre_ping  # type: ignore[attr-defined]
    assert await db.ping(postgres) is not None  # nothing listens on port 1: a reason, not an exception
    await postgres.dispose()

    sqlite = db.make_engine(f"sqlite:///{tmp_path}/x.db")
    try:
        async with sqlite.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 30_000
    finally:
        await sqlite.dispose()

    memory = db.make_engine("sqlite://")
    try:
        assert await db.ping(memory) is None
    finally:
        await memory.dispose()
