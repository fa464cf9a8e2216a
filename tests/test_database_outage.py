"""The database goes away for a while under a running timer worker: one WARNING when it goes, one when it
is back, no traceback per poll; and the timers due meanwhile fire once it is back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import make_url

from bot.standin import eventually
from bot.store import db
from bot.timers import Scheduler, Timer, TimerStore

OUTAGE_S = 20.0


class Proxy:
    """A TCP forwarder in front of PostgreSQL that can be cut (connections dropped, new ones refused)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        for task in self.pipes:
            task.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            finally:
                sink.close()

        for task in (
            asyncio.create_task(pipe(reader, upstream_writer)),
            asyncio.create_task(pipe(upstream_reader, writer)),
        ):
            self.pipes.add(task)
            task.add_done_callback(self.pipes.discard)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_database_outage_is_one_warning_then_one_when_it_is_back(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(database_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    engine = db.make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    scheduler = Scheduler(
        TimerStore(db.make_sessionmaker(engine)), lambda: datetime.now(UTC), poll_seconds=0.2
    )
    fired: list[int] = []

    async def probe(timer: Timer) -> None:
        fired.append(timer.id)

    scheduler.on("probe", probe)
    scheduler.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="bot.timers"):
            await proxy.cut()
            await asyncio.sleep(OUTAGE_S)  # the outage itself: the worker polls ~100 times meanwhile
            await proxy.start()
            await eventually(lambda: "database reachable again" in caplog.text, timeout=10)
            await scheduler.schedule("probe", datetime.now(UTC))
            await eventually(lambda: fired, timeout=10)
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "bot.timers"]
        assert [r.getMessage().split(" (")[0].split(" after")[0] for r in warnings] == [
            "timer worker: database unreachable",
            "timer worker: database reachable again",
        ], [r.getMessage() for r in warnings]
        assert all(r.exc_info is None for r in warnings)
    finally:
        await scheduler.stop()
        with contextlib.suppress(Exception):
            await proxy.cut()
        await engine.dispose()
