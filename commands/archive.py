"""The archive notice's Keep button: the resolved incident's channel stays another N days."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.channel_messages import ARCHIVE_KEEP, archive_kept, two_ids
from commands.common import run_after_ack, show_message
from commands.deps import Deps
from commands.registry import Ack


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ARCHIVE_KEEP)
    async def keep(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        if not await deps.incidents.claim(f"archive-keep-click:{user}:{action.get('action_ts')}"):
            return  # Slack's retry of a click already handled
        ids = two_ids(action.get("value"))
        if ids is None:
            return
        kept = await run_after_ack(
            deps, user, channel, deps.archiver.keep(*ids, user), body.get("response_url")
        )
        if kept and channel:
            incident, until = kept
            message = archive_kept(incident, user, until, deps.config)
            await show_message(deps, channel, body.get("container", {}).get("message_ts"), message)
