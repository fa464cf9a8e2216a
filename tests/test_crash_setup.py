"""A declare still setting up when the bot is stopped (SIGTERM, grace run out) is finished by the next
process: channel, pinned summary, announcement and page, each once."""

from __future__ import annotations

from pathlib import Path

from bot.standin import RunningStandin, Workspace, eventually, message_text
from tests.serve_process import bot_server
from tests.test_crash_paging import BOB, POLICY, declare_sev1, page_dms

ANNOUNCEMENTS = "C0INCIDENT"


def incident_channels(ws: Workspace) -> list[str]:
    return [c.id for c in ws.channels.values() if c.name.startswith("inc-")]


def summary_pinned(ws: Workspace) -> bool:
    channels = [ws.channels[c] for c in incident_channels(ws)]
    return len(channels) == 1 and len(channels[0].pins) == 1


async def test_a_declare_stopped_mid_set_up_is_finished_after_a_restart(
    database_url: str, standin: RunningStandin, tmp_path: Path
) -> None:
    ws = standin.workspace
    ws.hang_next("pins.add")
    async with bot_server(database_url, standin, tmp_path, oncall=POLICY) as server:
        await declare_sev1(server, "Checkout stuck mid set-up")
        await eventually(lambda: ws.held("pins.add"), timeout=20)
        assert await server.terminate() == 0  # waits out the grace, cancels the declare
        assert not summary_pinned(ws)
        await server.start()
        await eventually(lambda: summary_pinned(ws), timeout=30)
        [channel] = [ws.channels[c] for c in incident_channels(ws)]
        summaries = [m for m in channel.messages if m.ts in channel.pins]
        assert len(summaries) == 1
        posted = [m for m in channel.messages if "Checkout stuck mid set-up" in message_text(m)]
        assert len(posted) == 1, [m.text for m in posted]  # the summary was not posted twice
        announced = [m for m in ws.messages(ANNOUNCEMENTS) if "Checkout stuck mid set-up" in message_text(m)]
        assert len(announced) == 1
        assert len(page_dms(ws, BOB)) == 1
