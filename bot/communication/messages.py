"""Block Kit for the communication plan: the summary's deadline line, the owner's reminder with its two
answers, the "Not needed" form and the enterprise call task."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.communication.plan import AudiencePlan
from bot.domain import CALL_OUTCOMES, Incident
from bot.formatting import escape_mrkdwn, human_duration, status_label, user_mention
from bot.messages import Message, button, context, header, section, text_sections, truncate
from bot.settings import IncidentSettings
from bot.templating import slack_time

ACTION_SEND_NOW = "communication_send_now"
ACTION_NOT_NEEDED = "communication_not_needed"
ACTION_CALL = "customer_call"
"""Prefix of the three call buttons: `customer_call_called`, `…_no_answer`, `…_left_message`."""
NOT_NEEDED_VIEW = "communication_not_needed"
SOON, DUE = "soon", "due"


def label(plan: AudiencePlan) -> str:
    name = status_label(plan.name)
    if plan.audience.status_page:
        return f"{name} (status page)"
    if plan.audience.call_list:
        return f"{name} (calls)"
    return name


def plan_value(incident_id: int, audience: str) -> str:
    return f"{incident_id}:{audience}"


def parse_plan_value(value: str | None) -> tuple[int, str] | None:
    incident, _, audience = (value or "").partition(":")
    return (int(incident), audience) if incident.isdigit() and audience else None


def status_text(plan: AudiencePlan, config: IncidentSettings, now: datetime) -> str:
    """ "Users due 10:15 (in 12 min)", "Management told 10:02 ✓, next by 10:32", "Legal not needed"."""
    name = f"*{escape_mrkdwn(label(plan))}*"
    if plan.waiver is not None:
        return f"{name} not needed"
    parts = []
    if plan.first_told is not None:
        parts.append(
            f"told {slack_time(plan.first_told, config)} {'✓' if plan.met_first is not False else '(late)'}"
        )
    if plan.due is not None:
        overdue = plan.overdue(now)
        when = slack_time(plan.due, config)
        verb = "next by" if plan.told else "due"
        if overdue is not None and overdue >= timedelta(minutes=1):
            parts.append(f":warning: {verb} {when}, *{human_duration(overdue)} overdue*")
        elif overdue is not None or plan.due == now:
            parts.append(f":warning: {verb} {when}, *due now*")
        else:
            parts.append(f"{verb} {when} (in {human_duration(plan.due - now)})")
    if plan.audience.call_list and plan.due is not None:
        reached = sum(
            1 for c in plan.audience.call_list if plan.calls.get(c.name) in ("called", "left_message")
        )
        parts.append(f"{reached}/{len(plan.audience.call_list)} called")
    return f"{name} {', '.join(parts)}" if parts else f"{name} not told"


def summary_line(plans: list[AudiencePlan], config: IncidentSettings, now: datetime) -> str | None:
    if not plans:
        return None
    return ":mega: " + " · ".join(status_text(plan, config, now) for plan in plans)


def reminder(
    incident: Incident,
    plan: AudiencePlan,
    owner: str | None,
    phase: str,
    config: IncidentSettings,
    now: datetime,
) -> Message:
    """Before the deadline ("due in 5 min") and at it ("due now"): who must act, for whom, and the two ways
    to answer in one click."""
    assert plan.due is not None
    who = user_mention(owner) if owner else "Incident Commander"
    what = "an update" if plan.told else "their first notice"
    when = slack_time(plan.due, config)
    if phase == SOON and plan.due > now:
        timing = f"by {when} (in {human_duration(plan.due - now)})"
    else:
        timing = f"now: it was due {when}"
    text = (
        f":mega: {who}, *{escape_mrkdwn(label(plan))}* should get {what} about "
        f"{incident.reference} ({escape_mrkdwn(incident.severity)}) {timing}."
    )
    value = plan_value(incident.id, plan.name)
    actions = {
        "type": "actions",
        "block_id": f"communication_due:{plan.name}",
        "elements": [
            button("Send now", ACTION_SEND_NOW, value, style="primary"),
            button("Not needed", ACTION_NOT_NEEDED, value),
        ],
    }
    return Message(text, [section(text), actions])


def not_needed_view(incident: Incident, audience: str, error: str | None = None) -> dict[str, Any]:
    reason: dict[str, Any] = {
        "type": "input",
        "block_id": "reason",
        "label": {"type": "plain_text", "text": "Why not?"},
        "element": {
            "type": "plain_text_input",
            "action_id": "value",
            "multiline": True,
            "max_length": 500,
            "placeholder": {"type": "plain_text", "text": "e.g. no customer-facing impact"},
        },
        "hint": {"type": "plain_text", "text": "Recorded on the timeline and in the post-mortem."},
    }
    intro = section(
        f"{incident.reference}: *{escape_mrkdwn(status_label(audience))}* will not be reminded again "
        "unless the severity rises."
    )
    return {
        "type": "modal",
        "callback_id": NOT_NEEDED_VIEW,
        "title": {"type": "plain_text", "text": "Not needed"},
        "submit": {"type": "plain_text", "text": "Record"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": plan_value(incident.id, audience),
        "blocks": [intro, reason],
    }


def call_task(
    incident: Incident, plan: AudiencePlan, script: str, owner: str | None, config: IncidentSettings
) -> Message:
    """The Customer Liaison's task: the script rendered for this incident, one line per customer with the
    last outcome, and the three outcome buttons (each click is a timeline event)."""
    who = user_mention(owner) if owner else "Customer Liaison"
    by = f" by {slack_time(plan.due, config)}" if plan.due and not plan.told else ""
    blocks: list[dict[str, Any]] = [
        header(truncate(f"Call customers about {incident.reference}", 150)),
        section(f":telephone_receiver: {who}, please call these customers{by}."),
        *text_sections(script, 4),
    ]
    for index, contact in enumerate(plan.audience.call_list[:20]):
        outcome = plan.calls.get(contact.name)
        owner_text = (
            f" · account owner {user_mention(contact.account_owner)}" if contact.account_owner else ""
        )
        last = f" — _{CALL_OUTCOMES.get(outcome, outcome)}_" if outcome else ""
        blocks.append(
            section(f"*{escape_mrkdwn(contact.name)}* · {escape_mrkdwn(contact.contact)}{owner_text}{last}")
        )
        value = f"{incident.id}:{plan.name}:{index}"
        blocks.append(
            {
                "type": "actions",
                "block_id": f"call:{index}",
                "elements": [
                    button(text, f"{ACTION_CALL}_{outcome_id}", value)
                    for outcome_id, text in (
                        ("called", "Called"),
                        ("no_answer", "No answer"),
                        ("left_message", "Left message"),
                    )
                ],
            }
        )
    if len(plan.audience.call_list) > 20:
        blocks.append(context(f"…and {len(plan.audience.call_list) - 20} more in the config's call list."))
    return Message(f"{incident.reference}: call {len(plan.audience.call_list)} customers", blocks)


def parse_call_value(value: str | None) -> tuple[int, str, int] | None:
    parts = (value or "").split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[0]), parts[1], int(parts[2])
