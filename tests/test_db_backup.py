"""`incidentbot db backup FILE`: a consistent copy of the embedded database while the bot writes to it,
readable by `incidentbot report`; PostgreSQL is pointed at pg_dump."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import DeclareRequest, EventKind
from bot.store import IncidentStore, NewEvent
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG

INCIDENTBOT = str(Path(sys.executable).parent / "incidentbot")


def incidentbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INCIDENTBOT, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


async def test_a_backup_taken_while_the_bot_writes_is_a_database_report_reads(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    store = IncidentStore(sessions)
    now = datetime.now(UTC) - timedelta(days=1)
    request = DeclareRequest(title="Busy", severity="SEV2", summary="", reporter=ALICE, service="api")
    incident, _ = await store.create(request, "backup-1", "investigating", "incident_commander", now)
    writing = True

    async def writer() -> int:
        count = 0
        while writing:
            await store.append(incident.id, NewEvent(EventKind.NOTE_ADDED, ALICE, f"note {count}", {}), now)
            count += 1
            await asyncio.sleep(0)
        return count

    task = asyncio.create_task(writer())
    copy = tmp_path / "copy.db"
    done = await asyncio.to_thread(
        incidentbot, "db", "backup", str(copy), "--database-url", database_url, cwd=tmp_path
    )
    writing = False
    written = await task
    if not database_url.startswith("sqlite"):
        assert done.returncode == 2 and "pg_dump" in done.stderr and not copy.exists()
        return
    assert done.returncode == 0, done.stderr
    assert written > 0 and "backed up" in done.stdout
    report = incidentbot(
        "report", "--since", "7d", "--format", "json", "--config", str(EXAMPLE_CONFIG),
        "--database-url", f"sqlite:///{copy}", cwd=tmp_path,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert '"count": 1' in report.stdout
    again = incidentbot("db", "backup", str(copy), "--database-url", database_url, cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr
