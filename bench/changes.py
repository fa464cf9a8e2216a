"""What changed at declare with 100,000 stored deploys: p50/p99 of the lookup the declare's set-up runs.

100,000 deploys of 200 services over a year (a third of them not in production) are written once; then
N declares at random times ask for their service's and two dependencies' production deploys in the 24 h
before (newest first, at most 16, and the count when there are more: `ChangeTracking._changes`), and a
`/incident changes 720` asks for a month. The what-changed post is a set-up step, beside the summary and
the invites: its target is to stay under a tenth of one Slack round trip (15 ms of the 150 ms the declare
bench uses), so it cannot move the declare's critical path. Run on SQLite and, when it is reachable, on
PostgreSQL (127.0.0.1:5432, database `test`).

Run: `.venv/bin/python bench/changes.py [--deploys 100000] [--lookups 300]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bot.changes.store import DeployStore
from bot.store import db
from bot.store.models import DeployRow

END = datetime(2026, 12, 1, tzinfo=UTC)
SERVICES = [f"svc-{n:03d}" for n in range(200)]
ENVIRONMENTS = ("production", "production", "staging")
PRODUCTION = ("production", "prod")
TARGET_MS = 15.0


def rows(count: int, rng: random.Random) -> list[dict[str, object]]:
    made = []
    for n in range(count):
        at = END - timedelta(seconds=rng.uniform(0, 365 * 86400))
        service = rng.choice(SERVICES)
        made.append(
            {
                "key": f"bench:{n}",
                "source": "bench",
                "service": service,
                "environment": rng.choice(ENVIRONMENTS),
                "version": f"v{n}",
                "previous_version": f"v{n - 1}",
                "commit": uuid.UUID(int=rng.getrandbits(128)).hex,
                "commit_time": at - timedelta(hours=rng.uniform(0.5, 48)),
                "url": None,
                "status": "success",
                "canary_percent": None,
                "deployed_at": at,
                "stage_at": at,
                "recorded_at": at,
            }
        )
    return made


async def measure(url: str, deploys: int, lookups: int) -> list[tuple[str, float, float, float]]:
    await db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    rng = random.Random(20)
    try:
        async with sessions() as session, session.begin():
            batch = rows(deploys, rng)
            for start in range(0, len(batch), 5000):
                await session.execute(insert(DeployRow), batch[start : start + 5000])
        store = DeployStore(sessions)
        results = []
        for name, window in (
            ("declare (24 h, 3 services)", timedelta(hours=24)),
            ("changes 720 (30 d)", timedelta(days=30)),
        ):
            took = []
            for _ in range(lookups):
                declared = END - timedelta(seconds=rng.uniform(0, 300 * 86400))
                services = rng.sample(SERVICES, 3)
                started = time.perf_counter()
                found = await store.between(declared - window, declared, services, PRODUCTION, limit=16)
                if len(found) > 15:
                    await store.count_between(declared - window, declared, services, PRODUCTION)
                took.append((time.perf_counter() - started) * 1000)
            took.sort()
            p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
            results.append((name, statistics.median(took), p99, p99 / TARGET_MS))
        return results
    finally:
        await engine.dispose()


async def postgres_url() -> str | None:
    import asyncpg

    name = f"bench_changes_{uuid.uuid4().hex[:8]}"
    try:
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test", timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop(url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')
    finally:
        await admin.close()


async def main(deploys: int, lookups: int) -> None:
    print(
        f"What changed with {deploys:,} stored deploys, {lookups} lookups each "
        f"(target: declare p99 ≤ {TARGET_MS:g} ms)"
    )
    print("| database | lookup | p50 ms | p99 ms | p99 / target |")
    print("| --- | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        targets = [("SQLite", f"sqlite+aiosqlite:///{folder}/bench.db")]
        pg = await postgres_url()
        if pg:
            targets.append(("PostgreSQL", pg))
        else:
            print("(PostgreSQL at 127.0.0.1:5432 is not reachable: SQLite only)")
        try:
            for label, url in targets:
                for name, p50, p99, ratio in await measure(url, deploys, lookups):
                    print(f"| {label} | {name} | {p50:.2f} | {p99:.2f} | {ratio:.2f} |")
        finally:
            if pg:
                await drop(pg)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deploys", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.deploys, args.lookups))
