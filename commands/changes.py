"""Status, severity and role changes: subcommands with arguments, or buttons that open a small form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError, Incident
from bot.integrations.slack import mentioned_users
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand


@subcommand(
    "status",
    "status [investigating|identified|mitigated|monitoring]",
    "Change the status",
    needs_incident=True,
)
async def status_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    if not inv.args:
        await ack()
        await deps.slack.open_view(inv.trigger_id, modals.status_view(deps.config, inv.incident))
        return
    deps.incidents.check_status(inv.incident, inv.args)
    await ack()
    await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.incidents.set_status(inv.incident.id, inv.args, inv.user_id),
        inv.response_url,
    )


@subcommand(
    "severity",
    "severity [SEV1-SEV4] [reclassify]",
    "Raise or lower the severity (`reclassify` confirms it for a resolved incident)",
    needs_incident=True,
)
async def severity_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    if not inv.args:
        await ack()
        await deps.slack.open_view(inv.trigger_id, modals.severity_view(deps.config, inv.incident))
        return
    severity, _, confirm = inv.args.partition(" ")
    reclassify = confirm.strip().lower() == "reclassify"
    deps.incidents.check_severity(inv.incident, severity, reclassify)
    await ack()
    await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.incidents.set_severity(inv.incident.id, severity, inv.user_id, reclassify),
        inv.response_url,
    )


@subcommand(
    "assign",
    "assign <role> @user",
    "Give someone a role (IC, comms lead, scribe, ops lead)",
    needs_incident=True,
)
async def assign_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    if not inv.args:
        await ack()
        await deps.slack.open_view(inv.trigger_id, modals.assign_view(deps.config, inv.incident))
        return
    role_text, _, who = inv.args.rpartition(" ")
    users = mentioned_users(who)
    user = users[0] if users else (await deps.slack.find_user(who) if who.startswith("@") else None)
    if not role_text or user is None:
        raise DomainError(f"Usage: `/incident assign <role> @user` — could not find a person in {who!r}.")
    deps.incidents.check_role(inv.incident, role_text, user)
    await ack()
    await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.incidents.assign_role(inv.incident.id, role_text, user, inv.user_id),
        inv.response_url,
    )


def register(app: AsyncApp, deps: Deps) -> None:
    def opener(action_id: str, build: Callable[[Incident], dict[str, Any]]) -> None:
        @app.action(action_id)
        async def open_form(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            incident = await deps.incidents.get(incident_id_of(action.get("value")) or 0)
            await deps.slack.open_view(body["trigger_id"], build(incident))

    opener("incident_change_status", lambda i: modals.status_view(deps.config, i))
    opener("incident_change_severity", lambda i: modals.severity_view(deps.config, i))
    opener("incident_assign_role", lambda i: modals.assign_view(deps.config, i))

    fields = {modals.STATUS: "status", modals.SEVERITY: "severity", modals.ASSIGN: "user"}

    @app.view(modals.STATUS)
    @app.view(modals.SEVERITY)
    @app.view(modals.ASSIGN)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        form, user, kind, service = Form(view), body["user"]["id"], view["callback_id"], deps.incidents
        change: Callable[[], Awaitable[Any]]
        try:
            incident = await service.get(incident_id_of(modals.metadata(view).get("incident_id")) or 0)
            if kind == modals.STATUS:
                status = service.check_status(incident, form.choice("status") or "")
                change = partial(service.set_status, incident.id, status, user)
            elif kind == modals.SEVERITY:
                severity = service.check_severity(incident, form.choice("severity") or "").id
                change = partial(service.set_severity, incident.id, severity, user)
            else:
                role, person = form.choice("role") or "", form.user("user") or ""
                service.check_role(incident, role, person)
                change = partial(service.assign_role, incident.id, role, person, user)
        except DomainError as exc:
            await ack_errors(ack, {fields[kind]: str(exc)})
            return
        await ack()
        if await service.claim(view_key(view)):
            await run_after_ack(deps, user, incident.channel_id, change())
