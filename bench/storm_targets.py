"""The issue's storm targets, run by `bench/alert_storm.py --targets` (not a bench of its own).

200 Alertmanager groups (25 SEV1, 25 SEV2, 75 SEV3, 75 SEV4) fire at once while Slack allows 20
`conversations.create` a minute (the stand-in's sliding window, with Retry-After; `--time-scale 10`
shrinks the minute to 6 s for both the stand-in and the bot's own budget). Measured from each group's
webhook: the incident row, the first page DM; then the order in which channels were created, and every
channel in the end. Printed as measured / limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import yaml
from _bot import bot_process
from alert_storm import TOKEN, fingerprint
from sqlalchemy import select

from bot.standin import Workspace, start_standin
from bot.store import db
from bot.store.models import IncidentRow

ROOT = Path(__file__).resolve().parent.parent
MIX = {"SEV1": 25, "SEV2": 25, "SEV3": 75, "SEV4": 75}
CHANNEL_ID = re.compile(r"^inc-\d{8}-(\d+)-")


def config(directory: Path) -> Path:
    examples = ROOT / "examples"
    data = yaml.safe_load((examples / "incidentbot.yml").read_text())
    data["slos"] = [str(examples / "slos")]
    data["runbooks"]["directory"] = str(examples / "runbooks")
    data["postmortems"]["directory"] = str(directory / "postmortems")
    data["alertmanager"]["rules"] = [
        {"match": {"tier": sev[-1]}, "action": "declare", "severity": sev, "title": "{{ alertname }}"}
        for sev in MIX
    ]
    path = directory / "incidentbot.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def body(run: str, name: str, tier: str) -> bytes:
    labels = {"alertname": name, "bench_run": run, "tier": tier}
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{name} is failing"},
        "startsAt": "2026-11-24T01:58:00.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint(labels),
    }
    key = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return json.dumps(
        {
            "version": "4",
            "groupKey": f"{{}}:{{{key}}}",
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "incidentbot",
            "groupLabels": labels,
            "commonLabels": labels,
            "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager:9093",
            "alerts": [alert],
        }
    ).encode()


async def run_targets(groups: int, args: argparse.Namespace) -> int:
    scale = max(sum(MIX.values()) // groups, 1)
    mix = {sev: max(count // scale, 1) for sev, count in MIX.items()}
    window = 60.0 / args.time_scale
    run = os.urandom(4).hex()
    names = [(f"Storm{sev}n{n:03d}", sev) for sev, count in mix.items() for n in range(count)]
    names = [names[(i * 37) % len(names)] for i in range(len(names))]  # severities interleaved
    ws = Workspace()
    ws.rate_limit("conversations.create", 20, window)
    standin = await start_standin(ws)
    sent_at: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "INCIDENTBOT_WEBHOOK_TOKEN": TOKEN,
            "INCIDENTBOT_CONFIG": str(config(Path(tmp))),
            "INCIDENTBOT_SLACK_CHANNEL_BUDGET": f"20/{window:g}",
        }
        try:
            async with bot_process(standin.api_url, args.port, args.database_url, **env) as bot:
                headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
                async with aiohttp.ClientSession() as session:

                    async def one(name: str, sev: str) -> None:
                        sent_at[name] = time.time()
                        url = f"{bot.url}/webhooks/alertmanager"
                        async with session.post(url, data=body(run, name, sev[-1]), headers=headers) as r:
                            assert r.status == 200, await r.text()

                    begun = datetime.now(UTC)
                    await asyncio.gather(*(one(name, sev) for name, sev in names))
                started = time.time()
                incidents = await wait_for_channels(bot.database_url, begun, len(names), started, args)
                return report(ws, names, sent_at, incidents, args, window)
        finally:
            await standin.close()


async def wait_for_channels(
    url: str, begun: datetime, wanted: int, started: float, args: argparse.Namespace
) -> list[IncidentRow]:
    """This run's incidents (declared since it began; earlier runs may share the database)."""
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    try:
        while True:
            async with sessions() as session:
                rows = list(
                    (
                        await session.scalars(
                            select(IncidentRow).where(
                                IncidentRow.title.like("Storm%"), IncidentRow.created_at >= begun
                            )
                        )
                    ).all()
                )
            if len(rows) >= wanted and all(r.channel_id for r in rows):
                return rows
            if time.time() - started > args.drain_timeout:
                return rows
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


def report(
    ws: Workspace,
    names: list[tuple[str, str]],
    sent_at: dict[str, float],
    incidents: list[IncidentRow],
    args: argparse.Namespace,
    window: float,
) -> int:
    by_title = {row.title: row for row in incidents}
    severity = {row.id: row.severity for row in incidents}
    recorded = [by_title[n].created_at.timestamp() - sent_at[n] for n, _ in names if n in by_title]
    pages = {}
    for call in ws.calls_to("chat.postMessage"):
        channel, text = str(call.args.get("channel", "")), str(call.args.get("text", ""))
        match = re.search(r"Paged for (INC-\d+)", text)
        if call.ok and channel.startswith("D") and match:
            pages.setdefault(match.group(1), call.at)
    paged = [
        pages[f"INC-{by_title[n].id}"] - sent_at[n]
        for n, _ in names
        if n in by_title and f"INC-{by_title[n].id}" in pages
    ]
    order = [
        severity.get(int(m.group(1)), "?")
        for c in ws.calls_to("conversations.create")
        if c.ok and (m := CHANNEL_ID.match(str(c.args.get("name"))))
    ]
    sev1 = [i for i, s in enumerate(order) if s == "SEV1"]
    low = [i for i, s in enumerate(order) if s in ("SEV3", "SEV4")]
    inverted = sum(1 for i in low if sev1 and i < max(sev1))
    with_channel = sum(1 for row in incidents if row.channel_id)
    limited = sum(1 for c in ws.calls_to("conversations.create") if c.status == 429)
    n = len(names)
    rows = [
        ("incidents recorded", f"{len(incidents)} / {n}", len(incidents) == n),
        (
            "webhook → incident recorded, max",
            f"{max(recorded):.2f} s / 5 s = {max(recorded) / 5:.2f}×",
            max(recorded) <= 5,
        ),
        ("incidents paged", f"{len(paged)} / {n}", len(paged) == n),
        (
            "webhook → first page, max",
            f"{max(paged, default=99):.2f} s / 10 s = {max(paged, default=99) / 10:.2f}×",
            max(paged, default=99) <= 10,
        ),
        ("SEV3/SEV4 channels created before the last SEV1 channel", f"{inverted} / 0", inverted == 0),
        ("channels in the end", f"{with_channel} / {n}", with_channel == n),
        ("429s Slack answered conversations.create", f"{limited}", True),
    ]
    backend = (args.database_url or "sqlite").split(":", 1)[0]
    print(
        f"\n{n} groups ({', '.join(f'{c} {s}' for s, c in MIX.items() if c)}) at once, conversations.create "
        f"limited to 20 per {window:g} s (time scale {args.time_scale:g}), bot on {backend}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
    )
    print("| target | measured / limit | met |")
    print("|---|---:|:---:|")
    for name, value, met in rows:
        print(f"| {name} | {value} | {'yes' if met else '**no**'} |")
    return 0 if all(met for *_, met in rows) else 1
