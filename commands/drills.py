"""`/incident drill <scenario> [@participants]` starts a practice incident; `/incident drill stop` (in the
drill's channel) ends it and posts the scorecard; the game-day reminder's Start button starts one too.

A retried delivery of the same command (same trigger) starts nothing new: the drill is declared once per
trigger id, like the declare form once per view."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError
from bot.drills.messages import ACTION_START
from bot.integrations.slack import mentioned_users
from commands.common import run_after_ack, tell
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand

USAGE = "drill <scenario> [@participants] | drill stop"


@subcommand("drill", USAGE, "Practise: run a scripted drill (never mistaken for a real incident)")
async def drill_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    words = inv.args.split()
    if not words:
        known = ", ".join(f"`{n}`" for n in sorted(deps.drills.scenarios)) or "none"
        raise DomainError(f"Usage: `/incident {USAGE}`. Scenarios: {known}.")
    if words[0] == "stop":
        incident = inv.incident or await deps.incidents.in_channel(inv.channel_id)
        if incident is None:
            raise DomainError("Type `/incident drill stop` in the drill's channel.")
        await ack(text=":checkered_flag: Ending the drill; the scorecard follows.")
        await run_after_ack(deps, inv.user_id, inv.channel_id, deps.drills.stop(incident.id, inv.user_id))
        return
    scenario = deps.drills.scenario(words[0])
    participants = mentioned_users(" ".join(words[1:]))
    await ack(text=f":test_tube: Starting the drill *{scenario.title}*…")
    started = await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.drills.start(scenario.name, participants, inv.user_id, f"drill:{inv.trigger_id}"),
        inv.response_url,
    )
    if started is not None:
        where = f"<#{started.channel_id}>" if started.channel_id else "its channel (being created)"
        await tell(
            deps,
            inv.user_id,
            inv.channel_id,
            f":test_tube: Drill {started.reference} runs in {where}.",
            inv.response_url,
        )


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_START)
    async def start(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        scenario, _, named = str(action.get("value") or "").partition("|")
        key = f"drill:{body.get('container', {}).get('message_ts')}"  # one drill per reminder
        work = deps.drills.start(scenario, [u for u in named.split(",") if u], user, key)
        await run_after_ack(deps, user, channel, work)
