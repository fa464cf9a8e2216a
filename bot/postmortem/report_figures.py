"""The incident metrics report's figures, computed from rows: `build_report` is pure (rows in,
figures out) so every rule below is tested without a database, and the renderers (`report_render`)
only format what it decided.

Rules, so nobody has to guess what a figure means:

- the window is half-open, [since, until): an incident belongs to it by its declaration time;
- times come from `response_times` (bot/postmortem/metrics.py), the same the post-mortem shows; an
  incident that lacks a moment (no page acknowledged, still open, no known start of impact) gives no
  sample for that metric — "no data" is never 0;
- mean, median and p90 (nearest rank: the smallest sample with at least 90 % of samples at or under it);
  a time target is met when the mean is at or under it, a rate target when the rate is at or above it;
- the overall row has a target only when the config gives one duration for every severity; with
  per-severity targets its status sums theirs up (missed if any is missed);
- months are calendar months in the configured time zone, every month the window touches, even empty;
- a repeat is an incident of the same service as an earlier one, declared at most `repeat_window` after
  it, sharing an alert name (from the ALERT_RECEIVED events); the earlier one may precede the window;
- post-mortem completion: of the window's resolved incidents whose severity requires one, the share
  whose post-mortem is published (an open incident cannot have one yet);
- action item completion: of the items whose due date ends inside the window (the due day's end, local
  time), the share done now; `on_time` counts those done by the end of their due day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import EventKind, Incident, TimelineEvent
from bot.formatting.stats import median, p90
from bot.postmortem.metrics import ResponseTimes, response_times
from bot.postmortem.report_settings import TIME_METRICS, ReportConfig
from bot.postmortem.store import DONE, OUT, ActionItem, Postmortem
from bot.settings import IncidentSettings

MET, MISSED, NO_DATA, NO_TARGET = "met", "missed", "no data", "no target"
INVALID = "invalid data"
"""Some incident's duration is negative (an impact start after its detection): never counted as met."""
ALL = "all"
"""The severity column of the overall figures."""

METRIC_NAMES = {
    "mttd": "MTTD",
    "mtta": "MTTA",
    "mttm": "MTTM",
    "mttr": "MTTR",
}

_TIMES = {
    "mttd": lambda t: t.time_to_detect,
    "mtta": lambda t: t.time_to_acknowledge,
    "mttm": lambda t: t.time_to_mitigate,
    "mttr": lambda t: t.time_to_resolve,
}


@dataclass(frozen=True)
class TimeStat:
    metric: str
    severity: str
    samples: int
    mean: timedelta | None
    median: timedelta | None
    p90: timedelta | None
    target: timedelta | None
    status: str
    invalid: tuple[int, ...] = ()
    """Incidents whose duration is negative: left out of the figures and named, so someone fixes them."""


@dataclass(frozen=True)
class SeverityFigures:
    severity: str
    count: int
    times: dict[str, TimeStat]
    """metric (TIME_METRICS) -> figures."""
    repeats: int


@dataclass(frozen=True)
class MonthCount:
    month: str
    """YYYY-MM, in the configured time zone."""
    count: int
    by_severity: dict[str, int]


@dataclass(frozen=True)
class Repeat:
    incident_id: int
    severity: str
    service: str
    alertnames: tuple[str, ...]
    """Alert names it shares with the earlier incident."""
    previous_id: int
    gap: timedelta
    """Declaration of the earlier incident → declaration of this one."""


@dataclass(frozen=True)
class RateStat:
    metric: str
    numerator: int
    denominator: int
    target: float | None
    status: str
    missing: tuple[int, ...] = ()
    """Incident ids without a published post-mortem / ids of the action items not done."""
    on_time: int | None = None

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    generated_at: datetime
    timezone: str
    severities: list[SeverityFigures]
    overall: SeverityFigures
    months: list[MonthCount]
    repeats: list[Repeat]
    repeat_window: timedelta
    postmortems: RateStat
    postmortem_required: tuple[str, ...]
    action_items: RateStat
    missed: list[str] = field(default_factory=list)
    """One line per target missed; `--check` fails when there is any."""


# --- computation ----------------------------------------------------------------------------------


def _verdict(samples: int, mean: timedelta | None, target: timedelta | None) -> str:
    if samples == 0 or mean is None:
        return NO_DATA
    if target is None:
        return NO_TARGET
    return MET if mean <= target else MISSED


