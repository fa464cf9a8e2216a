"""`/incident workflows` (what ran, what is still scheduled) and the Retry button of a failed action."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.workflows.messages import ACTION_RETRY
from commands.common import incident_id_of, run_after_ack, send_to_user
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand


@subcommand(
    "workflows", "workflows", "What the workflows did for this incident, and what is still scheduled", True
)
async def workflows_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    await ack()
    message = await run_after_ack(
        deps, inv.user_id, inv.channel_id, deps.workflows.report(inv.incident.id), inv.response_url
    )
    if message is not None:
        await send_to_user(deps, inv.user_id, inv.channel_id, message, inv.response_url)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_RETRY)
    async def retry(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Acts once per failure: the retry's timer is keyed by the failure (double clicks, Slack's
        retries and other replicas add nothing)."""
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        incident = await deps.incidents.in_channel(channel or "")
        failure = incident_id_of(action.get("value"))
        if incident is None or failure is None:
            return
        await run_after_ack(deps, user, channel, deps.workflows.retry(incident.id, failure, user))
