"""Block Kit for the incident channel's later life: a transfer of command, the catch-up for people who
join late, and the notice before a resolved channel is archived.

Pure builders like `bot.messages` (whose helpers keep every block inside Slack's limits); they live
apart so that module stays the pinned summary's and the updates' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.domain import EventKind, Incident, TimelineEvent
from bot.formatting import escape_mrkdwn, human_duration, status_label, user_mention
from bot.messages import (
    MESSAGE_BLOCKS,
    Message,
    button,
    context,
    divider,
    fields_sections,
    header,
    section,
    text_sections,
    truncate,
)
from bot.settings import COMMANDER_ROLE, IncidentSettings
from bot.templating import format_local

ACTION_TRANSFER = "incident_transfer_command"
"""The pinned summary's Transfer command button: opens the small form with a person picker."""
TRANSFER_ACCEPT = "command_transfer_accept"
TRANSFER_DECLINE = "command_transfer_decline"
ARCHIVE_KEEP = "channel_archive_keep"

RECENT_EVENTS = 8
"""Timeline events a catch-up shows: enough to see the last half hour, short enough to read at once."""
ACTIONS_SHOWN = 10


def slack_when(
    moment: datetime, config: IncidentSettings, token: str = "{time}", fmt: str = "%H:%M %Z"
) -> str:
    """A time each reader sees in their own zone, with the config's zone as the fallback text."""
    return f"<!date^{int(moment.timestamp())}^{token}|{format_local(moment, config, fmt)}>"


# -- transfer of command -------------------------------------------------------------------------------


def transfer_value(incident_id: int, request_id: int) -> str:
    return f"{incident_id}:{request_id}"


def two_ids(value: object) -> tuple[int, int] | None:
    """A button value `incident:thing` (a transfer request, an archive notice) back as two ids."""
    incident, _, request = str(value or "").partition(":")
    try:
        return int(incident), int(request)
    except ValueError:
        return None


def transfer_request(incident: Incident, request_id: int, current: str | None, new: str, by: str) -> Message:
    """Asks the new IC in the channel; only they may answer (the handler checks who clicked)."""
    asked = "" if by == current else f" (asked by {user_mention(by)})"
    text = (
        f":arrows_counterclockwise: {user_mention(new)}, {user_mention(current)} is handing command of "
        f"{incident.reference} over to you{asked}. Do you take command?"
    )
    value = transfer_value(incident.id, request_id)
    actions = {
        "type": "actions",
        "block_id": f"command_transfer_{request_id}",
        "elements": [
            button("Accept command", TRANSFER_ACCEPT, value, style="primary"),
            button("Decline", TRANSFER_DECLINE, value),
        ],
    }
    return Message(truncate(text, 3000), [section(text), actions])


def transfer_answered(text: str) -> Message:
    """The request once answered: its buttons are spent."""
    return Message(truncate(text, 3000), [section(text)])


def command_transferred(incident: Incident, previous: str | None, new: str, by: str) -> str:
    asked = "" if by in (previous, new) else f", asked by {user_mention(by)}"
    return (
        f":arrows_counterclockwise: *Command transferred:* {user_mention(new)} is now the Incident Commander "
        f"of {incident.reference}, taking over from {user_mention(previous)}{asked}."
    )


# -- catch-up ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenAction:
    number: int
    text: str
    owner: str | None
    due: date | None


@dataclass(frozen=True)
class Catchup:
    """What someone joining late needs, read off the stored incident and its timeline."""

    incident: Incident
    now: datetime
    last_update: TimelineEvent | None
    recent: Sequence[TimelineEvent]
    actions: Sequence[OpenAction] = ()
    due: Sequence[str] = ()
    """Deadlines other capabilities report (the communication plan's), as mrkdwn lines."""


def catchup(facts: Catchup, config: IncidentSettings) -> Message:
    incident, now = facts.incident, facts.now
    resolved = incident.status == config.resolved_status
    severity = config.severity(incident.severity)
    severity_text = severity.label if severity else incident.severity
    age = human_duration(now - incident.created_at)
    state = f"*{escape_mrkdwn(severity_text)}* · *{status_label(incident.status)}* · " + (
        f"resolved after {human_duration(incident.time_to_resolve())}"
        if resolved
        else f"open for {age} (declared {slack_when(incident.created_at, config)})"
    )
    service = config.service(incident.service)
    if service or incident.service:
        state += f" · service {escape_mrkdwn(service.name if service else incident.service)}"
    blocks: list[dict[str, Any]] = [
        header(f":eyes: Catch-up: {incident.reference} · {incident.title}"),
        section(state),
        section(f"*Impact*\n{escape_mrkdwn(incident.summary) or '_not described yet_'}"),
    ]
    blocks.append(section(_last_update(facts, config)))
    blocks += fields_sections(_roles(incident, config))
    blocks.append(section(_actions_text(facts.actions)))
    blocks.append(section(_due_text(facts, config, resolved)))
    blocks.append(divider())
    lines = [event_line(e, config) for e in facts.recent[-RECENT_EVENTS:]]
    blocks.append(section("*Latest on the timeline*"))
    blocks += text_sections("\n".join(lines) or "_nothing yet_", 3)
    blocks.append(
        context("Read from the incident's record; `/incident catchup post` shares it in the channel.")
    )
    text = (
        f"Catch-up on {incident.reference}: {severity_text}, {status_label(incident.status)}, "
        f"IC {user_mention(incident.commander)}"
    )
    return Message(truncate(" ".join(text.split()), 3000), blocks[:MESSAGE_BLOCKS])


