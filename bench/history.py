"""Years of history: the yearly report and the open-incident list on a database that has grown.

Builds SQLite databases itself (bulk SQL through the project's tables, at the head revision): the
baseline, 10 open incidents and no history; 5,000 incidents × 100 timeline events (500k events, a
mid-size organisation's year); and 50,000 incidents × 10 events; each with the same 10 open incidents.
For each it measures `incidentbot report --since 365d --format json` as a subprocess (wall time and peak
RSS, median of runs) and the store query behind `/incident list` (p50/p99 of 300 calls), and prints the
database size per 1,000 incidents. Goals (issue "years of history"): the yearly report within 2× the
baseline's time and 1.5× its peak memory at 5,000 incidents; the list p99 within 1.2× at 50,000.
Run: `.venv/bin/python bench/history.py [--runs 3]` (a few minutes; the databases are built in a
temporary folder).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bot.store import IncidentStore, db
from bot.store.models import IncidentRow, TimelineEventRow

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "incidentbot.yml"
BIN = Path(sys.executable).parent
END = datetime(2026, 12, 1, tzinfo=UTC)
KINDS = ("note_added", "update_posted", "message_pinned", "page_sent", "slo_snapshot", "runbook_step_run")


def _incident(n: int, declared: datetime, resolved: datetime | None) -> dict[str, object]:
    return {
        "id": n + 1,
        "declare_key": f"bench-{n}",
        "title": f"incident {n}",
        "severity": "SEV2",
        "status": "resolved" if resolved else "investigating",
        "summary": "",
        "service": "api",
        "private": False,
        "reporter": "U0ALICE000",
        "created_at": declared,
        "resolved_at": resolved,
    }


def _event(n: int, kind: str, at: datetime, text: str, data: dict[str, object]) -> dict[str, object]:
    actor = "U0BOB00000"
    return {"incident_id": n + 1, "kind": kind, "actor": actor, "occurred_at": at, "text": text, "data": data}


def _events(n: int, declared: datetime, resolved: datetime | None, each: int) -> list[dict[str, object]]:
    """Declared, chatter (notes, updates, pages…), an acknowledgement, the resolution."""
    found = [_event(n, "declared", declared, "declared", {})]
    found += [
        _event(n, KINDS[k % len(KINDS)], declared + timedelta(seconds=30 * (k + 1)), "chatter " * 8, {"n": k})
        for k in range(each - 3)
    ]
    found.append(_event(n, "page_acked", declared + timedelta(minutes=4), "acked", {}))
    if resolved:
        found.append(_event(n, "resolved", resolved, "fixed", {}))
    return found


async def build(url: str, incidents: int, events_each: int) -> None:
    await db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    rng = random.Random(7)
    try:
        async with sessions() as session, session.begin():
            for start in range(0, incidents, 1000):
                rows, events = [], []
                for n in range(start, min(start + 1000, incidents)):
                    declared = END - timedelta(minutes=rng.randrange(365 * 24 * 60))
                    still_open = n >= incidents - 10
                    resolved = None if still_open else declared + timedelta(minutes=rng.randrange(10, 600))
                    rows.append(_incident(n, declared, resolved))
                    events += _events(n, declared, resolved, events_each)
                await session.execute(insert(IncidentRow), rows)
                await session.execute(insert(TimelineEventRow), events)
    finally:
        await engine.dispose()


def report(url: str, runs: int) -> tuple[float, float]:
    env = {**os.environ, "INCIDENTBOT_DATABASE_URL": url, "INCIDENTBOT_CONFIG": str(CONFIG)}
    command = [
        str(BIN / "incidentbot"),
        "report",
        "--since",
        "365d",
        "--until",
        "2026-12-01",
        "--format",
        "json",
    ]
    times, peaks = [], []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *command], env=env, capture_output=True, text=True, check=False
        )
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        peaks.append(int(done.stderr.strip().splitlines()[-1]) / 1024)
    return statistics.median(times), statistics.median(peaks)


async def listing(url: str, calls: int = 300) -> tuple[float, float]:
    engine = db.make_engine(url)
    store = IncidentStore(db.make_sessionmaker(engine))
    samples = []
    try:
        for _ in range(calls):
            started = time.perf_counter()
            found = await store.list_open("resolved")
            samples.append(time.perf_counter() - started)
            assert len(found) in (0, 10)
    finally:
        await engine.dispose()
    samples.sort()
    return samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.99) - 1] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="incidentbot-history-") as tmp:
        for label, incidents, events in (
            ("10 open, no history", 10, 10),
            ("5,000 × 100", 5000, 100),
            ("50,000 × 10", 50000, 10),
        ):
            path = Path(tmp) / f"{incidents}.db"
            url = f"sqlite+aiosqlite:///{path}"
            started = time.perf_counter()
            asyncio.run(build(url, incidents, events))
            built = time.perf_counter() - started
            seconds, peak = report(url, args.runs)
            p50, p99 = asyncio.run(listing(url))
            size = path.stat().st_size / 1024 / 1024
            rows.append((label, incidents, seconds, peak, p50, p99, size, built))
    base = rows[0]
    cpus = os.cpu_count()
    print(f"\nSQLite; median of {args.runs} report runs; list query p50/p99 of 300 calls; {cpus} CPUs\n")
    print(
        "| database | report 365d (s) | × baseline | peak RSS (MiB) | × baseline | list p50 / p99 (ms) "
        "| p99 × baseline | size (MiB) | MiB per 1,000 incidents |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ok = True
    for label, incidents, seconds, peak, p50, p99, size, _ in rows:
        per = f"{size / incidents * 1000:.1f}" if incidents > 10 else "-"
        print(
            f"| {label} | {seconds:.2f} | {seconds / base[2]:.2f}× | {peak:.0f} | {peak / base[3]:.2f}× "
            f"| {p50:.2f} / {p99:.2f} | {p99 / base[5]:.2f}× | {size:.1f} | {per} |"
        )
        if incidents == 5000:
            ok = ok and seconds <= 2 * base[2] and peak <= 1.5 * base[3]
        if incidents == 50000:
            ok = ok and p99 <= 1.2 * base[5]
    goals = "report ≤ 2× time and ≤ 1.5× memory at 5,000; list p99 ≤ 1.2× at 50,000"
    print(f"\nGoals ({goals}): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
