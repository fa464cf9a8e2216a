"""`/oncall [schedule]`: who is on call now, who is next, and when the hand-off is."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.oncall.messages import oncall_summary
from commands.deps import Deps
from commands.registry import Ack


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/oncall")
    async def oncall(ack: Ack, command: dict[str, Any]) -> None:
        wanted = (command.get("text") or "").strip()
        try:
            summaries = deps.paging.who_is_on_call(wanted or None)
        except LookupError as exc:
            await ack(text=f":warning: {exc}")
            return
        message = oncall_summary(summaries, deps.config)
        await ack(text=message.text, blocks=message.blocks)
