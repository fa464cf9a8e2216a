"""Follow-ups: `/incident action <text> [@owner] [due]` (or a form), `/incident actions`, Mark done."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError
from bot.postmortem.action_messages import ACTION_DONE, action_list
from bot.postmortem.action_text import ActionRequest, parse_action
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, tell, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand

EXPORT = re.compile(r"export\s+#?(\d+)\s+(github|jira)\s*$", re.IGNORECASE)


@subcommand(
    "action",
    "action <text> [@owner] [due] | action export <n> github|jira",
    "Record a follow-up (form without text), or open it as a GitHub or Jira issue",
    needs_incident=True,
)
async def action_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    export = EXPORT.match(inv.args)
    if export:
        await ack(text=f":hourglass_flowing_sand: Exporting action item #{export.group(1)}…")
        doing = deps.actions.export(int(export.group(1)), export.group(2).lower(), inv.user_id)
        result = await run_after_ack(deps, inv.user_id, inv.channel_id, doing, inv.response_url)
        if result:
            await tell(deps, inv.user_id, inv.channel_id, result, inv.response_url)
        return
    if not inv.args:
        await ack()
        await deps.slack.open_view(inv.trigger_id, modals.action_item_view(inv.incident))
        return
    request = parse_action(inv.args, deps.actions.today())
    await ack()
    item = await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.actions.add(inv.incident.id, request, inv.user_id),
        inv.response_url,
    )
    if item is not None:
        owner = f" for <@{item.owner}>" if item.owner else ""
        due = f", due {item.due.isoformat()}" if item.due else ""
        await tell(
            deps,
            inv.user_id,
            inv.channel_id,
            f":memo: Action item #{item.id}{owner}{due} recorded.",
            inv.response_url,
        )


@subcommand("actions", "actions", "Open follow-ups across incidents")
async def actions_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    message = action_list(await deps.actions.open_items(), deps.actions.today(), "Open action items")
    await ack(text=message.text, blocks=message.blocks)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_DONE)
    async def done(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        if not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
            return
        result = await run_after_ack(
            deps,
            user,
            channel,
            deps.actions.complete(incident_id_of(action.get("value")) or 0, user),
            body.get("response_url"),
        )
        if result:
            await tell(deps, user, channel, result, body.get("response_url"))

    @app.view(modals.ACTION_ITEM)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        form, user = Form(view), body["user"]["id"]
        incident_id = incident_id_of(modals.metadata(view).get("incident_id")) or 0
        picked = form.date("due")
        due = date.fromisoformat(picked) if picked else None
        text = form.text("text")
        errors = {}
        if not text:
            errors["text"] = "Say what needs doing."
        if due is not None and due < deps.actions.today():
            errors["due"] = "The due date is in the past."
        if errors:
            await ack_errors(ack, errors)
            return
        await ack()
        if await deps.incidents.claim(view_key(view)):
            try:
                incident = await deps.incidents.get(incident_id)
            except DomainError:
                return
            request = ActionRequest(text, form.user("owner"), due)
            await run_after_ack(deps, user, incident.channel_id, deps.actions.add(incident.id, request, user))
