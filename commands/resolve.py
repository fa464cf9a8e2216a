"""Resolving (form with the resolution summary) and reopening."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError, Incident
from bot.postmortem.action_text import ActionRequest
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, tell, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand
from commands.statuspage_forms import RESOLVED_TEXT, resolved_text_block


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
    await deps.slack.open_view(inv.trigger_id, await _resolve_view(deps, inv.incident, inv.args))


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
        await deps.slack.open_view(body["trigger_id"], await _resolve_view(deps, incident))

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
        user, form = body["user"]["id"], Form(view)
        try:
            incident = await deps.incidents.get(incident_id_of(modals.metadata(view).get("incident_id")) or 0)
            resolution = deps.incidents.check_resolve(incident, form.text("resolution"))
        except DomainError as exc:
            await ack_errors(ack, {"resolution": str(exc)})
            return
        started, ended = (
            _moment(form.date_time("impact_started_at")),
            _moment(form.date_time("impact_ended_at")),
        )
        errors = deps.incidents.check_impact(incident, started, ended) | _follow_up_errors(form, deps)
        public_text = form.text(RESOLVED_TEXT) if _has_block(view, RESOLVED_TEXT) else None
        if public_text is not None and not public_text:
            errors[RESOLVED_TEXT] = "The incident is on the status page: say publicly that it is resolved."
        if errors:
            await ack_errors(ack, errors)
            return
        await ack()
        if await deps.incidents.claim(view_key(view)):
            channel = incident.channel_id
            if await run_after_ack(
                deps, user, channel, deps.incidents.resolve(incident.id, resolution, user)
            ):
                await run_after_ack(
                    deps, user, channel, deps.postmortems.record_impact(incident.id, started, ended)
                )
                for request in _follow_ups(form, incident.reference):
                    await run_after_ack(deps, user, channel, deps.actions.add(incident.id, request, user))
                if public_text:
                    work = deps.statuspage.resolve_publicly(incident.id, public_text, user, view_key(view))
                    outcome = await run_after_ack(deps, user, channel, work)
                    if outcome is not None and not outcome.published:
                        await tell(deps, user, channel, f":hourglass: {outcome.said}")


async def _resolve_view(deps: Deps, incident: Incident, summary: str = "") -> dict[str, Any]:
    """The resolve form; with the status page's resolved text when the public knows of the incident."""
    text = await deps.statuspage.resolved_prefill(incident)
    return modals.resolve_view(incident, summary, resolved_text_block(text) if text is not None else None)


def _has_block(view: dict[str, Any], block_id: str) -> bool:
    return any(b.get("block_id") == block_id for b in view.get("blocks", []))


def _moment(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def _due(form: Form, block_id: str) -> date | None:
    picked = form.date(block_id)
    return date.fromisoformat(picked) if picked else None


def _follow_up_errors(form: Form, deps: Deps) -> dict[str, str]:
    errors, today = {}, deps.actions.today()
    for prefix in ("followup", "postmortem"):
        due = _due(form, f"{prefix}_due")
        if due is not None and due < today:
            errors[f"{prefix}_due"] = "The due date is in the past."
    if (form.user("followup_owner") or _due(form, "followup_due")) and not form.text("followup"):
        errors["followup"] = "Say what needs doing, or leave the owner and due date empty."
    if (form.user("postmortem_owner") or _due(form, "postmortem_due")) and form.choice("postmortem") == "no":
        errors["postmortem"] = "An owner or due date was given: choose “Post-mortem needed”."
    return errors


def _follow_ups(form: Form, reference: str) -> list[ActionRequest]:
    """The follow-up typed at close, and the post-mortem as one when it is needed (owner, due, reminders)."""
    requests = []
    if form.text("followup"):
        requests.append(
            ActionRequest(form.text("followup"), form.user("followup_owner"), _due(form, "followup_due"))
        )
    if form.choice("postmortem") == "yes":
        text = f"Write and publish the post-mortem of {reference}"
        requests.append(ActionRequest(text, form.user("postmortem_owner"), _due(form, "postmortem_due")))
    return requests
