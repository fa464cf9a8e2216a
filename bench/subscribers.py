"""10,000 confirmed status page subscribers get one public update by e-mail, through a local SMTP server,
while signed slash commands keep arriving: how fast the mail goes out, and what it costs Slack's acks.

The bot runs as its own process (`incidentbot serve`, SQLite in a temp dir unless `--database-url`), the
SMTP server (aiosmtpd, accepting everything) as another, the load generator in this one. The update is
posted as an operator posts it (`incidentbot statuspage post`, a third process): the serving bot fans it out
and sends it. Meanwhile `/incident help` is sent at `--concurrency`, signed as Slack signs it; the same is
measured before the update, with nothing being mailed, as the yardstick.

Run: `.venv/bin/python bench/subscribers.py` (`--subscribers 10000 --concurrency 10`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from _bot import SIGNING_SECRET, bot_process, cpu_seconds, percentile, run_cli
from sqlalchemy import func, insert, select

from bot.domain import DeclareRequest
from bot.standin import SlackDriver, Workspace, start_standin
from bot.store import IncidentStore, db
from bot.store.models import SubscriberMailRow, SubscriberRow

ROOT = Path(__file__).resolve().parent.parent
USER, CHANNEL = "U0ALICE000", "C0GENERAL0"
MAIL_FROM = "status@example.com"


@dataclass
class Acks:
    latencies_ms: list[float]
    failures: int


async def seed(database_url: str, subscribers: int) -> int:
    """`subscribers` confirmed subscribers of every component, and one open incident to post about."""
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    now = datetime.now(UTC)
    rows = [
        {
            "email": f"subscriber{n}@example.org",
            "status": "confirmed",
            "all_components": True,
            "components": [],
            "requested_all": True,
            "requested_components": [],
            "created_at": now,
            "confirmed_at": now,
        }
        for n in range(subscribers)
    ]
    async with sessions() as session, session.begin():
        for start in range(0, len(rows), 1000):
            await session.execute(insert(SubscriberRow), rows[start : start + 1000])
    request = DeclareRequest("Checkout errors", "SEV2", "Seeded.", USER, service="checkout")
    incident, _ = await IncidentStore(sessions).create(
        request, f"bench-{now.timestamp()}", "investigating", "commander", now
    )
    await engine.dispose()
    return incident.id


async def sent(database_url: str) -> int:
    engine = db.make_engine(database_url)
    try:
        async with db.make_sessionmaker(engine)() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(SubscriberMailRow)
                    .where(SubscriberMailRow.status == "sent")
                )
                or 0
            )
    finally:
        await engine.dispose()


async def acks_while(driver: SlackDriver, concurrency: int, done: asyncio.Event, at_least: int) -> Acks:
    """Signed `/incident help` at `concurrency` until `done` is set (and at least `at_least` were sent)."""
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        while not done.is_set() or len(latencies) < at_least:
            started = time.perf_counter()
            response = await driver.slash(USER, CHANNEL, "help")
            latencies.append((time.perf_counter() - started) * 1000)
            failures += response.status != 200

    gc.collect()
    gc.disable()  # this process's collections must not count as the bot's latency
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        gc.enable()
    return Acks(latencies, failures)


async def run(args: argparse.Namespace) -> None:
    standin = await start_standin(Workspace())
    sink = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "_smtp_sink.py"),
        str(args.smtp_port),
        stdout=asyncio.subprocess.PIPE,
    )
    assert sink.stdout is not None
    await sink.stdout.readline()  # "ready"
    env = {
        "INCIDENTBOT_SMTP_URL": f"smtp://127.0.0.1:{args.smtp_port}",
        "INCIDENTBOT_MAIL_FROM": MAIL_FROM,
        "INCIDENTBOT_SUBSCRIPTION_SECRET": "bench-subscription-secret",
    }
    try:
        async with bot_process(standin.api_url, args.port, args.database_url, **env) as bot:
            incident_id = await seed(bot.database_url, args.subscribers)
            driver = SlackDriver(bot.url, SIGNING_SECRET, standin.workspace, standin.url)
            for _ in range(20):  # warm-up: auth.test, connection pools
                await driver.slash(USER, CHANNEL, "help")
            idle_done = asyncio.Event()
            asyncio.get_running_loop().call_later(args.idle_seconds, idle_done.set)
            idle = await acks_while(driver, args.concurrency, idle_done, 0)

            cli_env = {
                **os.environ,
                **env,
                "INCIDENTBOT_DATABASE_URL": bot.database_url,
                "INCIDENTBOT_CONFIG": str(ROOT / "examples" / "incidentbot.yml"),
            }
            cpu_before = cpu_seconds(bot.pid)
            posted = time.perf_counter()
            await run_cli(
                cli_env,
                "statuspage", "post", f"INC-{incident_id}", "--status", "investigating",
                "--body", "Some card payments fail; we are on it.", "--component", "checkout=partial_outage",
            )  # fmt: skip
            mailing_done = asyncio.Event()
            first_sent: list[float] = []

            async def watch() -> None:
                while True:
                    count = await sent(bot.database_url)
                    if count and not first_sent:
                        first_sent.append(time.perf_counter())
                    if count >= args.subscribers:
                        mailing_done.set()
                        return
                    await asyncio.sleep(0.2)

            watcher = asyncio.create_task(watch())
            busy = await acks_while(driver, args.concurrency, mailing_done, 0)
            await watcher
            finished = time.perf_counter()
            cpu_after = cpu_seconds(bot.pid)
            await driver.close()
    finally:
        await standin.close()
        sink.terminate()
        summary = json.loads((await sink.communicate())[0].decode().strip().splitlines()[-1])

    total = finished - posted
    sending = finished - first_sent[0] if first_sent else total
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    backend = (args.database_url or "sqlite").split(":", 1)[0]
    print(
        f"\n{args.subscribers} confirmed subscribers, one public update, {backend}, {os.cpu_count()} CPUs\n"
    )
    print("| figure | value |")
    print("|---|---:|")
    print(f"| mails the SMTP server accepted | {summary['messages']:,} |")
    print(f"| of them with `List-Unsubscribe-Post: List-Unsubscribe=One-Click` | {summary['one_click']:,} |")
    print(f"| distinct recipients | {summary['recipients']:,} |")
    print(f"| post → last mail sent | {total:.1f} s |")
    print(f"| first → last mail sent | {sending:.1f} s |")
    print(f"| messages per second (first → last) | {args.subscribers / sending:,.0f} |")
    print(
        f"| bot CPU while mailing | {100 * cpu / total:.0f} % |" if cpu is not None else "| bot CPU | n/a |"
    )
    print()
    print(f"Slack acks (`/incident help`, concurrency {args.concurrency}):\n")
    print("| while | requests | p50 ms | p99 ms | max ms | failures |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, acks in (("idle (no mail)", idle), ("mailing the subscribers", busy)):
        ms = acks.latencies_ms
        print(
            f"| {name} | {len(ms):,} | {percentile(ms, 50):.1f} | {percentile(ms, 99):.1f} | {max(ms):.1f} "
            f"| {acks.failures} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=10, help="slash commands in flight meanwhile")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="the yardstick's length")
    parser.add_argument("--port", type=int, default=3931)
    parser.add_argument("--smtp-port", type=int, default=3932)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
