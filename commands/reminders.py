"""The "Snooze 30 min" button of a status-update reminder."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.messages import ACTION_SNOOZE_REMINDER, notice
from bot.templating import slack_time
from commands.common import incident_id_of, run_after_ack, show_message
from commands.deps import Deps
from commands.registry import Ack


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_SNOOZE_REMINDER)
    async def snooze(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        if not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
            return
        until = await run_after_ack(
            deps, user, channel, deps.reminders.snooze(incident_id_of(action.get("value")) or 0, user)
        )
        if until is not None and channel:
            when = slack_time(until, deps.config)
            text = f":zzz: <@{user}> snoozed the update reminder until {when}."
            await show_message(deps, channel, body.get("message", {}).get("ts"), notice(text))
