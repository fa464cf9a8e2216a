"""A bot process's timer worker, alone: `python -m tests.timer_worker DATABASE_URL OUTPUT_FILE`.

Fires every due `probe` timer, appending its id to OUTPUT_FILE, until none has been due for 4 s.
Two of these on one database show whether a timer can fire in two processes.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.store import db
from bot.timers import Scheduler, Timer, TimerStore

QUIET_SECONDS = 4.0


async def main(url: str, output: Path) -> None:
    engine = db.make_engine(url)
    scheduler = Scheduler(TimerStore(db.make_sessionmaker(engine)), lambda: datetime.now(UTC), batch=5)

    async def probe(timer: Timer) -> None:
        with output.open("a") as out:
            out.write(f"{timer.id}\n")
        await asyncio.sleep(0.005)  # a real handler awaits Slack; the other process claims meanwhile

    scheduler.on("probe", probe)
    await scheduler.run_due()  # connected: tell the test, which then schedules the timers
    output.with_suffix(".ready").touch()
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < QUIET_SECONDS:
            if await scheduler.run_due():
                quiet_since = time.monotonic()
            await asyncio.sleep(0.01)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
