"""Paging from Slack: the Acknowledge / Escalate buttons of a page, and `/incident page`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError
from bot.integrations.slack import mentioned_users
from bot.oncall.messages import ACTION_ACK, ACTION_ESCALATE
from commands.common import incident_id_of, run_after_ack, tell
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand


@subcommand(
    "page",
    "page @user… | <schedule>",
    "Page people, or whoever is on call for a schedule",
    needs_incident=True,
)
async def page_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    users = mentioned_users(inv.args)
    words = inv.args.split()
    if not users and words and words[0].startswith("@"):
        found = [await deps.slack.find_user(word) for word in words]
        users = [user for user in found if user]
    schedule = words[0] if not users and len(words) == 1 and not words[0].startswith("@") else None
    if not users and schedule is None:
        raise DomainError("Usage: `/incident page @user [@user…]` or `/incident page <schedule>`.")
    await ack(text=f":pager: Paging {inv.args}…")
    result = await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.paging.page_by_hand(inv.incident.id, users, schedule, inv.user_id),
        inv.response_url,
    )
    if result:
        await tell(deps, inv.user_id, inv.channel_id, result, inv.response_url)


def register(app: AsyncApp, deps: Deps) -> None:
    def on_page_button(action_id: str, answer: Callable[[int, str], Awaitable[str]]) -> None:
        @app.action(action_id)
        async def handle(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            user, channel = body["user"]["id"], body.get("channel", {}).get("id")
            if not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
                return
            page_id = incident_id_of(action.get("value")) or 0
            result = await run_after_ack(deps, user, channel, answer(page_id, user))
            if result:
                await tell(deps, user, channel, result)

    on_page_button(ACTION_ACK, deps.paging.acknowledge_page)
    on_page_button(ACTION_ESCALATE, deps.paging.escalate_page)
