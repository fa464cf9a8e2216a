"""Post-mortems from Slack: `/incident postmortem [edit|publish]`, the form, and the offer's buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.postmortem import nudges
from commands import modals
from commands.common import ack_errors, incident_id_of, run_after_ack, tell, view_key
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand


@subcommand(
    "postmortem",
    "postmortem [edit|publish]",
    "Compile the post-mortem from the timeline; write its story; publish it",
    needs_incident=True,
)
async def postmortem_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    what = inv.args.lower()
    if what == "edit":
        incident, narrative = await deps.postmortems.narrative(inv.incident.id)
        await ack()
        await deps.slack.open_view(inv.trigger_id, modals.postmortem_view(incident, narrative))
        return
    if what not in ("", "publish"):
        await ack(text="Usage: `/incident postmortem` (show the draft), `… edit`, `… publish`.")
        return
    if what == "publish" and await ask_before_publishing(deps, inv.incident.id, ack):
        return
    await ack(text=":hourglass_flowing_sand: Compiling the post-mortem…")
    work = deps.postmortems.publish if what == "publish" else lambda i, _u: deps.postmortems.show_draft(i)
    result = await run_after_ack(
        deps, inv.user_id, inv.channel_id, work(inv.incident.id, inv.user_id), inv.response_url
    )
    if result:
        await tell(deps, inv.user_id, inv.channel_id, result, inv.response_url)


async def ask_before_publishing(deps: Deps, incident_id: int, answer: Ack) -> bool:
    """True when sections are empty: the person is shown which, with "Publish anyway", instead."""
    empty = await deps.postmortems.unwritten(incident_id)
    if not empty:
        return False
    incident = await deps.incidents.get(incident_id)
    assert incident is not None
    message = nudges.confirm_publish(incident, empty)
    await answer(text=message.text, blocks=message.blocks)
    return True


def narrative_of(form: Form) -> dict[str, Any]:
    sections: dict[str, Any] = {key: form.text(key) for key, _, _ in modals.POSTMORTEM_TEXTS}
    sections["whys"] = [form.text(f"why{n + 1}") for n in range(modals.WHYS)]
    while sections["whys"] and not sections["whys"][-1]:
        sections["whys"].pop()
    started = form.date_time("impact_started_at")
    sections["impact_started_at"] = datetime.fromtimestamp(started, UTC).isoformat() if started else None
    return sections


def register(app: AsyncApp, deps: Deps) -> None:
    service = deps.postmortems

    @app.action(nudges.ACTION_EDIT)
    async def edit(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        incident, narrative = await service.narrative(incident_id_of(action.get("value")) or 0)
        await deps.slack.open_view(body["trigger_id"], modals.postmortem_view(incident, narrative))

    def on_button(action_id: str, act: Callable[[int, str], Awaitable[str]]) -> None:
        @app.action(action_id)
        async def handle(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            user, channel = body["user"]["id"], body.get("channel", {}).get("id")
            if not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
                return
            doing = act(incident_id_of(action.get("value")) or 0, user)
            result = await run_after_ack(deps, user, channel, doing, body.get("response_url"))
            if result:
                await tell(deps, user, channel, result, body.get("response_url"))

    on_button(nudges.ACTION_SHOW, lambda incident, _user: service.show_draft(incident))
    on_button(nudges.ACTION_IN_REVIEW, service.request_review)
    on_button(nudges.ACTION_REVIEWED, service.mark_reviewed)
    on_button(nudges.ACTION_PUBLISH_ANYWAY, service.publish)

    @app.action(nudges.ACTION_PUBLISH)
    async def publish(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        incident_id = incident_id_of(action.get("value")) or 0
        if not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
            return

        async def ephemeral(**message: Any) -> None:
            await respond(response_type="ephemeral", replace_original=False, **message)

        if await ask_before_publishing(deps, incident_id, ephemeral):
            return
        result = await run_after_ack(
            deps, user, channel, service.publish(incident_id, user), body.get("response_url")
        )
        if result:
            await tell(deps, user, channel, result, body.get("response_url"))

    @app.view(modals.POSTMORTEM)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        incident_id = incident_id_of(modals.metadata(view).get("incident_id")) or 0
        started = Form(view).date_time("impact_started_at")
        if started is not None:
            incident = await deps.incidents.get(incident_id)
            errors = deps.incidents.check_impact(incident, datetime.fromtimestamp(started, UTC))
            if errors:
                await ack_errors(ack, errors)
                return
        await ack()
        user = body["user"]["id"]
        if not await deps.incidents.claim(view_key(view)):
            return
        result = await run_after_ack(
            deps, user, None, service.write(incident_id, narrative_of(Form(view)), user)
        )
        if result:
            incident = await deps.incidents.get(incident_id)
            await tell(deps, user, incident.channel_id, result)
