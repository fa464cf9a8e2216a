"""The incident channel's first message after its summary: what to do now (the severity's checklist, with
a tick button per item), the runbooks that match, and where the links are (the channel's bookmarks).

Block Kit only; `bot/services/welcome.py` decides what goes in and records the ticks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import Incident
from bot.formatting import escape_mrkdwn, user_mention
from bot.messages import Message, button, context, header, section, truncate
from bot.settings import IncidentSettings
from bot.templating import slack_time

ACTION_TICK = "checklist_tick"
CHECKLIST_MAX = 20
"""Items shown (a message holds 50 blocks; each item is one)."""
RUNBOOKS_MAX = 8


@dataclass(frozen=True)
class Tick:
    user: str | None
    at: datetime


@dataclass(frozen=True)
class Bookmark:
    title: str
    url: str


def tick_value(incident_id: int, index: int) -> str:
    return f"{incident_id}:{index}"


def parse_tick(value: str | None) -> tuple[int, int] | None:
    incident, _, index = (value or "").partition(":")
    return (int(incident), int(index)) if incident.isdigit() and index.isdigit() else None


def welcome(
    incident: Incident,
    config: IncidentSettings,
    checklist: list[str],
    ticks: dict[int, Tick],
    runbooks: list[tuple[str, str]],
    open_runbook: str,
    bookmarks: list[Bookmark],
) -> Message:
    """`runbooks`: (name, title) of those matching the service or the alerts, opened with the
    `open_runbook` action."""
    blocks: list[dict[str, Any]] = [
        header(truncate(f"{incident.reference}: the first five minutes", 150)),
        section(
            f"{user_mention(incident.commander)} has command. Everyone here: say what you are looking at "
            "before you change anything; the Incident Commander decides."
        ),
    ]
    if checklist:
        done = sum(1 for i in range(len(checklist[:CHECKLIST_MAX])) if i in ticks)
        blocks.append(
            section(f"*Checklist for {escape_mrkdwn(incident.severity)}* ({done}/{len(checklist)} done)")
        )
    for index, item in enumerate(checklist[:CHECKLIST_MAX]):
        tick = ticks.get(index)
        if tick is not None:
            by = f"{user_mention(tick.user)}, {slack_time(tick.at, config)}"
            blocks.append(section(f":white_check_mark: ~{escape_mrkdwn(item)}~ — {by}"))
        else:
            block = section(f":white_large_square: {escape_mrkdwn(item)}")
            block["accessory"] = button("Done", ACTION_TICK, tick_value(incident.id, index))
            blocks.append(block)
    if runbooks:
        blocks.append(section("*Runbooks for this incident*"))
        for name, title in runbooks[:RUNBOOKS_MAX]:
            block = section(f":book: {escape_mrkdwn(title)} (`{escape_mrkdwn(name)}`)")
            block["accessory"] = button("Open", open_runbook, name)
            blocks.append(block)
    if bookmarks:
        names = ", ".join(escape_mrkdwn(b.title) for b in bookmarks)
        blocks.append(context(f":bookmark: In the channel's bookmarks: {names}"))
    blocks.append(context("`/incident help` lists every command; `/incident update` posts a status update."))
    return Message(f"{incident.reference}: what to do now", blocks)