def _time_stat(
    metric: str, severity: str, found: list[tuple[int, timedelta]], target: timedelta | None
) -> TimeStat:
    invalid = tuple(incident_id for incident_id, value in found if value < timedelta(0))
    values = [value for _, value in found if value >= timedelta(0)]
    mean = sum(values, timedelta()) / len(values) if values else None
    return TimeStat(
        metric=metric,
        severity=severity,
        samples=len(values),
        mean=mean,
        median=median(values) if values else None,
        p90=p90(values) if values else None,
        target=target,
        status=INVALID if invalid else _verdict(len(values), mean, target),
        invalid=invalid,
    )


def _overall_status(samples: int, per_severity: Iterable[TimeStat]) -> str:
    statuses = {s.status for s in per_severity}
    if samples == 0:
        return NO_DATA
    for status in (MISSED, MET):
        if status in statuses:
            return status
    return NO_TARGET


def _alertnames(events: Sequence[TimelineEvent]) -> set[str]:
    names = set()
    for event in events:
        if event.kind == EventKind.ALERT_RECEIVED:
            alert = event.data.get("alert")
            name = alert.get("alertname") if isinstance(alert, dict) else None
            if name:
                names.add(str(name))
    return names


def _repeats(
    window: Sequence[Incident],
    everything: Sequence[Incident],
    events: Mapping[int, Sequence[TimelineEvent]],
    repeat_window: timedelta,
) -> list[Repeat]:
    """For each incident of the window, the latest earlier one it repeats (None: not a repeat)."""
    names = {i.id: _alertnames(events.get(i.id, ())) for i in [*everything, *window]}
    by_service: dict[str, list[Incident]] = {}
    for candidate in sorted(everything, key=_order):
        if candidate.service and names[candidate.id]:
            by_service.setdefault(candidate.service, []).append(candidate)
    found = []
    for incident in window:
        if not incident.service or not names[incident.id]:
            continue
        previous = next(
            (
                j
                for j in reversed(by_service.get(incident.service, []))
                if _order(j) < _order(incident)
                and incident.created_at - j.created_at <= repeat_window
                and names[j.id] & names[incident.id]
            ),
            None,
        )
        if previous is not None:
            found.append(
                Repeat(
                    incident_id=incident.id,
                    severity=incident.severity,
                    service=incident.service,
                    alertnames=tuple(sorted(names[previous.id] & names[incident.id])),
                    previous_id=previous.id,
                    gap=incident.created_at - previous.created_at,
                )
            )
    return found


def _order(incident: Incident) -> tuple[datetime, int]:
    return incident.created_at, incident.id


def _months(since: datetime, until: datetime, zone: ZoneInfo) -> list[str]:
    first = since.astimezone(zone)
    last = (until - timedelta(microseconds=1)).astimezone(zone)
    year, month, months = first.year, first.month, []
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _deadline(due: date, zone: ZoneInfo) -> datetime:
    """The end of the due day, local time: the first moment the item is late."""
    return datetime.combine(due + timedelta(days=1), time(), tzinfo=zone)


def _rate(
    metric: str, numerator: int, denominator: int, target: float | None, missing: Iterable[int], **extra: Any
) -> RateStat:
    if denominator == 0:
        status = NO_DATA
    elif target is None:
        status = NO_TARGET
    else:
        status = MET if numerator / denominator >= target else MISSED
    return RateStat(metric, numerator, denominator, target, status, tuple(missing), **extra)


