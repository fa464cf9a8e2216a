"""What workflows show in Slack: a failed action with its Retry button, and `/incident workflows`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain import Incident
from bot.formatting import escape_mrkdwn
from bot.messages import Message, button, context, section, truncate
from bot.settings import IncidentSettings
from bot.templating import slack_time

ACTION_RETRY = "workflow_retry"
"""The Retry button of a failed action; its value is the failure's timeline event id."""
LIST_LIMIT = 40


@dataclass(frozen=True)
class Ran:
    """One action's result as the timeline has it."""

    workflow: str
    text: str
    ok: bool
    at: datetime


@dataclass(frozen=True)
class Pending:
    workflow: str
    due_at: datetime
    what: str


def step_failed(workflow: str, what: str, error: str, failure_event_id: int) -> Message:
    said = f"could not {escape_mrkdwn(what)}: {escape_mrkdwn(error)}"
    text = truncate(f":warning: Workflow *{escape_mrkdwn(workflow)}*: {said}", 2900)
    return Message(
        text,
        [
            section(text),
            {
                "type": "actions",
                "block_id": f"workflow_retry_{failure_event_id}",
                "elements": [button("Retry", ACTION_RETRY, str(failure_event_id), style="primary")],
            },
        ],
    )


def retried(user: str, workflow: str, what: str) -> Message:
    text = f":repeat: <@{user}> retried workflow *{escape_mrkdwn(workflow)}*: {escape_mrkdwn(what)}"
    return Message(text, [section(text)])


def workflows_report(
    incident: Incident, ran: Sequence[Ran], pending: Sequence[Pending], config: IncidentSettings
) -> Message:
    """`/incident workflows`: what ran (from the timeline) and what is still scheduled (pending timers)."""
    lines = [f"*Workflows of {incident.reference}*"]
    if ran:
        lines.append("*Ran*")
        for item in list(ran)[-LIST_LIMIT:]:
            mark = ":white_check_mark:" if item.ok else ":x:"
            lines.append(f"{mark} {slack_time(item.at, config)} {escape_mrkdwn(item.text)}")
    else:
        lines.append("No workflow has run for this incident.")
    if pending:
        lines.append("*Scheduled*")
        lines += [
            f":hourglass_flowing_sand: {slack_time(p.due_at, config)} {escape_mrkdwn(p.workflow)}: {p.what}"
            for p in list(pending)[:LIST_LIMIT]
        ]
    else:
        lines.append("Nothing is scheduled.")
    text = truncate("\n".join(lines), 2900)
    return Message(text, [section(text), context("Every action's result is on the timeline.")])
