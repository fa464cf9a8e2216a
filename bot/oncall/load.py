"""On-call load and fairness, per person and ISO week, from the pages the bot sent and the rota it paged.

Pure arithmetic over what the caller loaded (pages, effective schedules, drills to leave out), so the
figures are the same from the CLI, the monthly summary and a test. The formulas are in the README
("On-call load"); in short, for person p and week w (both in p's own time zone):

- pages(p, w): pages sent to p in w; out of hours: those outside `working_hours`; night: inside
  `sleep_hours`; incidents: distinct incidents among them. Pages of drill incidents are left out.
- hours on call: the union of p's shifts over every schedule, cut to the window and to w;
  days on call: local dates with any on-call time; consecutive weeks: weeks in a row ending with w
  in which p was on call at all.
- time to acknowledge: the median of (acked − sent) over p's acknowledged pages.
- share: pages(p) / pages(everyone) over the same span; fair is 1/n, n the people on the rota.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.oncall.rota_store import PageRecord
from bot.oncall.schedules import ActiveWindow, Schedule, shifts
from bot.oncall.settings import LoadConfig

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Figures:
    pages: int = 0
    out_of_hours: int = 0
    night: int = 0
    incidents: int = 0
    hours_on_call: float = 0.0
    days_on_call: int = 0
    median_ack_seconds: float | None = None
    share: float | None = None


@dataclass(frozen=True)
class PersonWeek:
    user: str
    week: str
    """ISO week in the person's zone, e.g. 2026-W50."""
    figures: Figures
    consecutive_weeks: int


@dataclass(frozen=True)
class PersonTotal:
    user: str
    timezone: str
    figures: Figures
    longest_days_in_a_row: int
    longest_weeks_in_a_row: int


@dataclass(frozen=True)
class LoadReport:
    since: datetime
    until: datetime
    rota_size: int
    fair_share: float | None
    weeks: list[PersonWeek]
    people: list[PersonTotal]
    warnings: list[str] = field(default_factory=list)


def inside(window: ActiveWindow, at: datetime, zone: ZoneInfo) -> bool:
    """Whether `at` falls in `window` read in `zone` (an overnight window belongs to the day it starts)."""
    local = at.astimezone(zone)
    clock, weekday = local.time(), local.strftime("%a").lower()
    yesterday = (local - timedelta(days=1)).strftime("%a").lower()
    if not window.overnight:
        return weekday in window.days and window.from_ <= clock < window.to
    return (weekday in window.days and clock >= window.from_) or (
        yesterday in window.days and clock < window.to
    )


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def rota_users(schedules: Iterable[Schedule]) -> list[str]:
    return list(dict.fromkeys(user for s in schedules for layer in s.layers for user in layer.users))


def build(
    schedules: list[Schedule],
    pages: list[PageRecord],
    since: datetime,
    until: datetime,
    zones: dict[str, ZoneInfo],
    settings: LoadConfig,
    drills: set[int] | None = None,
) -> LoadReport:
    """The report over [since, until); `zones` has every person's zone (the caller picks the fallback)."""
    drills = drills or set()
    counted = [p for p in pages if p.incident_id not in drills and since <= p.sent_at < until]
    on_call = _on_call_spans(schedules, since, until)
    rota = rota_users(schedules)
    people = list(dict.fromkeys([*rota, *(p.target for p in counted)]))
    fallback = ZoneInfo("UTC")
    by_week: dict[tuple[str, str], list[PageRecord]] = defaultdict(list)
    for page in counted:
        zone = zones.get(page.target, fallback)
        by_week[(page.target, iso_week(page.sent_at.astimezone(zone).date()))].append(page)
    team_week: dict[str, int] = defaultdict(int)
    for (_, week), found in by_week.items():
        team_week[week] += len(found)
    weeks: list[PersonWeek] = []
    totals: list[PersonTotal] = []
    for user in people:
        zone = zones.get(user, fallback)
        hours, days = _hours_and_days(on_call.get(user, []), zone)
        active_weeks = sorted(
            {week for week in hours if hours[week] > 0} | {w for u, w in by_week if u == user}
        )
        streaks = _streaks(sorted(w for w in hours if hours[w] > 0))
        for week in active_weeks:
            mine = by_week.get((user, week), [])
            figures = _figures(
                mine, settings, zone, hours.get(week, 0.0), len(days.get(week, set())), team_week.get(week, 0)
            )
            weeks.append(PersonWeek(user, week, figures, streaks.get(week, 0)))
        mine = [p for p in counted if p.target == user]
        all_days = sorted(set().union(*days.values())) if days else []
        figures = _figures(mine, settings, zone, sum(hours.values()), len(all_days), len(counted))
        totals.append(
            PersonTotal(user, zone.key, figures, _longest_run(all_days), max(streaks.values(), default=0))
        )
    fair = 1 / len(rota) if rota else None
    report = LoadReport(since, until, len(rota), fair, weeks, totals)
    report.warnings.extend(_warnings(report, settings, len(counted)))
    return report


