"""Reading `/incident action <text> [@owner] [due]` the way people type it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain import DomainError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_IN = re.compile(r"^(?:in\s*)?(\d{1,3})\s*([dw])$")
MAX_TEXT = 500


@dataclass(frozen=True)
class ActionRequest:
    text: str
    owner: str | None
    """A Slack user id, or a `@name` still to be looked up."""
    due: date | None


def parse_due(word: str, today: date) -> date | None:
    """2026-12-01, today, tomorrow, friday (the next one), 3d, 2w, in 3d; None when it is not a date."""
    word = word.strip().lower()
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    for index, name in enumerate(WEEKDAYS):
        if word in (name, name[:3]):
            return today + timedelta(days=(index - today.weekday() - 1) % 7 + 1)
    match = _IN.match(word)
    if match:
        amount = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        return today + timedelta(days=amount)
    try:
        return date.fromisoformat(word)
    except ValueError:
        return None


def parse_action(text: str, today: date) -> ActionRequest:
    """Owner and due date are optional and come last, in either order; the rest is the item."""
    words = text.split()
    owner: str | None = None
    due: date | None = None
    for _ in range(3):  # "in 3d" takes two words
        if not words:
            break
        last = words[-1]
        mention = _MENTION.match(last)
        if owner is None and (mention or (last.startswith("@") and len(last) > 1)):
            owner = mention.group(1) if mention else last
            words.pop()
            continue
        if due is None and (found := parse_due(last, today)) is not None:
            due = found
            words.pop()
            if len(words) >= 1 and words[-1].lower() == "in" and _IN.match(last):
                words.pop()
            continue
        if due is None and len(words) >= 2 and (found := parse_due(" ".join(words[-2:]), today)):
            due = found
            del words[-2:]
            continue
        break
    item = " ".join(words).strip()
    if not item:
        raise DomainError("Say what needs doing: `/incident action <text> [@owner] [due date]`.")
    if len(item) > MAX_TEXT:
        raise DomainError(f"Keep the action item under {MAX_TEXT} characters (it has {len(item)}).")
    if due is not None and due < today:
        raise DomainError(f"The due date {due.isoformat()} is in the past.")
    return ActionRequest(item, owner, due)
