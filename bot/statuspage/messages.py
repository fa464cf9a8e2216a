"""Slack messages of the status page: the preview of what the public will read, the approval request the
Incident Commander answers, and the echo of each publication in the incident channel."""

from __future__ import annotations

from typing import Any

from bot.formatting import escape_mrkdwn, user_mention
from bot.messages import Message, button, context, header, section, truncate
from bot.statuspage.model import Maintenance, PublicDraft, PublicUpdate
from bot.statuspage.state import label

ACTION_APPROVE, ACTION_EDIT, ACTION_REJECT = "statuspage_approve", "statuspage_edit", "statuspage_reject"


def _components(draft: PublicDraft, names: dict[str, str]) -> str:
    return ", ".join(f"{names.get(c, c)}: {label(s)}" for c, s in draft.components.items()) or "none"


def _quoted(draft: PublicDraft) -> str:
    body = escape_mrkdwn(draft.body).replace("\n", "\n>")
    return f"*{escape_mrkdwn(draft.title)}*\n>*{label(draft.status)}* — {body}"


def preview(
    draft: PublicDraft, names: dict[str, str], impact: str, needs_approval: bool
) -> list[dict[str, Any]]:
    """Exactly what the public will read, shown in the form before posting."""
    note = (
        "It goes to the Incident Commander for approval first: nothing is public before that."
        if needs_approval
        else "You may publish it directly: it is public as soon as you post."
    )
    return [
        header("Status page (public)"),
        section(_quoted(draft)),
        context(f"Components: {escape_mrkdwn(_components(draft, names))} · Impact: {impact}", note),
    ]


def approval_request(
    update: PublicUpdate, reference: str, commander: str | None, names: dict[str, str]
) -> Message:
    asker = user_mention(update.author)
    to = f"{user_mention(commander)}, " if commander else ""
    text = (
        f":globe_with_meridians: {to}{asker} asks to publish this on the public status page for {reference}:"
    )
    blocks = [
        section(text),
        section(_quoted(update.draft())),
        context(f"Components: {escape_mrkdwn(_components(update.draft(), names))} · Impact: {update.impact}"),
        {
            "type": "actions",
            "block_id": f"statuspage_request_{update.id}",
            "elements": [
                button("Approve", ACTION_APPROVE, str(update.id), "primary"),
                button("Edit", ACTION_EDIT, str(update.id)),
                button("Reject", ACTION_REJECT, str(update.id), "danger"),
            ],
        },
    ]
    return Message(truncate(f"{reference}: status page update waiting for approval", 300), blocks)


def decided(update: PublicUpdate, reference: str, names: dict[str, str], url: str | None) -> Message:
    """The request, once answered: its buttons are spent."""
    verb = (
        "rejected" if url is None else ("edited and published" if update.edited else "approved and published")
    )
    text = (
        f":globe_with_meridians: Status page update for {reference} by {user_mention(update.author)}: "
        f"{verb} by {user_mention(update.approver)}."
    )
    blocks = [section(text), section(_quoted(update.draft()))]
    if url:
        blocks.append(context(f"<{url}|View it on the status page>"))
    return Message(truncate(text, 300), blocks)


def published(update: PublicUpdate, url: str, names: dict[str, str]) -> Message:
    """The echo in the incident channel: what went out, who wrote it, who approved it, and where."""
    who = (
        f"by {user_mention(update.author)}" if update.source != "cli" else f"from the CLI by {update.author}"
    )
    approval = ""
    if update.approver and update.approver != update.author and update.source != "cli":
        approval = f", {'edited and ' if update.edited else ''}approved by {user_mention(update.approver)}"
    text = f":globe_with_meridians: Published on the status page {who}{approval}: <{url}|view it>"
    blocks = [
        section(text),
        section(_quoted(update.draft())),
        context(f"Components: {escape_mrkdwn(_components(update.draft(), names))} · Impact: {update.impact}"),
    ]
    return Message(
        truncate(f"Published on the status page: {update.title} — {label(update.status)}", 300), blocks
    )


def maintenance_scheduled(maintenance: Maintenance, when: str, names: dict[str, str]) -> Message:
    components = ", ".join(names.get(c, c) for c in maintenance.components) or "no component"
    text = (
        f":wrench: Maintenance #{maintenance.id} scheduled on the status page: "
        f"*{escape_mrkdwn(maintenance.title)}*, {when} ({escape_mrkdwn(components)})."
    )
    return Message(truncate(text, 300), [section(text)])
