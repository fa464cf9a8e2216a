"""Runbooks from Slack: `/incident runbook [name]`, the checklist's Run / Done / Skip buttons, the
parameter form of a command step, and Approve / Reject of a dangerous one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError
from bot.messages import notice
from bot.runbooks import messages as ui
from bot.runbooks.params import ParamError, resolve_params
from commands import modals
from commands.common import ack_errors, run_after_ack, show_message, tell, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand


@subcommand("runbook", "runbook [name]", "List runbooks, or post one as a checklist", needs_incident=True)
async def runbook_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    if not inv.args:
        message = ui.runbook_list(await deps.runbooks.available(inv.incident), inv.incident.reference)
        await ack(text=message.text, blocks=message.blocks)
        return
    deps.runbooks.runbook(inv.args)  # unknown name: said at once, in the ack
    await ack(text=f":clipboard: Posting runbook `{inv.args}`…")
    await run_after_ack(
        deps,
        inv.user_id,
        inv.channel_id,
        deps.runbooks.post(inv.incident.id, inv.args, inv.user_id),
        inv.response_url,
    )


def register(app: AsyncApp, deps: Deps) -> None:
    service = deps.runbooks

    def on_step(action_id: str, act: Callable[[int, str, str], Awaitable[str]]) -> None:
        @app.action(action_id)
        async def handle(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            user, channel = body["user"]["id"], body.get("channel", {}).get("id")
            target = ui.parse_step_value(action.get("value"))
            if target is None or not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
                return
            reply_to = body.get("response_url")  # works for people outside the channel, unlike an ephemeral
            result = await run_after_ack(deps, user, channel, act(*target, user), reply_to)
            if result and action_id in (ui.ACTION_APPROVE, ui.ACTION_REJECT) and channel:
                verb = "approved" if action_id == ui.ACTION_APPROVE else "rejected"
                text = f"<@{user}> {verb}: {result}"
                await show_message(deps, channel, body.get("message", {}).get("ts"), notice(text))

    on_step(ui.ACTION_DONE, lambda run, step, user: service.mark(run, step, user, "done"))
    on_step(ui.ACTION_SKIP, lambda run, step, user: service.mark(run, step, user, "skipped"))
    on_step(ui.ACTION_APPROVE, service.approve)
    on_step(ui.ACTION_REJECT, service.reject)

    @app.action(ui.ACTION_RUN)
    async def run_step(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        target = ui.parse_step_value(action.get("value"))
        if target is None:
            return
        try:
            _, _, _, step = await service.locate(*target)
        except DomainError as exc:
            await tell(deps, user, channel, f":warning: {exc}", body.get("response_url"))
            return
        if step.params:  # the form first; trigger_id is valid for 3 s
            await deps.slack.open_view(body["trigger_id"], modals.runbook_params_view(step, target[0]))
            return
        if await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
            running = service.request_run(*target, user, {}, ui.seen_runs(action.get("value")))
            await run_after_ack(deps, user, channel, running, body.get("response_url"))

    @app.action(ui.ACTION_OPEN)
    async def open_runbook(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id") or ""
        incident = await deps.incidents.in_channel(channel)
        if incident is None or not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
            return
        await run_after_ack(deps, user, channel, service.post(incident.id, str(action.get("value")), user))

    @app.view(modals.RUNBOOK_PARAMS)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta, user = modals.metadata(view), body["user"]["id"]
        form = Form(view)
        try:
            incident, _, _, step = await service.locate(int(meta.get("run_id", 0)), str(meta.get("step_id")))
        except DomainError as exc:
            await ack(response_action="update", view=modals.progress_view("Run step", f":warning: {exc}"))
            return
        given = {name: (form.choice(name) or form.text(name)) for name in step.params}
        try:
            resolve_params(step, given)
        except ParamError as exc:
            await ack_errors(ack, {exc.name: exc.message})
            return
        await ack()
        if await deps.incidents.claim(view_key(view)):
            await run_after_ack(
                deps,
                user,
                incident.channel_id,
                service.request_run(int(meta["run_id"]), step.id, user, given),
            )
