"""`/incident catchup [post]`: the catch-up for a late joiner, to them alone or posted in the channel."""

from __future__ import annotations

from commands.common import run_after_ack, send_to_user
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand


@subcommand(
    "catchup",
    "catchup [post]",
    "Catch up on the incident: state, impact, last update, roles, open actions, what is due (`post`: "
    "to the channel)",
    needs_incident=True,
)
async def catchup_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    await ack()
    message = await run_after_ack(
        deps, inv.user_id, inv.channel_id, deps.catchups.message(inv.incident.id), inv.response_url
    )
    if message is None:
        return
    if inv.args.strip().lower() == "post":
        await run_after_ack(
            deps, inv.user_id, inv.channel_id, deps.slack.post(inv.channel_id, message), inv.response_url
        )
    else:
        await send_to_user(deps, inv.user_id, inv.channel_id, message, inv.response_url)
