"""Resolving (form with the resolution summary) and reopening."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand


@subcommand(
    "resolve",
    "resolve [summary]",
    "Resolve the incident (asks for a resolution summary)",
    needs_incident=True,
)
async def resolve_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    if inv.incident.status == deps.config.resolved_status:
        raise DomainError(f"{inv.incident.reference} is already resolved.")
    await ack()
    await deps.slack.open_view(inv.trigger_id, modals.resolve_view(inv.incident, inv.args))


@subcommand(
    "reopen", "reopen", "Reopen a resolved incident (it goes back to the first status)", needs_incident=True
)
async def reopen_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    if inv.incident.status != deps.config.resolved_status:
        raise DomainError(f"{inv.incident.reference} is not resolved, so there is nothing to reopen.")
    await ack(text=f":arrows_counterclockwise: Reopening {inv.incident.reference}…")
    await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.incidents.reopen(inv.incident.id, inv.user_id),
        inv.response_url,
    )


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action("incident_resolve")
    async def resolve_button(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        incident = await deps.incidents.get(incident_id_of(action.get("value")) or 0)
        await deps.slack.open_view(body["trigger_id"], modals.resolve_view(incident))

    @app.action("incident_reopen")
    async def reopen_button(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user = body["user"]["id"]
        if await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
            incident_id = incident_id_of(action.get("value")) or 0
            await run_after_ack(
                deps, user, body.get("channel", {}).get("id"), deps.incidents.reopen(incident_id, user)
            )

    @app.view(modals.RESOLVE)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        try:
            incident = await deps.incidents.get(incident_id_of(modals.metadata(view).get("incident_id")) or 0)
            resolution = deps.incidents.check_resolve(incident, Form(view).text("resolution"))
        except DomainError as exc:
            await ack_errors(ack, {"resolution": str(exc)})
            return
        await ack()
        if await deps.incidents.claim(view_key(view)):
            await run_after_ack(
                deps, user, incident.channel_id, deps.incidents.resolve(incident.id, resolution, user)
            )
