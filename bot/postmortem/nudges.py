"""Block Kit for the post-mortem's life in the channel: the offer at resolution (and its buttons) and the
reminder when a stage is late."""

from __future__ import annotations

from bot.domain import Incident
from bot.messages import Message, button, section

ACTION_EDIT = "postmortem_edit"
ACTION_SHOW = "postmortem_show"
ACTION_REVIEWED = "postmortem_reviewed"
ACTION_IN_REVIEW = "postmortem_in_review"
ACTION_PUBLISH = "postmortem_publish"
ACTION_PUBLISH_ANYWAY = "postmortem_publish_anyway"

STAGE_TEXT = {
    "draft": "the post-mortem draft was due within a day of resolution",
    "review": "the post-mortem review meeting was due within three days of resolution",
    "publish": "the post-mortem was due to be published within a week of resolution",
}


def _buttons(incident: Incident) -> dict[str, object]:
    value = str(incident.id)
    return {
        "type": "actions",
        "block_id": "postmortem",
        "elements": [
            button("Draft post-mortem", ACTION_EDIT, value, style="primary"),
            button("Show draft", ACTION_SHOW, value),
            button("Ready for review", ACTION_IN_REVIEW, value),
            button("Publish", ACTION_PUBLISH, value),
            button("Mark reviewed", ACTION_REVIEWED, value),
        ],
    }


def offer(incident: Incident) -> Message:
    text = (
        f":memo: {incident.reference} is resolved. The post-mortem compiles itself from the timeline; "
        "write what only people know (summary, root cause, the five whys, lessons) with *Draft post-mortem*."
    )
    return Message(f"Post-mortem of {incident.reference}", [section(text), _buttons(incident)])


def overdue_stage(incident: Incident, stage: str) -> Message:
    who = f"<@{incident.commander}>" if incident.commander else "Incident Commander"
    text = f":alarm_clock: {who}, {STAGE_TEXT.get(stage, stage)} ({incident.reference})."
    return Message(
        f"Post-mortem of {incident.reference}: {stage} is late", [section(text), _buttons(incident)]
    )


def confirm_publish(incident: Incident, empty: list[str]) -> Message:
    """Publishing is for readers outside the team: say what they will find empty, and let people decide."""
    listed = ", ".join(empty)
    text = (
        f":warning: {len(empty)} section{'s' if len(empty) != 1 else ''} of the {incident.reference} "
        f"post-mortem {'are' if len(empty) != 1 else 'is'} still empty: {listed}. Readers will see "
        "“not written yet” there. Write them with *Draft post-mortem*, or publish as it is."
    )
    value = str(incident.id)
    actions = {
        "type": "actions",
        "block_id": "postmortem_confirm",
        "elements": [
            button("Draft post-mortem", ACTION_EDIT, value, style="primary"),
            button("Publish anyway", ACTION_PUBLISH_ANYWAY, value, style="danger"),
        ],
    }
    return Message(f"{len(empty)} post-mortem sections are still empty: {listed}", [section(text), actions])
