"""Uptime per component and day, from the component statuses the public updates set.

A day counts its seconds in the page's time zone up to now. Time under planned maintenance is left out
of the day; of the rest, time in `major_outage` counts fully as down, `partial_outage` half, and
`degraded_performance` not at all (slow is not down). Several incidents on one component at once count as
the worst of them. A day entirely under maintenance has no figure.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.statuspage.model import MAINTENANCE, OPERATIONAL, Maintenance, PublicIncident, worst

DOWN_WEIGHT = {"major_outage": 1.0, "partial_outage": 0.5}


@dataclass(frozen=True)
class Day:
    day: date
    uptime: float | None
    """Fraction of the counted time up (1.0 = no downtime); None when nothing was counted."""
    status: str
    """The worst component status seen that day (maintenance included)."""
    down_seconds: float
    counted_seconds: float


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    status: str


def segments(incidents: list[PublicIncident], component: str, now: datetime) -> list[Segment]:
    """When each incident held `component` in a status other than operational."""
    found = []
    for incident in incidents:
        updates = incident.updates
        for index, update in enumerate(updates):
            status = incident.component_statuses(index).get(component, OPERATIONAL)
            start = update.display_at or update.created_at
            if index + 1 < len(updates):
                end = updates[index + 1].display_at or updates[index + 1].created_at
            else:
                end = start if incident.resolved else now
            if status != OPERATIONAL and end > start:
                found.append(Segment(start, end, status))
    return found


def maintenance_segments(maintenances: list[Maintenance], component: str, now: datetime) -> list[Segment]:
    return [
        Segment(m.scheduled_for, min(m.scheduled_until, now), MAINTENANCE)
        for m in maintenances
        if component in m.components and m.cancelled_at is None and m.scheduled_for < now
    ]


def days(
    incidents: list[PublicIncident],
    maintenances: list[Maintenance],
    component: str,
    now: datetime,
    zone: ZoneInfo,
    count: int,
    sli: dict[date, float | None] | None = None,
) -> list[Day]:
    """The last `count` days, oldest first, today (up to now) last. With `sli` (day -> SLI from
    Prometheus), a day's figure is its SLI where Prometheus had one; the status stays the public one."""
    outages = segments(incidents, component, now)
    planned = maintenance_segments(maintenances, component, now)
    today = now.astimezone(zone).date()
    result = []
    for offset in range(count - 1, -1, -1):
        day = today - timedelta(days=offset)
        start = datetime.combine(day, time(), zone)
        end = min(datetime.combine(day + timedelta(days=1), time(), zone), now)
        found = _day(day, start, end, outages, planned)
        measured = (sli or {}).get(day)
        if measured is not None:
            length = (end - start).total_seconds()
            found = Day(day, measured, found.status, (1 - measured) * length, length)
        result.append(found)
    return result


def _day(day: date, start: datetime, end: datetime, outages: list[Segment], planned: list[Segment]) -> Day:
    relevant = [s for s in outages + planned if s.start < end and s.end > start]
    points = sorted(
        {start, end, *(max(s.start, start) for s in relevant), *(min(s.end, end) for s in relevant)}
    )
    down = counted = 0.0
    seen = [OPERATIONAL]
    for left, right in itertools.pairwise(points):
        length = (right - left).total_seconds()
        covering = [s.status for s in relevant if s.start <= left and s.end >= right]
        if MAINTENANCE in covering:
            seen.append(MAINTENANCE)
            continue
        status = worst(covering)
        seen.append(status)
        counted += length
        down += length * DOWN_WEIGHT.get(status, 0.0)
    uptime = 1 - down / counted if counted > 0 else None
    return Day(day, uptime, worst(seen), down, counted)


def overall(found: list[Day]) -> float | None:
    counted = sum(d.counted_seconds for d in found)
    return 1 - sum(d.down_seconds for d in found) / counted if counted > 0 else None
