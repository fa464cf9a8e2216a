"""Declare → first page, and declare → channel ready, against a Slack that takes D ms per call.

The bot runs as its own process (`incidentbot serve`, example config, SQLite) against the Slack stand-in,
whose delay switch holds every Web API call D ms (150 ms, then 50 ms). A SEV1 is declared through the
modal as Slack sends it (signed requests); the clock starts when the modal is submitted. Physical limits:
the first page needs 2 round trips (open the DM, post it; the DM channel is then remembered), a ready
channel 3 (create it, post the summary, pin it; topic, invites and announcement go alongside). The
issue's targets are 1.5 × those limits. Printed: medians over the runs, as measured / limit.

Run: `.venv/bin/python bench/declare_latency.py` (`--runs 5`, `--delays 150,50`). `--workflows 20` measures
again with 20 workflows on incident.declared matching every SEV1 (each posts a heads-up to #alerts): their
runs are timers of their own, behind the set-up, so the critical path should not move.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from _bot import SIGNING_SECRET, bot_process

from bot.standin import SlackDriver, Workspace, start_standin
from bot.standin.state import Call

ALICE, GENERAL, ANNOUNCEMENTS = "U0ALICE000", "C0GENERAL0", "C0INCIDENT"
TARGET = 1.5


@dataclass
class Sample:
    page_s: float
    ready_s: float


def _first(calls: list[Call], method: str, test: object) -> Call | None:
    return next((c for c in calls if c.method == method and c.ok and test(c)), None)  # type: ignore[operator]


async def declare_once(ws: Workspace, driver: SlackDriver, title: str) -> Sample:
    await driver.slash(ALICE, GENERAL, f"declare {title}")
    deadline = time.monotonic() + 10
    view = None
    while view is None and time.monotonic() < deadline:
        views = [v for v in ws.open_views(ALICE) if v.view.get("callback_id") == "declare_incident"]
        view = views[-1] if views else None
        await asyncio.sleep(0.005)
    assert view is not None, "no declare modal"
    start = len(ws.calls)
    submitted = ws.now()
    await driver.submit_view(ALICE, view.id, {"severity": {"value": "SEV1"}, "summary": {"value": "bench"}})
    page = ready = None
    while time.monotonic() < deadline + 20 and (page is None or ready is None):
        calls = ws.calls[start:]
        page = page or _first(
            calls,
            "chat.postMessage",
            lambda c: str(c.args.get("channel", "")).startswith("D") and title in str(c.args.get("text")),
        )
        created = _first(calls, "conversations.create", lambda c: True)
        pin = _first(calls, "pins.add", lambda c: True)
        announced = _first(
            calls,
            "chat.postMessage",
            lambda c: c.args.get("channel") == ANNOUNCEMENTS and title in str(c.args.get("text")),
        )
        if created and pin and announced:
            ready = max(pin.at, announced.at)
        await asyncio.sleep(0.005)
    assert page is not None and ready is not None, f"{title}: no page or not set up"
    return Sample(page.at - submitted, ready - submitted)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@contextmanager
def config_with_workflows(count: int) -> Iterator[dict[str, str]]:
    """The example config with `count` workflows on incident.declared (none: the example as it is)."""
    if count == 0:
        yield {}
        return
    config = yaml.safe_load((EXAMPLES / "incidentbot.yml").read_text(encoding="utf-8"))
    config["slos"] = [str(EXAMPLES / "slos")]
    config["runbooks"]["directory"] = str(EXAMPLES / "runbooks")
    config["workflows"] = [
        {
            "name": f"heads-up-{n}",
            "on": "incident.declared",
            "if": {"severity": "SEV1"},
            "do": [{"post": {"channel": "C0ALERTS00", "template": "team_heads_up"}}],
        }
        for n in range(count)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "incidentbot.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        yield {"INCIDENTBOT_CONFIG": str(path)}


async def measure(delay_s: float, runs: int, port: int, workflows: int = 0) -> list[Sample]:
    ws = Workspace()
    standin = await start_standin(ws)
    try:
        ws.delay("*", delay_s)
        with config_with_workflows(workflows) as env:
            async with (
                bot_process(standin.api_url, port, **env) as bot,
                SlackDriver(bot.url, SIGNING_SECRET, ws, standin.url) as driver,
            ):
                await declare_once(ws, driver, "Warm up the caches")  # auth.test, the DM channel
                return [await declare_once(ws, driver, f"Bench declare {n}") for n in range(runs)]
    finally:
        await standin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delays", default="150,50", help="ms per Slack call, comma-separated")
    parser.add_argument("--port", type=int, default=3919)
    parser.add_argument("--workflows", type=int, default=0, help="also measure with N declare workflows")
    args = parser.parse_args()
    print(
        "\n| workflows | Slack delay | declare → first page | limit (2 RT) | ratio | declare → channel ready "
        "| limit (3 RT) | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    counts = [0, args.workflows] if args.workflows else [0]
    for ms, workflows in ((float(d), w) for d in args.delays.split(",") for w in counts):
        samples = asyncio.run(measure(ms / 1000, args.runs, args.port, workflows))
        page = statistics.median(s.page_s for s in samples)
        ready = statistics.median(s.ready_s for s in samples)
        page_ratio, ready_ratio = page / (2 * ms / 1000), ready / (3 * ms / 1000)
        failed |= page_ratio > TARGET or ready_ratio > TARGET
        print(
            f"| {workflows} | {ms:.0f} ms | {page * 1000:.0f} ms | {2 * ms:.0f} ms | {page_ratio:.2f}× "
            f"| {ready * 1000:.0f} ms | {3 * ms:.0f} ms | {ready_ratio:.2f}× |"
        )
    print(f"\ntarget: ratio ≤ {TARGET} (medians of {args.runs} SEV1 declares after a warm-up)")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
