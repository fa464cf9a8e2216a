"""Status updates: `/incident update` or the "Post update" button → form → preview → post.

The "Status page" audience adds the public fields after the first Preview (stage, public title, text,
component statuses, prefilled from the stage's template) and shows exactly what the public will read; the
post then goes to the status page directly, or to the Incident Commander for approval.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError, Incident, UpdateDraft
from bot.messages import MODAL_BLOCKS, update_preview
from bot.statuspage import messages as public_ui
from bot.statuspage.model import PublicDraft
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, tell, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand
from commands.statuspage_forms import has_public_fields, public_fields, read_public


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
        audiences=tuple(a for a in form.choices("audiences") if a != modals.STATUS_PAGE),
    )


def _digest(draft: UpdateDraft, public: PublicDraft | None) -> str:
    both = {"internal": draft.__dict__, "public": asdict(public) if public else None}
    return hashlib.sha256(json.dumps(both, sort_keys=True).encode()).hexdigest()[:16]


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def _public_draft(
    deps: Deps, incident: Incident, form: Form, status: str, meta: dict[str, Any]
) -> PublicDraft:
    """The public fields as typed, or (first Preview) the stage's template with the components preselected.
    A text nobody changed follows the template when the stage or the components change."""
    if not has_public_fields(form):
        return await deps.statuspage.default_draft(
            incident, deps.statuspage.public_status(replace(incident, status=status))
        )
    typed = read_public(form, deps.config, await deps.statuspage.components_of(incident))
    if meta.get("template") == _text_digest(typed.body):
        return replace(typed, body=deps.statuspage.stage_text(typed.status, typed.components))
    return typed


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action("incident_post_update")
    async def button(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        incident = await deps.incidents.get(incident_id_of(action.get("value")) or 0)
        await deps.slack.open_view(body["trigger_id"], modals.update_view(deps.config, incident))

    @app.view(modals.UPDATE)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta, user, form = modals.metadata(view), body["user"]["id"], Form(view)
        draft, wants_public = _draft(form), modals.STATUS_PAGE in form.choices("audiences")
        public: PublicDraft | None = None
        try:
            incident = await deps.incidents.get(incident_id_of(meta.get("incident_id")) or 0)
            if draft.audiences or not wants_public:
                draft = deps.incidents.validate_update(draft)
            rendered = deps.incidents.render_update(incident, draft, user) if draft.audiences else {}
        except DomainError as exc:
            field = "audiences" if "audience" in str(exc) else "known"
            await ack_errors(ack, {field: str(exc)})
            return
        if wants_public:
            try:
                deps.statuspage.check_public(incident)
            except DomainError as exc:
                await ack_errors(ack, {"audiences": str(exc)})
                return
            public = await _public_draft(deps, incident, form, draft.status, meta)
            try:
                public = deps.statuspage.validate(incident, public)
            except DomainError as exc:
                if has_public_fields(form):
                    await ack_errors(ack, {"public_body": str(exc)})
                    return
        digest = _digest(draft, public)
        if meta.get("previewed") != digest:
            values = {
                **draft.__dict__,
                "audiences": list(draft.audiences) + ([modals.STATUS_PAGE] if wants_public else []),
            }
            blocks = update_preview(rendered, MODAL_BLOCKS - 40) if rendered else []
            fields = None
            if public is not None:
                needs_approval = not deps.statuspage.may_approve(incident, user)
                blocks += public_ui.preview(
                    public, deps.statuspage.names(), deps.statuspage.impact(incident), needs_approval
                )
                fields = public_fields(deps.config, public)
            shown = {"previewed": digest}
            if public is not None and public.body == deps.statuspage.stage_text(
                public.status, public.components
            ):
                shown["template"] = _text_digest(public.body)
            await ack(
                response_action="update",
                view=modals.update_view(deps.config, incident, values, blocks, shown, fields),
            )
            return
        await ack()
        key = view_key(view)
        if not await deps.incidents.claim(key):
            return
        if draft.audiences:
            await run_after_ack(
                deps, user, incident.channel_id, deps.incidents.post_update(incident.id, draft, user)
            )
        if public is not None:
            outcome = await run_after_ack(
                deps, user, incident.channel_id, deps.statuspage.submit(incident.id, public, user, key)
            )
            if outcome is not None and not outcome.published:
                await tell(deps, user, incident.channel_id, f":hourglass: {outcome.said}")
