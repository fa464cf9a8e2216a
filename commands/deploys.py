"""`/incident changes [hours]` (what changed before this incident), the Suspected cause button, and the
rollback offer that follows it. The mark is recorded once per incident and deploy (double clicks,
Slack's retries and other replicas add nothing)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.changes.messages import ACTION_ROLL_BACK, ACTION_SUSPECT
from bot.domain import DomainError
from commands.common import incident_id_of, run_after_ack, send_to_user
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand

USAGE = "changes [hours]"
MAX_HOURS = 24 * 30


@subcommand("changes", USAGE, "What changed (deploys) before this incident", True)
async def changes_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    words = inv.args.split()
    if len(words) > 1 or (words and not (words[0].isdigit() and 0 < int(words[0]) <= MAX_HOURS)):
        raise DomainError(f"Usage: `/incident {USAGE}`, hours a whole number from 1 to {MAX_HOURS}.")
    await ack()
    window = timedelta(hours=int(words[0])) if words else None
    message = await run_after_ack(
        deps, inv.user_id, inv.channel_id, deps.changes.what_changed(inv.incident, window), inv.response_url
    )
    if message is not None:
        await send_to_user(deps, inv.user_id, inv.channel_id, message, inv.response_url)


def register(app: AsyncApp, deps: Deps) -> None:
    async def _incident_and_deploy(body: dict[str, Any], action: dict[str, Any]) -> tuple[int, int] | None:
        incident = await deps.incidents.in_channel(body.get("channel", {}).get("id") or "")
        deploy_id = incident_id_of(action.get("value"))
        return (incident.id, deploy_id) if incident and deploy_id is not None else None

    @app.action(ACTION_SUSPECT)
    async def suspect(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        found = await _incident_and_deploy(body, action)
        if found is not None:
            user, channel = body["user"]["id"], body.get("channel", {}).get("id")
            await run_after_ack(deps, user, channel, deps.changes.suspect(*found, user))

    @app.action(ACTION_ROLL_BACK)
    async def roll_back(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        found = await _incident_and_deploy(body, action)
        if found is not None:
            user, channel = body["user"]["id"], body.get("channel", {}).get("id")
            await run_after_ack(deps, user, channel, deps.changes.roll_back(*found, user))
