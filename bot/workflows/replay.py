"""`incidentbot workflow test NAME --incident INC-N`: which steps a workflow would run on a past incident,
and with what, read off its timeline without running anything.

The incident's severity, status and labels are replayed event by event, so each trigger is judged as the
bot would have judged it then (not with the incident's final state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.domain import EventKind, Incident, TimelineEvent
from bot.settings import IncidentSettings
from bot.workflows import settings as spec
from bot.workflows.match import Facts, alert_labels, facts_of, holds, triggers_of
from bot.workflows.settings import Workflow


@dataclass(frozen=True)
class Planned:
    trigger: str
    event_id: int
    at: datetime
    """When it would run (a delay: the `of` event's time plus `after`)."""
    runs: bool
    why: str
    steps: list[str] = field(default_factory=list)


def _apply(facts: Facts, event: TimelineEvent, config: IncidentSettings) -> Facts:
    data = event.data
    if event.kind == EventKind.DECLARED:
        return replace(
            facts,
            severity=str(data.get("severity") or facts.severity),
            status=str(data.get("status") or facts.status),
            service=data.get("service", facts.service),
            private=bool(data.get("private", facts.private)),
        )
    if event.kind == EventKind.SEVERITY_CHANGED and data.get("to"):
        return replace(facts, severity=str(data["to"]))
    if event.kind == EventKind.STATUS_CHANGED and data.get("to"):
        return replace(facts, status=str(data["to"]))
    if event.kind == EventKind.RESOLVED:
        return replace(facts, status=config.resolved_status)
    if event.kind == EventKind.REOPENED:
        return replace(facts, status=config.initial_status)
    if event.kind in (EventKind.ALERT_RECEIVED, EventKind.ALERT_RESOLVED):
        return replace(facts, labels={**facts.labels, **alert_labels(event.data)})
    if event.kind == EventKind.FIELD_SET and "field" in event.data:
        return replace(
            facts, fields={**facts.fields, str(event.data["field"]): str(event.data.get("value", ""))}
        )
    return facts


def _states(incident: Incident, events: list[TimelineEvent], config: IncidentSettings) -> list[Facts]:
    """The facts right after each event."""
    facts = replace(facts_of(incident, {}), fields={})
    states = []
    for event in events:
        facts = _apply(facts, event, config)
        states.append(facts)
    return states


def _why_not(facts: Facts) -> str:
    return (
        f"conditions do not hold (severity {facts.severity}, status {facts.status}, "
        f"service {facts.service or '-'}, private {str(facts.private).lower()})"
    )


def replay(
    workflow: Workflow,
    incident: Incident,
    events: list[TimelineEvent],
    config: IncidentSettings,
    describe: Callable[[spec.Step], str],
) -> list[Planned]:
    """Every run the workflow would have had on this incident, in time order."""
    states = _states(incident, events, config)
    planned: list[Planned] = []
    for index, event in enumerate(events):
        for trigger in triggers_of(event.kind.value, event.data):
            planned += _planned(workflow, trigger, events, states, index, describe)
    return sorted(planned, key=lambda p: (p.at, p.event_id))


def _planned(
    workflow: Workflow,
    trigger: str,
    events: list[TimelineEvent],
    states: list[Facts],
    index: int,
    describe: Callable[[spec.Step], str],
) -> list[Planned]:
    """What one trigger of one event would have started."""
    event, facts = events[index], states[index]
    planned: list[Planned] = []
    if trigger in workflow.triggers:
        runs = holds(workflow.if_, facts)
        steps = [describe(step) for step in workflow.do] if runs else []
        planned.append(
            Planned(trigger, event.id, event.occurred_at, runs, "" if runs else _why_not(facts), steps)
        )
    for delay in workflow.delays:
        if delay.of != trigger:
            continue
        due = event.occurred_at + delay.after
        later = [(e, s) for e, s in zip(events, states, strict=True) if e.id > event.id]
        cancel = next((e for e, _ in later if e.occurred_at <= due and _cancels(e, delay)), None)
        if cancel is not None:
            why = f"cancelled by {_cancels(cancel, delay)} at {cancel.occurred_at:%Y-%m-%d %H:%M} UTC"
            planned.append(Planned(f"{trigger} + {_human(delay)}", event.id, due, False, why))
            continue
        then = next((s for e, s in reversed(later) if e.occurred_at <= due), facts)
        runs = holds(workflow.if_, then)
        steps = [describe(step) for step in workflow.do] if runs else []
        why = "" if runs else _why_not(then)
        planned.append(Planned(f"{trigger} + {_human(delay)}", event.id, due, runs, why, steps))
    return planned


def _cancels(event: TimelineEvent, delay: spec.Delay) -> str | None:
    """The `unless` trigger `event` is, if any."""
    return next((t for t in triggers_of(event.kind.value, event.data) if t in delay.unless), None)


def _human(delay: spec.Delay) -> str:
    minutes = int(delay.after.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
