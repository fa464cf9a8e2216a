"""The status page in Slack: Approve / Edit / Reject of a public update someone other than the Incident
Commander wrote, and `/incident maintenance` (schedule, list, cancel planned maintenance)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError
from bot.statuspage import messages as ui
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, tell, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand
from commands.statuspage_forms import EDIT, MAINTENANCE, edit_view, maintenance_view, read_public

MAINTENANCE_USAGE = "maintenance [list | cancel <number>]"


@subcommand("maintenance", MAINTENANCE_USAGE, "Schedule planned maintenance on the status page (form)")
async def maintenance_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    words = inv.args.split()
    if not deps.statuspage.enabled:
        raise DomainError("The status page is not enabled (`status_page.enabled` in the config).")
    if words[:1] == ["list"]:
        found = await deps.statuspage.maintenances()
        lines = [f"#{m.id} *{m.title}*: {deps.statuspage.window(m)}" for m in found]
        await ack(text="\n".join(lines) if lines else "No maintenance is scheduled.")
        return
    if words[:1] == ["cancel"]:
        number = incident_id_of(words[1].lstrip("#")) if len(words) == 2 else None
        if number is None:
            raise DomainError(f"Usage: `/incident {MAINTENANCE_USAGE}`")
        cancelled = await deps.statuspage.cancel_maintenance(number, inv.user_id)
        await ack(text=f":wrench: Maintenance #{cancelled.id} ({cancelled.title}) is cancelled.")
        return
    if words:
        raise DomainError(f"Usage: `/incident {MAINTENANCE_USAGE}`")
    await ack()
    await deps.slack.open_view(inv.trigger_id, maintenance_view(deps.config))


def _moment(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def register(app: AsyncApp, deps: Deps) -> None:
    service = deps.statuspage

    def decision(action_id: str, decide: Any) -> None:
        @app.action(action_id)
        async def clicked(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            user, channel = body["user"]["id"], body.get("channel", {}).get("id")
            if not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
                return
            outcome = await run_after_ack(
                deps, user, channel, decide(incident_id_of(action.get("value")) or 0, user)
            )
            if outcome is not None and outcome.problems:
                await tell(deps, user, channel, ":warning: " + " ".join(outcome.problems))

    decision(ui.ACTION_APPROVE, service.approve)
    decision(ui.ACTION_REJECT, service.reject)

    @app.action(ui.ACTION_EDIT)
    async def edit(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        try:
            incident, update = await service.pending_for(incident_id_of(action.get("value")) or 0, user)
        except DomainError as exc:
            await tell(deps, user, channel, f":warning: {exc}")
            return
        await deps.slack.open_view(body["trigger_id"], edit_view(deps.config, update, incident.reference))

    @app.view(EDIT)
    async def edited(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, form = body["user"]["id"], Form(view)
        update_id = incident_id_of(modals.metadata(view).get("update_id")) or 0
        try:
            incident, update = await service.pending_for(update_id, user)
            previous = await service.components_of(incident)
            draft = service.validate(
                incident, read_public(form, deps.config, {**previous, **update.components})
            )
        except DomainError as exc:
            await ack_errors(ack, {"public_body": str(exc)})
            return
        await ack()
        if await deps.incidents.claim(view_key(view)):
            await run_after_ack(deps, user, incident.channel_id, service.approve(update_id, user, draft))

    @app.view(MAINTENANCE)
    async def scheduled(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, form = body["user"]["id"], Form(view)
        title, components = form.text("title"), form.choices("components")
        starts, ends = _moment(form.date_time("starts")), _moment(form.date_time("ends"))
        errors = service.check_maintenance(title, components, starts, ends)
        if errors:
            await ack_errors(ack, errors)
            return
        await ack()
        key = view_key(view)
        if not await deps.incidents.claim(key):
            return
        assert starts is not None and ends is not None
        added = await run_after_ack(
            deps,
            user,
            None,
            service.add_maintenance(title, form.text("body"), components, starts, ends, user, "slack", key),
        )
        if added is not None:
            await _dm(deps, user, ui.maintenance_scheduled(added, service.window(added), service.names()))


async def _dm(deps: Deps, user: str, message: Any) -> None:
    try:
        await deps.slack.direct_message(user, message)
    except Exception as exc:  # the maintenance is scheduled; only the confirmation is lost
        deps.log.warning("could not confirm the maintenance to %s: %s", user, exc)
