"""A bot process killed (`kill -9`) before (the DM channel being opened), during (the DM held) or after
(the DM posted, Slack's answer held) an escalation step's delivery, Slack holding the call for 8 s: after
a restart the step's DM has arrived exactly once and the policy goes on to its end ("policy has run
out"). The README promises a crash can at worst repeat a timer, never lose it; these hold it to that on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.oncall.messages import ACTION_ACK
from bot.services.paging import ESCALATE
from bot.standin import RunningStandin, Workspace, eventually, message_text
from bot.store.models import TimerRow
from bot.timers import DONE
from tests.serve_process import BotServer, bot_server

ALICE, BOB, CAROL, GENERAL = "U0ALICE000", "U0BOB00000", "U0CAROL000", "C0GENERAL0"
HOLD_SECONDS = 8.0
POLICY = {
    "escalation": {
        "SEV1": [
            {"notify": {"users": [BOB]}},
            {"wait": "2s"},
            {"notify": {"users": [CAROL]}},
            {"wait": "2s"},  # the time Carol has to acknowledge before the policy has run out
        ],
    }
}


def page_dms(ws: Workspace, user: str) -> list[Any]:
    """The page DMs `user` has (each carries an Acknowledge button)."""
    channel = ws.dm_channel(user, create=False)
    messages = list(channel.messages) if channel else []
    return [m for m in messages if ACTION_ACK in str(m.blocks)]


def incident_channel_texts(ws: Workspace) -> list[str]:
    return [message_text(m) for c in ws.channels.values() if c.name.startswith("inc-") for m in c.messages]


async def steps_finished(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Every escalation timer is done: the step the kill interrupted was taken over and finished."""
    async with sessions() as session:
        rows = (await session.scalars(select(TimerRow).where(TimerRow.kind == ESCALATE))).all()
    return bool(rows) and all(row.status == DONE for row in rows)


async def declare_sev1(server: BotServer, title: str) -> None:
    ws = server.standin.workspace
    async with server.driver() as driver:
        response = await driver.slash(ALICE, GENERAL, f"declare {title}")
        assert response.status == 200

        def modal() -> Any:
            views = [v for v in ws.open_views(ALICE) if v.view.get("callback_id") == "declare_incident"]
            return views[-1] if views else None

        view = await eventually(modal, timeout=10)
        ack = await driver.submit_view(
            ALICE, view.id, {"severity": {"value": "SEV1"}, "summary": {"value": "Customers cannot pay"}}
        )
        assert ack.json and ack.json["response_action"] == "update"


def to_bob(ws: Workspace) -> Callable[[dict[str, Any]], bool]:
    dm = ws.dm_channel(BOB)
    assert dm is not None
    return lambda args: args.get("channel") == dm.id


HOLDS: dict[str, tuple[str, Callable[[Workspace], Callable[[dict[str, Any]], bool]], bool]] = {
    "before": ("conversations.open", lambda ws: lambda args: BOB in str(args.get("users")), False),
    "during": ("chat.postMessage", to_bob, False),
    "after": ("chat.postMessage", to_bob, True),  # the DM is posted, Slack's answer is what is late
}


@pytest.mark.parametrize("when", list(HOLDS), ids=[f"kill-{w}" for w in HOLDS])
async def test_a_kill_during_an_escalation_step_neither_loses_nor_repeats_the_page(
    when: str,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    standin: RunningStandin,
    tmp_path: Path,
) -> None:
    ws = standin.workspace
    method, matcher, after = HOLDS[when]
    ws.delay(method, HOLD_SECONDS, times=1, when=matcher(ws), after=after)
    async with bot_server(database_url, standin, tmp_path, oncall=POLICY) as server:
        await declare_sev1(server, f"Checkout down {when}")
        # The kill lands while the step's call is held; the channel is set up meanwhile (page first, set-up
        # in parallel): a kill before it exists would test the declare's own resume, not the step's.
        await eventually(
            lambda: ws.held(method) and any(c.name.startswith("inc-") for c in ws.channels.values()),
            timeout=20,
        )
        await server.kill()
        await server.start()

        def exhausted() -> bool:
            return any("policy has run out" in text for text in incident_channel_texts(ws))

        await eventually(exhausted, timeout=60)
        await eventually(lambda: steps_finished(sessions), timeout=60)  # the killed step's lease ran out
        assert len(page_dms(ws, BOB)) == 1, [m.text for m in page_dms(ws, BOB)]
        assert len(page_dms(ws, CAROL)) == 1