def build_report(
    incidents: Sequence[Incident],
    events_by_incident: Mapping[int, Sequence[TimelineEvent]],
    postmortems: Iterable[Postmortem],
    action_items: Iterable[ActionItem],
    config: IncidentSettings,
    report_config: ReportConfig,
    since: datetime,
    until: datetime,
    now: datetime,
) -> Report:
    """The figures of the incidents declared in [since, until).

    `incidents` may hold earlier ones too (those within `repeat_window` before `since`): they only serve
    to find repeats. `events_by_incident` holds each incident's timeline in time order.
    """
    if since >= until:
        raise ValueError(f"the window is empty: since {since.isoformat()} is not before {until.isoformat()}")
    zone = config.zone
    by_id = {p.incident_id: p for p in postmortems}
    window = sorted((i for i in incidents if since <= i.created_at < until), key=_order)
    times: dict[int, ResponseTimes] = {
        i.id: response_times(
            i,
            events_by_incident.get(i.id, ()),
            config.mitigated_statuses,
            by_id[i.id].narrative if i.id in by_id else None,
        )
        for i in window
    }
    repeats = _repeats(window, incidents, events_by_incident, report_config.repeat_window)

    configured = [s.id for s in config.severities]
    severity_ids = configured + sorted({i.severity for i in window} - set(configured))
    rows: list[SeverityFigures] = []
    missed: list[str] = []
    for severity in severity_ids:
        members = [i for i in window if i.severity == severity]
        known = config.severity(severity)
        stats = {}
        for metric in TIME_METRICS:
            found = [(i.id, v) for i in members if (v := _TIMES[metric](times[i.id])) is not None]
            target = report_config.time_target(metric, severity, known.response_target if known else None)
            stats[metric] = stat = _time_stat(metric, severity, found, target)
            if stat.status in (MISSED, INVALID):
                missed.append(_missed_time(stat))
        rows.append(
            SeverityFigures(severity, len(members), stats, sum(r.severity == severity for r in repeats))
        )

    overall_times = {}
    for metric in TIME_METRICS:
        found = [(i.id, v) for i in window if (v := _TIMES[metric](times[i.id])) is not None]
        target = report_config.overall_time_target(metric)
        stat = _time_stat(metric, ALL, found, target)
        if target is None and not stat.invalid:
            per_severity = [row.times[metric] for row in rows]
            stat = replace(stat, status=_overall_status(stat.samples, per_severity))
        # A single target missed overall is missed by some severity too: `missed` names that one.
        overall_times[metric] = stat
    overall = SeverityFigures(ALL, len(window), overall_times, len(repeats))

    per_month = {key: dict.fromkeys(severity_ids, 0) for key in _months(since, until, zone)}
    for incident in window:
        per_month[incident.created_at.astimezone(zone).strftime("%Y-%m")][incident.severity] += 1
    months = [MonthCount(key, sum(counts.values()), counts) for key, counts in per_month.items()]

    targets = report_config.targets
    required_severities = report_config.required_severities(configured)
    required = [i for i in window if i.severity in required_severities and i.resolved_at is not None]
    published = {i.id for i in required if i.id in by_id and by_id[i.id].status in OUT}
    postmortem_rate = _rate(
        "postmortem_completion",
        len(published),
        len(required),
        targets.postmortem_completion,
        [i.id for i in required if i.id not in published],
    )
    due = [
        item for item in action_items if item.due is not None and since < _deadline(item.due, zone) <= until
    ]
    done = [item for item in due if item.status == DONE]
    on_time = [
        item for item in done if item.done_at and item.due and item.done_at < _deadline(item.due, zone)
    ]
    action_rate = _rate(
        "action_item_completion",
        len(done),
        len(due),
        targets.action_item_completion,
        [item.id for item in due if item.status != DONE],
        on_time=len(on_time),
    )
    for rate in (postmortem_rate, action_rate):
        if rate.status == MISSED and rate.value is not None and rate.target is not None:
            missed.append(
                f"{rate.metric}: {rate.numerator}/{rate.denominator} = {percent(rate.value)} "
                f"< target {percent(rate.target)}"
            )

    return Report(
        since=since,
        until=until,
        generated_at=now,
        timezone=config.timezone,
        severities=rows,
        overall=overall,
        months=months,
        repeats=repeats,
        repeat_window=report_config.repeat_window,
        postmortems=postmortem_rate,
        postmortem_required=required_severities,
        action_items=action_rate,
        missed=missed,
    )


def _missed_time(stat: TimeStat) -> str:
    if stat.invalid:
        named = ", ".join(f"INC-{i}" for i in stat.invalid)
        return (
            f"{METRIC_NAMES[stat.metric]} {stat.severity}: negative for {named} (an impact start after "
            "detection, or times out of order): fix the impact times in the post-mortem form"
        )
    assert stat.mean is not None and stat.target is not None
    return (
        f"{METRIC_NAMES[stat.metric]} {stat.severity}: mean {human(stat.mean)} > target {human(stat.target)}"
        f" ({stat.samples} incident{'s' if stat.samples != 1 else ''})"
    )


# --- durations and rates as text (also used by the renderers) -------------------------------------


def human(delta: timedelta) -> str:
    """`4 min 30 s`, `2 h 5 min`, `3 d 4 h`: the two largest units, rounded to the second."""
    seconds = round(delta.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    amounts = [
        (seconds // 86400, "d"),
        (seconds // 3600 % 24, "h"),
        (seconds // 60 % 60, "min"),
        (seconds % 60, "s"),
    ]
    first = next((n for n, (amount, _) in enumerate(amounts) if amount), len(amounts) - 1)
    shown = [f"{amount} {unit}" for amount, unit in amounts[first : first + 2] if amount or first == 3]
    return sign + " ".join(shown)


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"
