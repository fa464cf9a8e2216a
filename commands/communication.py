"""The communication plan's buttons: Send now and Not needed on a deadline reminder, the call outcomes on
an enterprise call task. Each click is acted on once, however often Slack delivers it."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.communication import messages as ui
from bot.communication.plan import AudiencePlan
from bot.domain import AUDIENCES, Incident
from commands import modals
from commands.common import ack_errors, run_after_ack, tell, view_key
from commands.deps import Deps
from commands.forms import Form

CALL_BUTTON = re.compile(rf"^{ui.ACTION_CALL}_(called|no_answer|left_message)$")


def _form_audiences(deps: Deps, incident: Incident, plan: AudiencePlan) -> list[str] | None:
    """The update form's ticks that tell this audience, or None when the form has none for it."""
    if plan.audience.status_page:
        public = deps.config.status_page.enabled and not incident.private
        return [modals.STATUS_PAGE] if public else None
    if plan.name in AUDIENCES:
        return [plan.name]
    announcements = deps.config.channels.announcements
    if announcements and plan.audience.slack_channel == announcements:
        return ["announcements"]
    return None


async def _send_now(deps: Deps, body: dict[str, Any], key: str, incident_id: int, audience: str) -> None:
    user, channel = body["user"]["id"], body.get("channel", {}).get("id")
    incident = await deps.incidents.get(incident_id)
    deps.incidents.check_open(incident, "tell audiences")
    plan = await deps.communication.deadlines.plan(incident, audience)
    if plan.audience.call_list:
        if incident.channel_id:
            await deps.slack.post(incident.channel_id, deps.communication.deadlines.call_task(incident, plan))
        return
    ticks = _form_audiences(deps, incident, plan)
    if ticks is not None:
        values = {"audiences": ticks, "status": incident.status}
        await deps.slack.open_view(body["trigger_id"], modals.update_view(deps.config, incident, values))
        return
    await deps.communication.tell_now(incident.id, audience, key)
    await tell(deps, user, channel, f":mega: *{ui.label(plan)}* told.")


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ui.ACTION_SEND_NOW)
    async def send_now(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        parsed = ui.parse_plan_value(action.get("value"))
        user = body["user"]["id"]
        key = f"send_now:{user}:{action.get('action_ts')}"
        if parsed is None or not await deps.incidents.claim(key):
            return
        channel = body.get("channel", {}).get("id")
        await run_after_ack(deps, user, channel, _send_now(deps, body, key, *parsed))

    @app.action(ui.ACTION_NOT_NEEDED)
    async def not_needed(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        parsed = ui.parse_plan_value(action.get("value"))
        if parsed is None:
            return
        incident = await deps.incidents.get(parsed[0])
        await deps.slack.open_view(body["trigger_id"], ui.not_needed_view(incident, parsed[1]))

    @app.view(ui.NOT_NEEDED_VIEW)
    async def waived(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        parsed = ui.parse_plan_value(view.get("private_metadata"))
        reason = Form(view).text("reason")
        if not reason:
            await ack_errors(ack, {"reason": "Say why: it goes on the timeline and into the post-mortem."})
            return
        await ack()
        user = body["user"]["id"]
        if parsed is not None:
            work = deps.communication.deadlines.not_needed(*parsed, reason, user, view_key(view))
            await run_after_ack(deps, user, None, work)

    @app.action(CALL_BUTTON)
    async def called(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        parsed = ui.parse_call_value(action.get("value"))
        match = CALL_BUTTON.match(str(action.get("action_id")))
        if parsed is None or match is None:
            return
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        key = f"call:{user}:{action.get('action_ts')}"
        incident_id, audience, index = parsed
        deadlines = deps.communication.deadlines
        work = deadlines.record_call(incident_id, audience, index, match.group(1), user, key)
        result = await run_after_ack(deps, user, channel, work)
        ts = body.get("message", {}).get("ts") or body.get("container", {}).get("message_ts")
        if result is not None and channel and ts:
            incident, plan = result
            await run_after_ack(
                deps, user, channel, deps.slack.update(channel, ts, deadlines.call_task(incident, plan))
            )
