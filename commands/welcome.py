"""The first-five-minutes buttons: Join (announcement, source channel, page DM) and the checklist ticks."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import welcome as ui
from bot.messages import ACTION_JOIN
from commands.common import incident_id_of, run_after_ack, tell
from commands.deps import Deps


async def _join(deps: Deps, incident_id: int, user: str) -> str:
    incident = await deps.incidents.get(incident_id)
    if not incident.channel_id:
        return f"{incident.reference} has no channel yet; you will find it in the announcement once it has."
    if incident.private:
        return f"{incident.reference} is private: ask <@{incident.commander}> to add you."
    failed = await deps.slack.invite(incident.channel_id, [user])
    if failed:
        return (
            f"Could not add you to <#{incident.channel_id}> ({failed[user]}); join it from the channel list."
        )
    return f"You are in <#{incident.channel_id}>."


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_JOIN)
    async def join(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        incident_id = incident_id_of(action.get("value"))
        if incident_id is None:
            return
        said = await run_after_ack(deps, user, channel, _join(deps, incident_id, user))
        if said:
            await tell(deps, user, channel, said, body.get("response_url"))

    @app.action(ui.ACTION_TICK)
    async def tick(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        parsed = ui.parse_tick(action.get("value"))
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        if parsed is None or not await deps.incidents.claim(f"tick:{user}:{action.get('action_ts')}"):
            return
        await run_after_ack(deps, user, channel, deps.welcome.tick(*parsed, user), body.get("response_url"))
