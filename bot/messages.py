"""Block Kit builders: pure functions from domain objects to a `Message`.

Every builder stays inside Slack's limits (DESIGN.md) by construction, because Slack answers an
oversized block with `invalid_blocks` and the whole message — often the one that matters mid-incident —
is lost. Long user text is split or truncated with a visible note, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import Incident
from bot.formatting import escape_mrkdwn, format_duration, human_duration, status_label, user_mention
from bot.settings import COMMANDER_ROLE, IncidentSettings
from bot.templating import Templates, slack_date_time, slack_time

HEADER_LIMIT = 150
TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
BUTTON_TEXT_LIMIT = 75
CONTEXT_TEXT_LIMIT = 2000
MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
FALLBACK_LIMIT = 3000
TOPIC_LIMIT = 250
RECENT_LIMIT = 10
LIST_LIMIT = 45

TRUNCATED_NOTE = "\n… _(truncated)_"

ACTIONS_BLOCK_ID = "incident_actions"
ACTION_POST_UPDATE = "incident_post_update"
ACTION_CHANGE_STATUS = "incident_change_status"
ACTION_CHANGE_SEVERITY = "incident_change_severity"
ACTION_ASSIGN_ROLE = "incident_assign_role"
ACTION_RESOLVE = "incident_resolve"
ACTION_REOPEN = "incident_reopen"

AUDIENCE_LABELS = {
    "channel": "Incident channel",
    "announcements": "Announcements",
    "management": "Management summary",
}


@dataclass(frozen=True)
class Message:
    text: str
    """Notification and screen-reader fallback; Slack shows it where blocks cannot be shown."""
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


# -- text helpers --------------------------------------------------------------------------------------


def truncate(text: str, limit: int, note: str = "…") -> str:
    """Cut to `limit` characters including `note`, never inside a `<…>` link or an `&amp;` entity.

    A half link or entity would either render as garbage or make Slack reject the block.
    """
    if len(text) <= limit:
        return text
    if len(note) >= limit:
        return note[:limit]
    cut = limit - len(note)
    head = text[:cut]
    opened = head.rfind("<")
    if opened > head.rfind(">") and len(head) - opened < 500:
        head = head[:opened]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:] and len(head) - amp < 8:
        head = head[:amp]
    return head.rstrip() + note


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at paragraph, line or word boundaries so each part fits one section.

    Code fences are closed at the end of a part and reopened in the next, so runbook output stays
    monospaced across sections.
    """
    fence = "```"
    budget = limit - len(fence) - 1  # room to close an open fence
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _boundary(rest, budget)
        part, rest = rest[:cut].rstrip(), rest[cut:].strip()
        if part.count(fence) % 2:
            part += "\n" + fence
            rest = fence + "\n" + rest
        if part:
            parts.append(part)
    if rest:
        parts.append(rest)
    return parts


def _boundary(text: str, limit: int) -> int:
    for separator in ("\n\n", "\n", " "):
        cut = text.rfind(separator, 0, limit)
        if cut > limit // 2:
            return cut
    cut = limit
    opened = text.rfind("<", 0, cut)
    if opened > text.rfind(">", 0, cut) and opened > limit // 2:
        cut = opened
    return cut


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": True}


