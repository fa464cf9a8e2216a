"""Two bot replicas on one database, as a production deploy runs them: an escalation's steps are fired by
whichever replica claims them, and each person is paged exactly once, the policy running to its end."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.paging import ESCALATE
from bot.standin import RunningStandin, eventually
from bot.store.models import TimerRow
from tests.serve_process import bot_server
from tests.test_crash_paging import BOB, CAROL, declare_sev1, incident_channel_texts, page_dms

DAVE = "U0DAVE0000"
POLICY = {
    "escalation": {
        "SEV1": [
            {"notify": {"users": [BOB]}},
            {"wait": "1s"},
            {"notify": {"users": [CAROL]}},
            {"wait": "1s"},
            {"notify": {"users": [DAVE]}},
            {"wait": "1s"},
        ]
    }
}


async def test_two_replicas_share_an_escalation_and_page_nobody_twice(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    standin: RunningStandin,
    tmp_path: Path,
) -> None:
    ws = standin.workspace
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        bot_server(database_url, standin, tmp_path / "a", oncall=POLICY) as first,
        bot_server(database_url, standin, tmp_path / "b", oncall=POLICY),
    ):
        await declare_sev1(first, "Checkout down on two replicas")
        await eventually(
            lambda: any("policy has run out" in text for text in incident_channel_texts(ws)), timeout=60
        )
        async with sessions() as session:
            steps = (await session.scalars(select(TimerRow).where(TimerRow.kind == ESCALATE))).all()
        assert [len(page_dms(ws, user)) for user in (BOB, CAROL, DAVE)] == [1, 1, 1]
        assert sum("policy has run out" in text for text in incident_channel_texts(ws)) == 1
        assert len(steps) == 4 and all(step.status == "done" for step in steps)
