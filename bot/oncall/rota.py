"""The rota as people changed it: swaps and overrides from Slack merged into the configured schedules.

Pure functions, no storage and no Slack. A change made in Slack becomes one or more `Piece`s (a schedule,
a person, a span) once it takes effect; merged after the config's own overrides and in the order they
were made, so the latest word wins where two overlap — the rule `schedules.py` applies to overrides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from bot.oncall.schedules import Override, Schedule, Shift, on_call, shifts

SWAP, OVERRIDE_KIND = "swap", "override"
PENDING, ACCEPTED, DECLINED = "pending", "accepted", "declined"


@dataclass(frozen=True)
class Piece:
    """`user` is on call for `schedule_id` over [start, end)."""

    schedule_id: str
    user: str
    start: datetime
    end: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule_id,
            "user": self.user,
            "from": _iso(self.start),
            "to": _iso(self.end),
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Piece:
        parse = datetime.fromisoformat
        return Piece(str(data["schedule"]), str(data["user"]), parse(data["from"]), parse(data["to"]))


@dataclass(frozen=True)
class RotaChange:
    """A swap or an override as stored; `pieces` are set once it is accepted."""

    id: int
    kind: str
    schedule_id: str | None
    user: str
    replaces: str | None
    start: datetime
    end: datetime
    status: str
    pieces: tuple[Piece, ...]
    requested_by: str
    created_at: datetime
    decided_by: str | None = None


@dataclass(frozen=True)
class Move:
    """Time of `schedule_id` that moved from `old` (None: nobody) to `new` (None: nobody)."""

    schedule_id: str
    old: str | None
    new: str | None
    start: datetime
    end: datetime


def effective(schedule: Schedule, pieces: list[Piece]) -> Schedule:
    """The schedule with the pieces of accepted changes as overrides after the config's own."""
    mine = [p for p in pieces if p.schedule_id == schedule.id]
    if not mine:
        return schedule
    extra = [Override.model_validate({"user": p.user, "from": p.start, "to": p.end}) for p in mine]
    return schedule.model_copy(update={"overrides": [*schedule.overrides, *extra]})


def swap_pieces(
    schedules: list[Schedule], user: str, taker: str, start: datetime, end: datetime
) -> list[Piece]:
    """A swap: `taker` covers every shift of `user` within [start, end), in every schedule (as it stands
    now, earlier changes included)."""
    return [
        Piece(schedule.id, taker, shift.start, shift.end)
        for schedule in schedules
        for shift in shifts(schedule, start, end)
        if shift.user == user
    ]


def moves(schedule_id: str, before: list[Shift], after: list[Shift]) -> list[Move]:
    """Where the person on call differs between two timelines of one schedule (same range)."""
    cuts = sorted({t for shift in [*before, *after] for t in (shift.start, shift.end)})
    found: list[Move] = []
    for left, right in pairwise(cuts):
        old, new = _user_at(before, left), _user_at(after, left)
        if old == new:
            continue
        last = found[-1] if found else None
        if last and (last.end, last.old, last.new) == (left, old, new):
            found[-1] = Move(schedule_id, old, new, last.start, right)
        else:
            found.append(Move(schedule_id, old, new, left, right))
    return found


def _user_at(timeline: list[Shift], at: datetime) -> str | None:
    return next((s.user for s in timeline if s.start <= at < s.end), None)


def on_call_users(schedules: list[Schedule], at: datetime) -> dict[str, str | None]:
    """Schedule id -> who is on call at `at`."""
    result: dict[str, str | None] = {}
    for schedule in schedules:
        shift = on_call(schedule, at)
        result[schedule.id] = shift.user if shift else None
    return result


# --- what people type --------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{1,2}:\d{2}$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}$")


def parse_moments(words: list[str], zone: ZoneInfo, now: datetime) -> list[datetime]:
    """`2026-12-14`, `2026-12-14T09:00`, `2026-12-14 09:00`, `now`, `today`, `tomorrow` (optionally with
    a `HH:MM` after them) as aware UTC instants; local to `zone`. A date alone means its midnight.

    Raises ValueError naming the word it could not read."""
    moments: list[datetime] = []
    index = 0
    while index < len(words):
        word = words[index].lower()
        following = words[index + 1] if index + 1 < len(words) else ""
        clock: time | None = None
        if _CLOCK.match(following):
            clock = _clock(following)
        if word == "now":
            moments.append(now.astimezone(UTC))
            index += 1
            continue
        try:
            day = _day(word, zone, now)
            if day is not None:
                moments.append(_local(day, clock or time(0), zone))
                index += 2 if clock else 1
                continue
            if _DATE_TIME.match(word):
                moments.append(_local(date.fromisoformat(word[:10]), _clock(word[11:]), zone))
                index += 1
                continue
        except ValueError:
            pass  # 2026-13-01, 25:00: said below like any other word
        raise ValueError(f"{words[index]!r} is not a date or time (use 2026-12-14 or 2026-12-14T09:00)")
    return moments


def _day(word: str, zone: ZoneInfo, now: datetime) -> date | None:
    today = now.astimezone(zone).date()
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    return date.fromisoformat(word) if _DATE.match(word) else None


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r} is not a time of day")
    return time(hours, minutes)


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