def _figures(
    pages: list[PageRecord], settings: LoadConfig, zone: ZoneInfo, hours: float, days: int, team: int
) -> Figures:
    acks = [(p.acked_at - p.sent_at).total_seconds() for p in pages if p.acked_at is not None]
    return Figures(
        pages=len(pages),
        out_of_hours=sum(not inside(settings.working_hours, p.sent_at, zone) for p in pages),
        night=sum(inside(settings.sleep_hours, p.sent_at, zone) for p in pages),
        incidents=len({p.incident_id for p in pages}),
        hours_on_call=round(hours, 2),
        days_on_call=days,
        median_ack_seconds=statistics.median(acks) if acks else None,
        share=round(len(pages) / team, 4) if team else None,
    )


def _on_call_spans(schedules: list[Schedule], since: datetime, until: datetime) -> dict[str, list[Span]]:
    """Each person's on-call time in the window, the union over every schedule."""
    spans: dict[str, list[Span]] = defaultdict(list)
    for schedule in schedules:
        for shift in shifts(schedule, since, until):
            spans[shift.user].append((shift.start, shift.end))
    return {user: _union(found) for user, found in spans.items()}


def _union(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _hours_and_days(spans: list[Span], zone: ZoneInfo) -> tuple[dict[str, float], dict[str, set[date]]]:
    """Hours on call per ISO week and the local dates touched, cut at local midnights."""
    hours: dict[str, float] = defaultdict(float)
    days: dict[str, set[date]] = defaultdict(set)
    for start, end in spans:
        cursor = start
        while cursor < end:
            local = cursor.astimezone(zone)
            midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)
            stop = min(end, midnight)
            week = iso_week(local.date())
            hours[week] += (stop - cursor).total_seconds() / 3600
            days[week].add(local.date())
            cursor = stop
    return hours, days


def _streaks(weeks: list[str]) -> dict[str, int]:
    """For each week on call: how many weeks in a row, ending with it, the person was on call."""
    streaks: dict[str, int] = {}
    previous: date | None = None
    for week in weeks:
        monday = date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
        run = streaks[iso_week(previous)] + 1 if previous and monday - previous == timedelta(days=7) else 1
        streaks[week] = run
        previous = monday
    return streaks


def _longest_run(days: list[date]) -> int:
    longest = run = 0
    for index, day in enumerate(days):
        run = run + 1 if index and day - days[index - 1] == timedelta(days=1) else 1
        longest = max(longest, run)
    return longest


def _warnings(report: LoadReport, settings: LoadConfig, team_pages: int) -> list[str]:
    warnings: list[str] = []
    for row in report.weeks:
        if row.consecutive_weeks == settings.max_consecutive_weeks + 1:
            warnings.append(
                f"<@{row.user}> on call {row.consecutive_weeks} weeks in a row up to {row.week}"
                f" (more than {settings.max_consecutive_weeks})"
            )
        if row.figures.night > settings.max_night_pages_per_week:
            warnings.append(
                f"<@{row.user}> paged {row.figures.night} times during sleep hours in {row.week}"
                f" (more than {settings.max_night_pages_per_week})"
            )
    if report.fair_share is not None and team_pages >= report.rota_size:
        limit = settings.fair_share_factor * report.fair_share
        for person in report.people:
            share = person.figures.share
            if share is not None and share > limit:
                warnings.append(
                    f"<@{person.user}> took {share:.0%} of the team's pages"
                    f" (fair is {report.fair_share:.0%}; warned above {limit:.0%})"
                )
    return warnings