def _mrkdwn(text: str, limit: int = TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, limit, TRUNCATED_NOTE) or " "}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(text, HEADER_LIMIT)}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def fields_sections(fields: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Label/value pairs as field grids, ten fields per section as Slack allows."""
    texts = [_mrkdwn(f"*{label}*\n{value}", FIELD_LIMIT) for label, value in fields]
    return [
        {"type": "section", "fields": texts[i : i + FIELDS_PER_SECTION]}
        for i in range(0, len(texts), FIELDS_PER_SECTION)
    ]


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(t, CONTEXT_TEXT_LIMIT) for t in texts[:10]]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": _plain(text, BUTTON_TEXT_LIMIT),
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def text_sections(text: str, max_blocks: int) -> list[dict[str, Any]]:
    """Long text as several sections; past `max_blocks` the last one says how much was left out."""
    parts = split_text(text) or ["_(empty)_"]
    if len(parts) > max_blocks:
        left_out = sum(len(p) for p in parts[max_blocks:])
        note = f"\n… _(truncated: {left_out:,} more characters not shown)_"
        parts = [*parts[: max_blocks - 1], truncate(parts[max_blocks - 1], TEXT_LIMIT - len(note), "") + note]
    return [section(part) for part in parts[:max_blocks]]


def _fallback(text: str) -> str:
    """Notification text: builders escape user text here too, as `text` is parsed for mentions."""
    return truncate(" ".join(text.split()), FALLBACK_LIMIT)


def safe_link(url: str | None, label: str) -> str | None:
    """Only well-formed http(s) links become `<url|label>`; anything else could break the mrkdwn."""
    if not url:
        return None
    if url.startswith(("https://", "http://")) and not any(c in url for c in "<>| \n"):
        return f"<{url}|{label}>"
    return escape_mrkdwn(url)


def _channel(incident: Incident) -> str:
    if incident.channel_id:
        return f"<#{incident.channel_id}>"
    if incident.channel_name:
        return f"#{escape_mrkdwn(incident.channel_name)}"
    return "no channel yet"


def _severity_text(incident: Incident, config: IncidentSettings) -> str:
    severity = config.severity(incident.severity)
    if severity is None:
        return escape_mrkdwn(incident.severity)
    return f"{escape_mrkdwn(severity.label)}\nRespond within {format_duration(severity.response_target)}"


def _severity_short(incident: Incident, config: IncidentSettings) -> str:
    severity = config.severity(incident.severity)
    return severity.label if severity else incident.severity


def _is_resolved(incident: Incident, config: IncidentSettings) -> bool:
    return incident.status == config.resolved_status


# -- the incident channel ------------------------------------------------------------------------------


def incident_summary(incident: Incident, config: IncidentSettings, extra: Sequence[str] = ()) -> Message:
    """The pinned message: everything a late joiner needs, plus the buttons to act on it; `extra` lines
    come from other capabilities (the communication plan's deadlines)."""
    resolved = _is_resolved(incident, config)
    service = config.service(incident.service)
    service_text = service.name if service else (incident.service or "—")
    fields: list[tuple[str, str]] = [
        ("Severity", _severity_text(incident, config)),
        ("Status", status_label(incident.status)),
        ("Incident Commander", user_mention(incident.commander)),
        ("Service", escape_mrkdwn(service_text)),
        ("Reporter", user_mention(incident.reporter)),
        ("Declared", slack_date_time(incident.created_at, config)),
    ]
    known_roles = {role.id for role in config.roles}
    for role in config.roles:
        if role.id != COMMANDER_ROLE:
            holder = incident.roles.get(role.id)
            fields.append((escape_mrkdwn(role.name), user_mention(holder) if holder else "unassigned"))
    for role_id, holder in incident.roles.items():
        if role_id not in known_roles:  # a role removed from config still has a holder worth showing
            fields.append((escape_mrkdwn(status_label(role_id)), user_mention(holder)))
    max_field_sections = 4
    field_blocks = fields_sections(fields[: FIELDS_PER_SECTION * max_field_sections])

    blocks: list[dict[str, Any]] = [
        header(f":rotating_light: {incident.reference} · {incident.title}"),
        *field_blocks,
        section(f"*Impact*\n{escape_mrkdwn(incident.summary) or '_not described yet_'}"),
    ]
    if resolved:
        blocks.append(
            section(
                f"*Resolution*\n{escape_mrkdwn(incident.resolution) or '—'}\n"
                f"*Time to resolve:* {human_duration(incident.time_to_resolve())}"
            )
        )
    notes = []
    if incident.source_permalink:
        notes.append(f"Declared from {safe_link(incident.source_permalink, 'this message')}")
    if incident.next_update_due and not resolved:
        notes.append(f"Next update due {slack_time(incident.next_update_due, config)}")
    if incident.private:
        notes.append(":lock: Private incident")
    if notes:
        blocks.append(context(" · ".join(notes)))
    blocks += [context(line) for line in extra]
    blocks.append(divider())
    blocks.append(_actions(incident, resolved))

    text = (
        f"{incident.reference} · {escape_mrkdwn(incident.title)} — {_severity_short(incident, config)}, "
        f"{status_label(incident.status)}"
    )
    return Message(_fallback(text), blocks)


def _actions(incident: Incident, resolved: bool) -> dict[str, Any]:
    """A resolved incident offers only Reopen: anything else would change the record silently."""
    value = str(incident.id)
    if resolved:
        return {
            "type": "actions",
            "block_id": ACTIONS_BLOCK_ID,
            "elements": [button("Reopen", ACTION_REOPEN, value)],
        }
    buttons = [
        button("Post update", ACTION_POST_UPDATE, value, style="primary"),
        button("Change status", ACTION_CHANGE_STATUS, value),
        button("Change severity", ACTION_CHANGE_SEVERITY, value),
        button("Assign role", ACTION_ASSIGN_ROLE, value),
        button("Transfer command", "incident_transfer_command", value),  # channel_messages.ACTION_TRANSFER
        button("Resolve", ACTION_RESOLVE, value),
    ]
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": buttons}


def topic(incident: Incident, config: IncidentSettings) -> str:
    """Channel topics take no formatting or mentions, so this is plain text only."""
    text = (
        f"{incident.reference} · {_severity_short(incident, config)} · "
        f"{status_label(incident.status)} · {incident.title}"
    )
    return truncate(" ".join(text.split()), TOPIC_LIMIT)


def channel_created_link(incident: Incident) -> str:
    return f"Incident {incident.reference} declared: {_channel(incident)}"


# -- announcements and status updates -----------------------------------------------------------------


def announcement(
    incident: Incident, config: IncidentSettings, templates: Templates, now: datetime | None = None
) -> Message:
    rendered = templates.render(
        "announcement.md.j2",
        incident=incident,
        config=config,
        now=now or datetime.now(UTC),
        severity=config.severity(incident.severity),
        service=config.service(incident.service),
    )
    blocks = [section(rendered)]
    if incident.channel_id:
        blocks.append(context(f"Follow along in <#{incident.channel_id}>"))
        if not incident.private:
            blocks.append(join_actions(incident))
    else:
        blocks.append(context("The incident channel is being set up."))
    text = (
        f"{incident.reference}: {escape_mrkdwn(incident.title)} — {_severity_short(incident, config)}, "
        f"{status_label(incident.status)}"
    )
    return Message(_fallback(text), blocks)


ACTION_JOIN = "incident_join"
"""The Join button (announcement, source channel, page DM): the bot invites whoever clicks."""


def join_actions(incident: Incident) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "join",
        "elements": [button("Join the channel", ACTION_JOIN, str(incident.id), style="primary")],
    }


def source_notice(incident: Incident, declarer: str, config: IncidentSettings) -> Message:
    """What people around the message or channel the incident was declared from see: that it exists,
    how bad, and where to go. A private incident shows neither its title nor its channel."""
    severity = _severity_short(incident, config)
    if incident.private:
        text = (
            f":lock: <@{declarer}> declared a private incident ({severity}), {incident.reference}. "
            f"Ask {user_mention(incident.commander)} if you should be in it."
        )
        return Message(_fallback(text), [section(text)])
    where = f" → <#{incident.channel_id}>" if incident.channel_id else " (its channel is being set up)"
    text = (
        f":rotating_light: <@{declarer}> declared *{incident.reference}* ({severity}) · "
        f"{escape_mrkdwn(incident.title)}{where}"
    )
    blocks = [section(text)]
    if incident.channel_id:
        blocks.append(join_actions(incident))
    return Message(_fallback(text), blocks)


def status_update(audience: str, rendered: str, incident: Incident) -> Message:
    """Rendered update text, split rather than cut: an update is read in full or not at all."""
    blocks = text_sections(rendered, MESSAGE_BLOCKS)
    label = AUDIENCE_LABELS.get(audience, audience)
    return Message(_fallback(f"{incident.reference} status update ({label}): {rendered}"), blocks)


def audience_notice(audience: str, rendered: str, incident: Incident) -> Message:
    """A notice of the communication plan in an audience's channel (its template's text, split not cut)."""
    return Message(
        _fallback(f"{incident.reference} ({audience}): {rendered}"), text_sections(rendered, MESSAGE_BLOCKS)
    )


def audience_label(audience: str) -> str:
    return AUDIENCE_LABELS.get(audience, status_label(audience))


def update_preview(rendered: dict[str, str], max_blocks: int = MODAL_BLOCKS - 20) -> list[dict[str, Any]]:
    """Modal blocks showing each audience's text exactly as it will be posted.

    The default budget leaves 20 of the modal's 100 blocks for the form the preview is shown above.
    """
    if not rendered:
        return [section("_No audience selected: nothing will be posted._")]
    per_audience = max_blocks // len(rendered) - 2  # minus header and divider
    blocks: list[dict[str, Any]] = []
    for audience, text in rendered.items():
        if blocks:
            blocks.append(divider())
        blocks.append(header(audience_label(audience)))
        blocks.extend(text_sections(text, max(1, per_audience)))
    return blocks[:max_blocks]


# -- lists, help and small confirmations ---------------------------------------------------------------


def incident_list(
    incidents: list[Incident],
    config: IncidentSettings,
    now: datetime | None = None,
    resolved: list[Incident] | None = None,
) -> Message:
    now = now or datetime.now(UTC)
    resolved = resolved or []
    if not incidents:
        blocks = [section(":white_check_mark: No open incidents.")]
    else:
        blocks = [header(f"Open incidents ({len(incidents)})")]
    for incident in incidents[:LIST_LIMIT]:
        created = (
            incident.created_at if incident.created_at.tzinfo else incident.created_at.replace(tzinfo=UTC)
        )
        blocks.append(
            section(
                f"*{incident.reference}* · {escape_mrkdwn(incident.title)}\n"
                f"{escape_mrkdwn(_severity_short(incident, config))} · {status_label(incident.status)} · "
                f"{_channel(incident)} · IC {user_mention(incident.commander)} · "
                f"open {human_duration(now - created)}"
            )
        )
    if len(incidents) > LIST_LIMIT:
        blocks.append(context(f"…and {len(incidents) - LIST_LIMIT} more not shown."))
    if resolved:
        lines = [
            f"*{i.reference}* · {escape_mrkdwn(i.title)} · {escape_mrkdwn(_severity_short(i, config))} · "
            f"{_channel(i)} · resolved {human_duration(now - i.resolved_at)} ago"
            for i in resolved[:RECENT_LIMIT]
            if i.resolved_at is not None
        ]
        blocks.append(context(f"Resolved in the last 24 h ({len(resolved)})"))
        blocks.extend(text_sections("\n".join(lines), 2))
    text = f"{len(incidents)} open incident(s)" if incidents else "No open incidents."
    if resolved:
        text += f" {len(resolved)} resolved in the last 24 h."
    return Message(_fallback(text), blocks)


def help_message(commands: list[tuple[str, str]], title: str = "Usage") -> Message:
    lines = [f"`{usage}` — {description}" for usage, description in commands]
    blocks = [section(f"*{title}*"), *text_sections("\n".join(lines), MESSAGE_BLOCKS - 1)]
    return Message(_fallback(f"{title}: " + "; ".join(usage for usage, _ in commands)), blocks)


def integration_failure(step: str, error: str, what_to_do: str) -> Message:
    """Say what did not happen and what the human should do instead, in one line."""
    error = escape_mrkdwn(error).rstrip(". ")
    text = f":warning: Could not {step}: {error}. {what_to_do}".strip()
    return Message(_fallback(text), [section(text)])


def problems(lines: Iterable[str]) -> Message:
    """Several integration failures from one flow, reported together instead of one message each."""
    items = [line.strip() for line in lines if line.strip()]
    body = "\n".join(f"• {line}" for line in items)
    text = f":warning: Some steps did not work:\n{body}" if len(items) > 1 else f":warning: {body}"
    return Message(_fallback(text), text_sections(text, MESSAGE_BLOCKS))


DRILL_BANNER = ":test_tube: *DRILL — not a real incident*"


def with_banner(message: Message) -> Message:
    """A drill's message: the banner first (a message holds 50 blocks: the last gives way)."""
    return Message(f"[DRILL] {message.text}", [context(DRILL_BANNER), *message.blocks][:50])


def notice(text: str) -> Message:
    """A one-line bot post in the incident channel; `text` is bot-composed mrkdwn (mentions intended)."""
    return Message(_fallback(text), [section(text)])


def note_recorded(incident: Incident, author: str, text: str, permalink: str | None = None) -> Message:
    link = safe_link(permalink, "original message")
    source = f" ({link})" if link else ""
    body = f":memo: Added to the {incident.reference} timeline by {user_mention(author)}{source}:\n>"
    quoted = escape_mrkdwn(text).replace("\n", "\n>")
    return Message(
        _fallback(f"Note added to {incident.reference}: {escape_mrkdwn(text)}"), [section(body + quoted)]
    )


def error(text: str) -> Message:
    """A rule the user broke (DomainError), shown ephemerally as is."""
    return Message(_fallback(text), [section(f":x: {text}")])


ACTION_SNOOZE_REMINDER = "reminder_snooze"


def update_reminder(incident: Incident, overdue: timedelta, interval: timedelta) -> Message:
    """The nag: who should act, how late it is, and the two ways to answer it in one click."""
    text = (
        f":alarm_clock: {user_mention(incident.commander)}, no status update on {incident.reference} for "
        f"*{human_duration(overdue)}*; {escape_mrkdwn(incident.severity)} incidents get one every "
        f"{human_duration(interval)}."
    )
    value = str(incident.id)
    actions = {
        "type": "actions",
        "block_id": "update_reminder",
        "elements": [
            button("Post update", ACTION_POST_UPDATE, value, style="primary"),
            button("Snooze 30 min", ACTION_SNOOZE_REMINDER, value),
        ],
    }
    return Message(_fallback(text), [section(text), actions])
