"""Block Kit for action items: the owner's DM, the overdue reminder, and the list of open items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.domain import Incident
from bot.formatting import escape_mrkdwn
from bot.messages import MESSAGE_BLOCKS, Message, button, context, header, section, truncate
from bot.postmortem.store import ActionItem

ACTION_DONE = "action_item_done"
escape = escape_mrkdwn


def _line(item: ActionItem, incident: Incident | None, today: date) -> str:
    owner = f"<@{item.owner}>" if item.owner else "_no owner_"
    due = item.due.isoformat() if item.due else "no due date"
    late = " · :warning: *overdue*" if item.overdue(today) else ""
    where = (
        f" · {incident.reference}"
        + (f" <#{incident.channel_id}>" if incident and incident.channel_id else "")
        if incident
        else ""
    )
    return truncate(f"*#{item.id}* {escape(item.text)}\n{owner} · due {due}{late}{where}", 3000)


def _with_done(text: str, item: ActionItem) -> dict[str, object]:
    block = section(text)
    block["accessory"] = button("Mark done", ACTION_DONE, str(item.id))
    return block


def assigned(item: ActionItem, incident: Incident, by: str) -> Message:
    due = f", due {item.due.isoformat()}" if item.due else ""
    source = f"*{incident.reference}: {escape(incident.title)}*"
    text = f":memo: <@{by}> gave you a follow-up from {source}{due}:\n>{escape(item.text)}"
    return Message(f"Action item #{item.id} for you{due}", [_with_done(truncate(text, 3000), item)])


def overdue(item: ActionItem, incident: Incident, today: date) -> Message:
    owner = f"<@{item.owner}>" if item.owner else "Nobody owns it"
    text = (
        f":alarm_clock: Action item #{item.id} from {incident.reference} was due {item.due} "
        f"({(today - item.due).days if item.due else 0} days ago). {owner}:\n>{escape(item.text)}"
    )
    return Message(f"Action item #{item.id} is overdue", [_with_done(truncate(text, 3000), item)])


def action_list(items: Sequence[tuple[ActionItem, Incident | None]], today: date, title: str) -> Message:
    if not items:
        return Message(f"{title}: none", [section(f":white_check_mark: {title}: none.")])
    shown = items[: MESSAGE_BLOCKS - 2]
    blocks = [header(f"{title} ({len(items)})")]
    blocks += [_with_done(_line(item, incident, today), item) for item, incident in shown]
    if len(items) > len(shown):
        blocks.append(context(f"…and {len(items) - len(shown)} more."))
    late = sum(item.overdue(today) for item, _ in items)
    return Message(f"{title}: {len(items)}" + (f", {late} overdue" if late else ""), blocks)
