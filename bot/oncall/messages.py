"""Block Kit for paging and on-call: the page DM with its two buttons, and the `/oncall` answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain import Incident
from bot.formatting import escape_mrkdwn, human_duration, status_label, user_mention
from bot.messages import (
    ACTION_JOIN,
    Message,
    button,
    context,
    fields_sections,
    header,
    section,
    truncate,
    with_banner,
)
from bot.oncall.handoff import when
from bot.oncall.schedules import OnCallSummary, Schedule, Shift
from bot.settings import IncidentSettings
from bot.templating import DATE_TIME_TOKEN, severity_label, slack_time

ACTION_ACK = "page_ack"
ACTION_ESCALATE = "page_escalate"
LOCAL_TIME = "%a %d %b %H:%M %Z"


def page_dm(incident: Incident, reason: str, page_id: int, config: IncidentSettings) -> Message:
    """What wakes someone up: what broke, how bad, who says so, where to go, and one click to say
    "I'm on it" (the person deciding how fast to run wants "payment page returns 502")."""
    severity = config.severity(incident.severity)
    target = f" — acknowledge within {human_duration(severity.response_target)}" if severity else ""
    channel = f"<#{incident.channel_id}>" if incident.channel_id else "no channel yet"
    service = config.service(incident.service)
    impact = truncate(escape_mrkdwn(incident.summary), 600) if incident.summary else "_not described yet_"
    buttons = [
        button("Acknowledge", ACTION_ACK, str(page_id), style="primary"),
        button("Escalate", ACTION_ESCALATE, str(page_id), style="danger"),
    ]
    if incident.channel_id:
        buttons.append(button("Join the channel", ACTION_JOIN, str(incident.id)))
    blocks = [
        header(f":pager: {incident.reference} · {incident.title}"),
        section(f"*Impact*\n{impact}"),
        *fields_sections(
            [
                ("Severity", escape_mrkdwn(severity_label(incident.severity, config)) + target),
                ("Status", status_label(incident.status)),
                ("Service", escape_mrkdwn(service.name if service else incident.service or "—")),
                (
                    "Declared by",
                    f"{user_mention(incident.reporter)} at {slack_time(incident.created_at, config)}",
                ),
                ("Channel", channel),
                ("Why you", escape_mrkdwn(reason)),
            ]
        ),
        {"type": "actions", "block_id": "page", "elements": buttons},
    ]
    text = f"Paged for {incident.reference} ({incident.severity}): {escape_mrkdwn(incident.title)}"
    return with_banner(Message(text, blocks)) if incident.drill else Message(text, blocks)


def is_page(message: dict[str, Any], page_id: int) -> bool:
    """Whether a message Slack returned is the DM of page `page_id` (found again after a crash)."""
    for block in message.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "actions" and block.get("block_id") == "page":
            for element in block.get("elements") or []:
                if element.get("action_id") == ACTION_ACK and element.get("value") == str(page_id):
                    return True
    return False


def page_answered(incident: Incident, text: str) -> Message:
    """The page DM once answered: its buttons are spent, so they go."""
    return Message(text, [section(f"*{incident.reference} · {escape_mrkdwn(incident.title)}*\n{text}")])


def oncall_summary(summaries: list[OnCallSummary], config: IncidentSettings) -> Message:
    if not summaries:
        text = "No on-call schedules are configured (see `oncall.schedules` in the config)."
        return Message(text, [section(text)])

    def when(moment: datetime) -> str:
        return slack_time(moment, config, LOCAL_TIME, DATE_TIME_TOKEN)

    blocks = [header("On call")]
    for summary in summaries[:45]:
        now = f"<@{summary.now.user}> until {when(summary.now.end)}" if summary.now else "_nobody_"
        upcoming = (
            f"<@{summary.next.user}> from {when(summary.next.start)}" if summary.next else "_nobody else_"
        )
        blocks.append(
            section(
                f"*{escape_mrkdwn(summary.name)}* (`{summary.schedule_id}`)\nNow: {now}\nNext: {upcoming}"
            )
        )
    blocks.append(context("Page someone with `/incident page @user` or `/incident page <schedule>`."))
    names = ", ".join(f"{s.name}: {'<@' + s.now.user + '>' if s.now else 'nobody'}" for s in summaries)
    return Message(f"On call — {names}"[:3000], blocks)


ONCALL_USAGE = (
    "`/oncall [schedule]` — who is on call now and next\n"
    "`/oncall next [@someone]` — the next shifts (yours with `me`)\n"
    "`/oncall who <schedule> at <time>` — who is on call then (e.g. `who primary at 2026-12-14 03:00`)\n"
    "`/oncall swap @someone <from> <to>` — ask someone to take your shifts in that span\n"
    "`/oncall override @someone <from> <to> [schedule]` — managers: put someone on call\n"
    "Times are `2026-12-14`, `2026-12-14T09:00` or `2026-12-14 09:00`"
    " (in the schedule's zone; for a swap, the config's)."
)


def oncall_usage(problem: str | None = None) -> Message:
    text = (f":warning: {problem}\n\n" if problem else "") + ONCALL_USAGE
    return Message(text[:3000], [section(text[:3000])])


def next_shifts(found: list[tuple[Schedule, Shift]], whose: str | None) -> Message:
    if not found:
        text = (
            f"<@{whose}> has no shifts in the next 60 days."
            if whose
            else "Nobody is on call in the next 60 days."
        )
        return Message(text, [section(text)])
    lines = [
        f"• *{escape_mrkdwn(schedule.name)}*: <@{shift.user}> {when(shift.start, schedule.zone)} – "
        f"{when(shift.end, schedule.zone)}"
        for schedule, shift in found[:40]
    ]
    title = f"Next shifts of <@{whose}>" if whose else "Next shifts"
    text = truncate(f"*{title}*\n" + "\n".join(lines), 3000)
    return Message(f"{title}: {len(found)} shifts", [section(text)])


def who_at(schedule: Schedule, at: datetime, shift: Shift | None) -> Message:
    moment = when(at, schedule.zone)
    if shift is None:
        text = f"Nobody is on call for *{escape_mrkdwn(schedule.name)}* at {moment}."
    else:
        text = (
            f"<@{shift.user}> is on call for *{escape_mrkdwn(schedule.name)}* at {moment} "
            f"({when(shift.start, schedule.zone)} – {when(shift.end, schedule.zone)}"
            + (", an override" if shift.is_override else "")
            + ")."
        )
    return Message(text, [section(text)])
