"""Status updates: `/incident update` or the "Post update" button → form → preview → post."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError, UpdateDraft
from bot.messages import update_preview
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand


@subcommand("update", "update", "Post a status update (form with preview)", needs_incident=True)
async def update_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    deps.incidents.check_open(inv.incident, "post updates")
    await ack()
    await deps.slack.open_view(inv.trigger_id, modals.update_view(deps.config, inv.incident))


def _draft(form: Form) -> UpdateDraft:
    return UpdateDraft(
        status=form.choice("status") or "",
        known=form.text("known"),
        doing=form.text("doing"),
        next_update_minutes=form.number("next_update"),
        audiences=tuple(form.choices("audiences")),
    )


def _digest(draft: UpdateDraft) -> str:
    return hashlib.sha256(json.dumps(draft.__dict__, sort_keys=True).encode()).hexdigest()[:16]


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action("incident_post_update")
    async def button(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        incident = await deps.incidents.get(incident_id_of(action.get("value")) or 0)
        await deps.slack.open_view(body["trigger_id"], modals.update_view(deps.config, incident))

    @app.view(modals.UPDATE)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta, user, draft = modals.metadata(view), body["user"]["id"], _draft(Form(view))
        try:
            incident = await deps.incidents.get(incident_id_of(meta.get("incident_id")) or 0)
            draft = deps.incidents.validate_update(draft)
            rendered = deps.incidents.render_update(incident, draft, user)
        except DomainError as exc:
            field = "audiences" if "audience" in str(exc) else "known"
            await ack_errors(ack, {field: str(exc)})
            return
        digest = _digest(draft)
        if meta.get("previewed") != digest:
            values = {**draft.__dict__, "audiences": list(draft.audiences)}
            preview = update_preview(rendered)
            await ack(
                response_action="update",
                view=modals.update_view(deps.config, incident, values, preview, {"previewed": digest}),
            )
            return
        await ack()
        if not await deps.incidents.claim(view_key(view)):
            return
        await run_after_ack(
            deps, user, incident.channel_id, deps.incidents.post_update(incident.id, draft, user)
        )