def _last_update(facts: Catchup, config: IncidentSettings) -> str:
    update = facts.last_update
    if update is None:
        return "*Last status update*\n_none posted yet_"
    ago = human_duration(facts.now - update.occurred_at)
    known = escape_mrkdwn(update.data.get("known") or update.text)
    doing = escape_mrkdwn(update.data.get("doing") or "")
    body = f"*Last status update* ({ago} ago by {user_mention(update.actor)})\n{known}"
    if doing:
        body += f"\n_Doing:_ {doing}"
    return truncate(body, 2900, "…")


def _roles(incident: Incident, config: IncidentSettings) -> list[tuple[str, str]]:
    """Who does what: every configured role, and any holder of a role removed from the config."""
    fields = [("Incident Commander", user_mention(incident.commander))]
    for role in config.roles:
        holder = incident.roles.get(role.id)
        if role.id != COMMANDER_ROLE and holder:
            fields.append((escape_mrkdwn(role.name), user_mention(holder)))
    known = {role.id for role in config.roles}
    fields += [
        (escape_mrkdwn(status_label(r)), user_mention(u)) for r, u in incident.roles.items() if r not in known
    ]
    unassigned = [r.name for r in config.roles if r.id not in incident.roles]
    if unassigned:
        fields.append(("Unassigned", escape_mrkdwn(", ".join(unassigned))))
    return fields[:20]


def _actions_text(actions: Sequence[OpenAction]) -> str:
    if not actions:
        return "*Open action items*\n_none_"
    lines = []
    for item in actions[:ACTIONS_SHOWN]:
        owner = f" — {user_mention(item.owner)}" if item.owner else " — unassigned"
        due = f", due {item.due.isoformat()}" if item.due else ""
        lines.append(f"• #{item.number} {escape_mrkdwn(truncate(item.text, 200))}{owner}{due}")
    more = len(actions) - ACTIONS_SHOWN
    if more > 0:
        lines.append(f"…and {more} more (`/incident actions`)")
    return truncate(f"*Open action items ({len(actions)})*\n" + "\n".join(lines), 2900)


def _due_text(facts: Catchup, config: IncidentSettings, resolved: bool) -> str:
    lines = []
    due = facts.incident.next_update_due
    if due is not None and not resolved:
        late = " — *overdue*" if due <= facts.now else ""
        lines.append(f"• Next status update due {slack_when(due, config)}{late}")
    lines += [f"• {line}" for line in facts.due]
    return truncate("*What is due*\n" + ("\n".join(lines) or "_nothing scheduled_"), 2900)


def event_line(event: TimelineEvent, config: IncidentSettings) -> str:
    """One timeline event as a Slack line: its time, who, and what (user text escaped)."""
    data, who = event.data, f" · {user_mention(event.actor)}" if event.actor else ""
    when = slack_when(event.occurred_at, config)
    if event.kind == EventKind.ROLE_ASSIGNED:
        role = config.role(str(data.get("role") or ""))
        name = role.name if role else status_label(str(data.get("role")))
        was = f" (from {user_mention(data.get('previous'))})" if data.get("handover") else ""
        what = f"{escape_mrkdwn(name)} → {user_mention(data.get('user'))}{was}"
    elif event.kind in (EventKind.STATUS_CHANGED, EventKind.SEVERITY_CHANGED):
        label = "Status" if event.kind == EventKind.STATUS_CHANGED else "Severity"
        before, after = status_label(data.get("from")), status_label(data.get("to"))
        what = f"{label} {escape_mrkdwn(before)} → {escape_mrkdwn(after)}"
    elif event.kind == EventKind.COMMAND_TRANSFER_REQUESTED:
        what = f"Asked {user_mention(data.get('to'))} to take command from {user_mention(data.get('from'))}"
    elif event.kind == EventKind.COMMAND_TRANSFER_DECLINED:
        what = f"Declined to take command from {user_mention(data.get('from'))}"
    elif event.kind == EventKind.UPDATE_POSTED:
        what = f"Status update: {escape_mrkdwn(truncate(event.text, 150))}"
    else:
        what = f"{status_label(event.kind.value)}: {escape_mrkdwn(truncate(event.text, 150))}"
    return f"{when}{who} · {what}"


# -- auto-archive --------------------------------------------------------------------------------------


def archive_notice(
    incident: Incident, at: datetime, notice_id: int, keep_days: int, config: IncidentSettings
) -> Message:
    """A day before the archive; Keep answers this notice once (its value names the notice)."""
    when = slack_when(at, config, "{date_short_pretty} at {time}", "%Y-%m-%d %H:%M %Z")
    text = (
        f":file_cabinet: {incident.reference} was resolved; this channel will be archived {when}. "
        f"The post-mortem and the announcement stay. Keep it if work still happens here "
        f"(another {keep_days} days from now)."
    )
    actions = {
        "type": "actions",
        "block_id": "channel_archive",
        "elements": [button("Keep channel", ARCHIVE_KEEP, f"{incident.id}:{notice_id}")],
    }
    return Message(truncate(text, 3000), [section(text), actions])


def archive_kept(incident: Incident, user: str, until: datetime, config: IncidentSettings) -> Message:
    when = slack_when(until, config, "{date_short_pretty} at {time}", "%Y-%m-%d %H:%M %Z")
    text = f":file_cabinet: {user_mention(user)} kept this channel: it will be archived {when} instead."
    return Message(truncate(text, 3000), [section(text)])
