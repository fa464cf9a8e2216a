"""Alert storm: 10,000 Alertmanager notifications over 100 groups at concurrency 50.

The bot runs as its own process (`incidentbot serve`) against the Slack stand-in, with the example config
(critical alerts declare incidents). Every notification is a webhook POST as Alertmanager 0.25 sends it;
groups are notified round-robin, as a storm hits them all at once, and every tenth group keeps gaining
and losing alerts (new fingerprints must be posted, repeats must not). Afterwards the bench waits until
the bot's job queue has drained and checks, in the bot's own database, that nothing was lost: every
request answered 2xx, every notification counted on its group, exactly one incident per group.

Run: `.venv/bin/python bench/alert_storm.py` (SQLite in a temp dir), or with
`--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test` for PostgreSQL (the bench migrates that
database and leaves its tables in place; each run tags its groups, so earlier runs do not count).

`--targets` runs the issue's storm instead (bench/storm_targets.py): 200 groups, 25 of them SEV1, against
Slack's 20 channel creations a minute, and prints each target as measured / limit.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from _bot import bot_process, cpu_seconds, percentile
from sqlalchemy import func, select

from bot.services.alert_groups import JOB, declare_key
from bot.standin import Workspace, start_standin
from bot.store import db
from bot.store.models import AlertGroupRow, IncidentRow, TimerRow
from bot.timers import FAILED, PENDING, RUNNING

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-webhook-token"
SERVICES = ["checkout", "payments", "orchestrator", "pms", "messaging", "database", "cache", "api"]


def fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def notification(run: str, group: int, instances: int) -> bytes:
    service = SERVICES[group % len(SERVICES)]
    group_labels = {"alertname": f"BenchAlert{group:03d}", "bench_run": run, "service": service}
    common = {**group_labels, "severity": "critical"}
    summary = f"Error ratio above 2% on {service}"
    alerts = []
    for n in range(instances):
        labels = {**common, "instance": f"{service}-{n}:9090"}
        alerts.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": summary, "runbook_url": "https://runbooks.example.org/errors"},
                "startsAt": "2026-11-24T01:58:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus:9090/graph?g0.expr=bench{group}",
                "fingerprint": fingerprint(labels),
            }
        )
    key = ", ".join(f'{k}="{v}"' for k, v in group_labels.items())
    body = {
        "version": "4",
        "groupKey": f"{{}}:{{{key}}}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "incidentbot",
        "groupLabels": group_labels,
        "commonLabels": common,
        "commonAnnotations": {"summary": summary},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }
    return json.dumps(body).encode()


def storm(run: str, notifications: int, groups: int) -> list[bytes]:
    """Round-robin over the groups; every tenth group cycles through 1, 2 and 3 firing alerts."""
    bodies = []
    for i in range(notifications):
        group, round_ = i % groups, i // groups
        instances = 1 + round_ % 3 if group % 10 == 0 else 1
        bodies.append(notification(run, group, instances))
    return bodies


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wall_s: float = 0.0
    drain_s: float = 0.0
    bot_cpu_s: float | None = None
    groups: int = 0
    counted: int = 0
    incidents: int = 0
    with_channel: int = 0
    unlinked: int = 0
    failed_jobs: int = 0
    drained: bool = False


async def send_all(url: str, bodies: list[bytes], concurrency: int, result: Result) -> None:
    semaphore = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes) -> None:
            async with semaphore:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                result.statuses[status] = result.statuses.get(status, 0) + 1

        await asyncio.gather(*(one(body) for body in bodies))


async def audit(database_url: str, run: str, result: Result, within_s: float) -> None:
    """Wait for the job queue to drain, then count what the bot recorded for this run."""
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    mine = AlertGroupRow.group_key.like(f'%bench_run="{run}"%')
    started = time.perf_counter()
    try:
        async with sessions() as session:
            while time.perf_counter() - started < within_s:
                busy = await session.scalar(
                    select(func.count())
                    .select_from(TimerRow)
                    .where(TimerRow.kind == JOB, TimerRow.status.in_([PENDING, RUNNING]))
                )
                if not busy:
                    result.drained = True
                    break
                await session.rollback()
                await asyncio.sleep(0.2)
            result.drain_s = time.perf_counter() - started
            rows = (await session.scalars(select(AlertGroupRow).where(mine))).all()
            result.groups = len(rows)
            result.counted = sum(row.notifications for row in rows)
            result.unlinked = sum(row.incident_id is None for row in rows)
            keys = [declare_key(row.id, row.episode) for row in rows]
            incidents = (
                await session.scalars(select(IncidentRow).where(IncidentRow.declare_key.in_(keys)))
            ).all()
            result.incidents = len(incidents)
            result.with_channel = sum(i.channel_id is not None for i in incidents)
            ids = [row.id for row in rows]
            jobs = (
                await session.scalars(select(TimerRow).where(TimerRow.kind == JOB, TimerRow.status == FAILED))
            ).all()
            result.failed_jobs = sum(int(job.payload.get("group_id", -1)) in ids for job in jobs)
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> Result:
    run_id = uuid.uuid4().hex[:8]
    bodies = storm(run_id, args.notifications, args.groups)
    result = Result()
    standin = await start_standin(Workspace())
    try:
        async with bot_process(
            standin.api_url, args.port, args.database_url, INCIDENTBOT_WEBHOOK_TOKEN=TOKEN
        ) as bot:
            cpu_before = cpu_seconds(bot.pid)
            started = time.perf_counter()
            await send_all(f"{bot.url}/webhooks/alertmanager", bodies, args.concurrency, result)
            result.wall_s = time.perf_counter() - started
            cpu_after = cpu_seconds(bot.pid)
            if cpu_before is not None and cpu_after is not None:
                result.bot_cpu_s = cpu_after - cpu_before
            await audit(bot.database_url, run_id, result, args.drain_timeout)
    finally:
        await standin.close()
    return result


def print_table(result: Result, args: argparse.Namespace) -> None:
    backend = (args.database_url or "sqlite").split(":", 1)[0]
    ms = result.latencies_ms
    ok = sum(count for status, count in result.statuses.items() if 200 <= status < 300)
    refused = args.notifications - ok
    lost = refused + (args.notifications - result.counted)
    cpu = f"{100 * result.bot_cpu_s / result.wall_s:.0f} %" if result.bot_cpu_s is not None else "n/a"
    print(
        f"\n{args.notifications:,} Alertmanager notifications over {args.groups} groups, concurrency "
        f"{args.concurrency}, bot in its own process on {backend}, {os.cpu_count()} CPUs\n"
    )
    print("| figure | value |")
    print("|---|---:|")
    rows = [
        ("throughput (notifications/s)", f"{args.notifications / result.wall_s:,.0f}"),
        ("webhook latency p50 (ms)", f"{percentile(ms, 50):.1f}"),
        ("webhook latency p99 (ms)", f"{percentile(ms, 99):.1f}"),
        ("webhook latency max (ms)", f"{max(ms):.1f}"),
        ("webhook latency mean (ms)", f"{statistics.mean(ms):.1f}"),
        ("storm duration (s)", f"{result.wall_s:.2f}"),
        ("bot CPU during the storm", cpu),
        ("responses 2xx / other", f"{ok:,} / {refused:,}"),
        ("groups recorded (expected)", f"{result.groups} ({args.groups})"),
        ("notifications counted on groups", f"{result.counted:,}"),
        ("incidents created (expected)", f"{result.incidents} ({args.groups})"),
        ("incidents with a channel", f"{result.with_channel}"),
        ("groups without an incident", f"{result.unlinked}"),
        ("failed jobs", f"{result.failed_jobs}"),
        (
            "job queue drained after the storm (s)",
            f"{result.drain_s:.1f}" if result.drained else "NOT DRAINED",
        ),
        ("**notifications lost**", f"**{lost}**"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    good = lost == 0 and result.incidents == args.groups and result.unlinked == 0 and result.drained
    if not good:
        print("\nFAILED: notifications lost or incidents missing", file=sys.stderr)
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--port", type=int, default=3918)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for the jobs")
    parser.add_argument("--targets", action="store_true", help="the SEV-mixed storm against 20 creates/min")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="with --targets: the minute of Slack's limit / this"
    )
    args = parser.parse_args()
    if args.targets:
        from storm_targets import run_targets

        raise SystemExit(asyncio.run(run_targets(args.groups if args.groups != 100 else 200, args)))
    print_table(asyncio.run(run(args)), args)


if __name__ == "__main__":
    main()
