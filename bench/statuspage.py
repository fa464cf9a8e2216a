"""The public status page under load: `/api/v2/summary.json` and `/status` served by the bot, against
aiohttp serving the very same bytes (and headers) as a static response, in the same run.

The bot runs as its own process (`incidentbot serve`) on a SQLite database seeded with a realistic page:
3 active incidents with 3 public updates each, 10 resolved ones in the last 14 days, a scheduled
maintenance, 90 days of uptime bars. The static server is a second process; both are measured one after
the other by the same client: 200 concurrent connections for `--seconds` each (after a warm-up), in
four alternating rounds so that other work on the machine weighs on both alike.
Goal (issue "status page"): the bot's throughput >= 0.8 x the static server's, for both documents.
Run: `.venv/bin/python bench/statuspage.py [--seconds 8]`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bot import bot_process, percentile

from bot.config import load_config
from bot.domain import DeclareRequest
from bot.services.statuspage import StatusPageService
from bot.standin import Workspace, start_standin
from bot.statuspage.model import PublicDraft
from bot.statuspage.store import StatusPageStore
from bot.store import IncidentStore, db

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 200
PATHS = ("/api/v2/summary.json", "/status")
GOAL = 0.8
ROUNDS = 4

STATIC_SERVER = """
import sys
from aiohttp import web
body = open(sys.argv[2], "rb").read()
headers = dict(h.split(": ", 1) for h in sys.argv[3:])
async def serve(request):
    return web.Response(body=body, headers=headers)
app = web.Application()
app.router.add_get("/{tail:.*}", serve)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def __add__(self, other: Run) -> Run:
        return Run(
            self.requests + other.requests,
            self.seconds + other.seconds,
            self.latencies + other.latencies,
            self.errors + other.errors,
        )


def free_port() -> int:
    """A port nobody listens on now (another bench may be running on this machine)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(database_url: str) -> None:
    """A page people would see on a bad week."""
    await db.upgrade(database_url)
    config = load_config(ROOT / "examples" / "incidentbot.yml")
    engine = db.make_engine(database_url)
    sessions = db.make_sessionmaker(engine)
    incidents = IncidentStore(sessions)
    now = datetime.now(UTC)
    clock = [now - timedelta(days=12)]
    service = StatusPageService(config, StatusPageStore(sessions), incidents, None, lambda: clock[0])
    statuses = ("investigating", "identified", "monitoring", "resolved")
    components = ["api", "checkout", "payments", "notifications"]
    for number in range(13):
        request = DeclareRequest(f"Incident {number}", "SEV2", "", "U0ALICE000", "U0ALICE000", "checkout")
        incident, _ = await incidents.create(
            request, f"bench-{number}", "investigating", "incident_commander", clock[0]
        )
        active = number >= 10
        for stage, status in enumerate(statuses[: 3 if active else 4]):
            clock[0] += timedelta(minutes=25)
            component = components[number % len(components)]
            text = f"{status.capitalize()}: the {component} service returns errors for some requests. " * 3
            draft = PublicDraft(
                status, f"Elevated errors on {component} #{number}", text, {component: "partial_outage"}
            )
            await service.post_trusted(incident.id, draft, "bench", f"bench-{number}-{stage}")
        clock[0] += timedelta(hours=20)
    clock[0] = now
    await service.add_maintenance(
        "Database upgrade", "Read-only for ten minutes.", ["db"], now + timedelta(days=2),
        now + timedelta(days=2, hours=1), "bench", "cli", "bench-maintenance",
    )  # fmt: skip
    await engine.dispose()


async def load(url: str, seconds: float) -> Run:
    """CLIENTS connections asking as fast as they are answered, for `seconds`."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=CLIENTS, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                            continue
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return Run(len(latencies), elapsed, latencies, errors)


async def static_server(
    port: int, body: bytes, headers: dict[str, str], folder: Path
) -> asyncio.subprocess.Process:
    path = folder / f"body-{port}"
    path.write_bytes(body)
    kept = [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("content-length", "date", "server")]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STATIC_SERVER, str(port), str(path), *kept
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise SystemExit("the static server did not start")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load per measurement (default 8)")
    args = parser.parse_args()
    standin = await start_standin(Workspace())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = f"sqlite+aiosqlite:///{folder / 'page.db'}"
        await seed(database)
        try:
            async with bot_process(standin.api_url, free_port(), database) as bot:
                for path in PATHS:
                    async with aiohttp.ClientSession() as session, session.get(bot.url + path) as response:
                        body, headers = await response.read(), dict(response.headers)
                    port = free_port()
                    static = await static_server(port, body, headers, folder)
                    try:
                        static_url = f"http://127.0.0.1:{port}{path}"
                        await load(bot.url + path, 1.0)  # warm-up
                        await load(static_url, 1.0)
                        served, reference = Run(0, 0.0, [], 0), Run(0, 0.0, [], 0)
                        for _ in range(ROUNDS):  # alternated, so a busy moment on the machine hits both
                            served = served + await load(bot.url + path, args.seconds / ROUNDS)
                            reference = reference + await load(static_url, args.seconds / ROUNDS)
                    finally:
                        static.terminate()
                        await static.wait()
                    rows.append((path, len(body), served, reference))
        finally:
            await standin.close()
    print(
        f"{CLIENTS} concurrent clients, {args.seconds:g} s per measurement, "
        "bot vs aiohttp static (same bytes)"
    )
    print(f"{'document':<24}{'bytes':>8}{'bot req/s':>11}{'static req/s':>14}{'ratio':>7}{'bot p50 ms':>12}"
          f"{'bot p99 ms':>12}{'errors':>8}  goal >= {GOAL}")  # fmt: skip
    failed = False
    for path, size, served, reference in rows:
        ratio = served.rate / reference.rate
        failed |= ratio < GOAL or served.errors > 0
        print(
            f"{path:<24}{size:>8}{served.rate:>11.0f}{reference.rate:>14.0f}{ratio:>7.2f}"
            f"{percentile(served.latencies, 50) * 1000:>12.1f}"
            f"{percentile(served.latencies, 99) * 1000:>12.1f}"
            f"{served.errors + reference.errors:>8}  {'met' if ratio >= GOAL else 'NOT MET'}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
