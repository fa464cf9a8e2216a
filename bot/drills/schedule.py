"""When game days fall: the occurrences of each `drills.schedule` entry, in the config's time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.drills.settings import ScheduledDrill


def _days(entry: ScheduledDrill, start: date) -> Iterator[date]:
    """Every day the entry falls on, from `start`'s month (or week) onwards."""
    if entry.every == "weekly":
        day = start - timedelta(days=start.isoweekday() - min(entry.day, 7))
        while True:
            yield day
            day += timedelta(days=7)
    step = 3 if entry.every == "quarterly" else 1
    year, month = start.year, start.month
    if step == 3:
        month -= (month - 1) % 3
    while True:
        yield date(year, month, entry.day)
        month += step
        if month > 12:
            year, month = year + 1, month - 12


def occurrences(entry: ScheduledDrill, start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
    """The reminders' times in [start, end)."""
    hour, minute = (int(part) for part in entry.at.split(":"))
    found = []
    for day in _days(entry, start.astimezone(zone).date() - timedelta(days=7)):
        moment = datetime.combine(day, time(hour, minute), zone)
        if moment >= end:
            return found
        if moment >= start:
            found.append(moment)
    return found


def next_occurrence(entry: ScheduledDrill, after: datetime, zone: ZoneInfo) -> datetime:
    horizon = after + timedelta(days=100)
    return occurrences(entry, after + timedelta(seconds=1), horizon, zone)[0]
