"""Transfer of command: `/incident transfer @user`, the summary's Transfer command button (a small form),
and the new IC's Accept / Decline buttons."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.channel_messages import (
    ACTION_TRANSFER,
    TRANSFER_ACCEPT,
    TRANSFER_DECLINE,
    transfer_answered,
    two_ids,
)
from bot.domain import DomainError
from bot.integrations.slack import mentioned_users
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, show_message, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand


@subcommand(
    "transfer",
    "transfer @user",
    "Hand over command: the new Incident Commander accepts or declines (form without a name)",
    needs_incident=True,
)
async def transfer_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    if not inv.args:
        deps.incidents.check_open(inv.incident, "transfer command")
        await ack()
        await deps.slack.open_view(inv.trigger_id, modals.transfer_view(inv.incident))
        return
    users = mentioned_users(inv.args)
    user = users[0] if users else (await deps.slack.find_user(inv.args) if inv.args.startswith("@") else None)
    if user is None:
        raise DomainError(f"Usage: `/incident transfer @user` — could not find a person in {inv.args!r}.")
    deps.transfers.check(inv.incident, user)
    await ack(text=f":hourglass_flowing_sand: Asking <@{user}> to take command…")
    await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.transfers.request(inv.incident.id, user, inv.user_id),
        inv.response_url,
    )


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_TRANSFER)
    async def open_form(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        incident = await deps.incidents.get(incident_id_of(action.get("value")) or 0)
        await deps.slack.open_view(body["trigger_id"], modals.transfer_view(incident))

    @app.view(modals.TRANSFER)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, person = body["user"]["id"], Form(view).user("user") or ""
        try:
            incident = await deps.incidents.get(incident_id_of(modals.metadata(view).get("incident_id")) or 0)
            deps.transfers.check(incident, person)
        except DomainError as exc:
            await ack_errors(ack, {"user": str(exc)})
            return
        await ack()
        if await deps.incidents.claim(view_key(view)):
            await run_after_ack(
                deps, user, incident.channel_id, deps.transfers.request(incident.id, person, user)
            )

    async def answer(body: dict[str, Any], action: dict[str, Any], accept: bool) -> None:
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        if not await deps.incidents.claim(f"transfer-click:{user}:{action.get('action_ts')}"):
            return  # Slack's retry of a click already handled
        ids = two_ids(action.get("value"))
        if ids is None:
            return
        said = await run_after_ack(
            deps, user, channel, deps.transfers.answer(*ids, user, accept), body.get("response_url")
        )
        if said and channel:
            await show_message(
                deps, channel, body.get("container", {}).get("message_ts"), transfer_answered(said)
            )

    @app.action(TRANSFER_ACCEPT)
    async def accept(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await answer(body, action, True)

    @app.action(TRANSFER_DECLINE)
    async def decline(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        await answer(body, action, False)
