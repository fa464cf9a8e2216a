"""Where each audience stands against the stakeholder matrix, read from the timeline alone.

The timeline is the one record: a notice (`audience_told`), a status-page publication (for the audience
that `status_page: true` names), the customer calls, a "Not needed" and every severity change are events,
so the pinned summary, the reminders, the report and the post-mortem all derive the same deadlines from
it and nothing has to be kept in step.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.communication.settings import Audience, CommunicationConfig
from bot.domain import AudienceRecord, EventKind, Incident, TimelineEvent

REACHED = ("called", "left_message")
"""Call outcomes that count as having told the customer; "no answer" does not."""


@dataclass(frozen=True)
class Waiver:
    at: datetime
    by: str | None
    reason: str


ON_TIME = timedelta(minutes=1)


@dataclass(frozen=True)
class AudiencePlan:
    """One audience of one incident: its first deadline, when it was told, what is due now."""

    name: str
    audience: Audience
    first_due: datetime | None
    """The first-notice deadline from the matrix (the earliest the incident's severities gave)."""
    told: tuple[datetime, ...]
    """Every notice the audience got, in order (the first is the one the deadline is about)."""
    waiver: Waiver | None
    """A "Not needed" still in force (a later rise of the severity lifts it)."""
    due: datetime | None
    """The deadline pending now: the first notice, or the next one the cadence or a promise asks for."""
    calls: dict[str, str]
    """Contact name → last call outcome (call-list audiences)."""

    @property
    def first_told(self) -> datetime | None:
        return self.told[0] if self.told else None

    @property
    def met_first(self) -> bool | None:
        """Whether the first notice came by its deadline; None when there was no deadline or no notice.
        Deadlines are whole minutes: a notice within the deadline's minute is on time (the automatic
        notice of a `0m` audience leaves a second or two after the declaration, and is not late)."""
        if self.first_due is None or self.first_told is None:
            return None
        return self.first_told < self.first_due + ON_TIME

    def overdue(self, now: datetime) -> timedelta | None:
        return now - self.due if self.due is not None and now > self.due else None


def severity_history(incident: Incident, timeline: Iterable[TimelineEvent]) -> list[tuple[datetime, str]]:
    """(since when, severity) in order, from the declaration on."""
    changes = [e for e in timeline if e.kind == EventKind.SEVERITY_CHANGED]
    first = str(changes[0].data.get("from") or incident.severity) if changes else incident.severity
    history = [(incident.created_at, first)]
    history += [(e.occurred_at, str(e.data.get("to") or "")) for e in changes]
    return history


def _first_due(audience: Audience, history: list[tuple[datetime, str]]) -> datetime | None:
    dues = [at + audience.first[severity] for at, severity in history if audience.covers(severity)]
    return min(dues) if dues else None


def _told_times(name: str, audience: Audience, timeline: Sequence[TimelineEvent]) -> list[TimelineEvent]:
    told = [
        e
        for e in timeline
        if (e.kind == EventKind.AUDIENCE_TOLD and e.data.get("audience") == name)
        or (audience.status_page and e.kind == EventKind.STATUS_PAGE_PUBLISHED)
    ]
    if audience.call_list:
        done = _all_reached(name, audience, timeline)
        if done is not None:
            told.append(done)
    return sorted(told, key=lambda e: (e.occurred_at, e.id))


def calls_of(name: str, timeline: Iterable[TimelineEvent]) -> dict[str, str]:
    calls: dict[str, str] = {}
    for event in timeline:
        if event.kind == EventKind.CUSTOMER_CALL and event.data.get("audience") == name:
            calls[str(event.data.get("contact"))] = str(event.data.get("outcome"))
    return calls


def _all_reached(name: str, audience: Audience, timeline: Sequence[TimelineEvent]) -> TimelineEvent | None:
    """The call that completed the list: every contact reached once (the audience then counts as told)."""
    reached: dict[str, TimelineEvent] = {}
    for event in timeline:
        if (
            event.kind == EventKind.CUSTOMER_CALL
            and event.data.get("audience") == name
            and event.data.get("outcome") in REACHED
        ):
            reached.setdefault(str(event.data.get("contact")), event)
    if not audience.call_list or any(c.name not in reached for c in audience.call_list):
        return None
    return max(reached.values(), key=lambda e: (e.occurred_at, e.id))


def _waiver(name: str, timeline: Sequence[TimelineEvent]) -> tuple[Waiver | None, datetime | None]:
    """The "Not needed" in force, and when a rise of the severity last lifted one (the deadlines then
    start again from that rise)."""
    waiver: Waiver | None = None
    lifted: datetime | None = None
    for event in timeline:
        if event.kind == EventKind.AUDIENCE_NOT_NEEDED and event.data.get("audience") == name:
            waiver = Waiver(event.occurred_at, event.actor, str(event.data.get("reason") or ""))
        elif waiver and event.kind == EventKind.SEVERITY_CHANGED and event.data.get("direction") == "up":
            waiver, lifted = None, event.occurred_at
    return waiver, lifted


def audience_plan(
    name: str,
    audience: Audience,
    incident: Incident,
    timeline: Sequence[TimelineEvent],
    resolved: bool,
) -> AudiencePlan | None:
    """None for an audience the incident never concerned (its matrix names none of its severities) and
    that nobody told anything."""
    history = severity_history(incident, timeline)
    told_events = _told_times(name, audience, timeline)
    first_due = _first_due(audience, history)
    if first_due is None and not told_events:
        return None
    waiver, lifted = _waiver(name, timeline)
    if lifted is not None and not told_events:
        first_due = _first_due(audience, [(at, s) for at, s in history if at >= lifted]) or first_due
    due: datetime | None = None
    current = incident.severity
    if not resolved and waiver is None:
        if not told_events:
            due = first_due if audience.covers(current) else None
        else:
            last = told_events[-1]
            promised = last.data.get("next_update_minutes")
            if last.data.get("notice") == "update" and promised:
                due = last.occurred_at + timedelta(minutes=int(promised))
            elif current in audience.every:
                due = last.occurred_at + audience.every[current]
    return AudiencePlan(
        name=name,
        audience=audience,
        first_due=first_due,
        told=tuple(e.occurred_at for e in told_events),
        waiver=waiver,
        due=due,
        calls=calls_of(name, timeline),
    )


def incident_plan(
    section: CommunicationConfig, incident: Incident, timeline: Sequence[TimelineEvent], resolved: bool
) -> list[AudiencePlan]:
    plans = (
        audience_plan(name, audience, incident, timeline, resolved)
        for name, audience in section.audiences.items()
    )
    return [p for p in plans if p is not None]


@dataclass(frozen=True)
class Cadence:
    kept: int
    missed: int


def cadence(plan: AudiencePlan, severity: str, ended: datetime) -> Cadence:
    """How many of the gaps between notices (and from the last one to the end) stayed within the
    audience's `every` for the incident's severity."""
    every = plan.audience.every.get(severity)
    if every is None or not plan.told:
        return Cadence(0, 0)
    times = [*plan.told, ended]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    kept = sum(1 for gap in gaps if gap <= every)
    return Cadence(kept, len(gaps) - kept)


def records(
    section: CommunicationConfig,
    incident: Incident,
    timeline: Sequence[TimelineEvent],
    resolved: bool,
    now: datetime,
) -> tuple[AudienceRecord, ...]:
    """Who was told when, for the post-mortem's "Communication" section."""
    ended = incident.resolved_at or now
    found = []
    for plan in incident_plan(section, incident, timeline, resolved):
        missed = plan.met_first is False or (
            plan.first_told is None
            and plan.waiver is None
            and plan.first_due is not None
            and ended > plan.first_due
        )
        found.append(
            AudienceRecord(
                audience=plan.name,
                first_due=plan.first_due,
                first_told=plan.first_told,
                missed_first=missed,
                notices=len(plan.told),
                waived=plan.waiver.reason if plan.waiver else None,
                waived_by=plan.waiver.by if plan.waiver else None,
                calls=tuple(plan.calls.items()),
                cadence_missed=cadence(plan, incident.severity, ended).missed,
            )
        )
    return tuple(found)
