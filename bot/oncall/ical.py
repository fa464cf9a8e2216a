"""iCalendar (RFC 5545) feeds of the rota: one VEVENT per shift, for a schedule or for one person.

Written with the `icalendar` library so Google, Outlook and Apple read it: UTC times (no VTIMEZONE to get
wrong), a UID stable per schedule, person and start (a client updates the event instead of adding one
when the feed is fetched again), and a DTSTAMP. Swaps and overrides are in it, since it is painted from
the effective schedules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from bot.oncall.schedules import Schedule, Shift, shifts

PAST = timedelta(days=30)
AHEAD = timedelta(days=180)
"""What a feed holds: the last month (what happened) and half a year ahead (what to plan around)."""
PRODID = "-//incidentbot//on-call rota//EN"


def feed(
    schedules: list[Schedule], now: datetime, user: str | None = None, names: dict[str, str] | None = None
) -> bytes:
    """The feed of `schedules` (every shift), or of `user`'s shifts in them."""
    names = names or {}
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    title = (
        f"On call: {names.get(user, user)}" if user else f"On call: {', '.join(s.name for s in schedules)}"
    )
    calendar.add("x-wr-calname", title)
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for schedule in schedules:
        for shift in shifts(schedule, now - PAST, now + AHEAD):
            if user is None or shift.user == user:
                calendar.add_component(_event(schedule, shift, stamp, names))
    return calendar.to_ical()


def _event(schedule: Schedule, shift: Shift, stamp: datetime, names: dict[str, str]) -> Event:
    event = Event()
    start = shift.start.astimezone(UTC)
    event.add("uid", f"{schedule.id}-{shift.user}-{start:%Y%m%dT%H%M%SZ}@incidentbot")
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", shift.end.astimezone(UTC))
    who = names.get(shift.user, shift.user)
    note = " (override)" if shift.is_override else ""
    event.add("summary", f"{schedule.name}: {who}{note}")
    event.add("description", f"On call for {schedule.name} ({schedule.id}); Slack user {shift.user}.")
    event.add("transp", "TRANSPARENT")
    return event
