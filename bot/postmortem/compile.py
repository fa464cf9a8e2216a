"""An incident's timeline, the narrative people wrote and its action items, compiled into a post-mortem.

Pure: facts in, Markdown (through the override-able `postmortem.md.j2`) or a Slack summary out; no
database, no Slack. Follows the blameless template: what happened and when comes from the timeline, why
and what we learn comes from people — and where people have not written yet, the document says so and
asks, instead of inventing anything. Every figure (times, error budget) is read off recorded events.

This module renders the Markdown document; its inputs live in `facts`, its figures in `figures`, the
Slack summary in `summary`, and the sample incident for `config check` in `sample`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.domain import CALL_OUTCOMES, AudienceRecord, EventKind, Incident, TimelineEvent
from bot.formatting import human_duration, status_label
from bot.formatting.markdown import md_block, md_cell, md_inline, person_name, slack_plain
from bot.postmortem.automation import change_rows
from bot.postmortem.facts import (
    NARRATIVE,
    WHY_PROMPTS,
    WHYS,
    Facts,
    file_name,
    normalized_incident,
    ordered_events,
)
from bot.postmortem.figures import budget_consumed, response_verdict
from bot.postmortem.metrics import ResponseTimes, response_times
from bot.postmortem.recovery import recovery_row
from bot.postmortem.sample import sample_facts
from bot.postmortem.store import DONE, ActionItem
from bot.postmortem.timeline import (
    TIMELINE_TIME,
    Describer,
    Entry,
    StepRow,
    aware,
    objective_text,
    parse_time,
    pct,
    step_row,
)
from bot.settings import COMMANDER_ROLE
from bot.templating import Templates

__all__ = [
    "TEMPLATE",
    "Entry",
    "Facts",
    "StepRow",
    "compile_postmortem",
    "file_name",
    "postmortem_context",
    "sample_facts",
]

TEMPLATE = "postmortem.md.j2"


@dataclass(frozen=True)
class MetricRow:
    metric: str
    duration: str
    start: str
    end: str


@dataclass(frozen=True)
class ActionRow:
    number: int
    text: str
    owner: str
    due: str
    status: str


@dataclass(frozen=True)
class BudgetRow:
    slo: str
    objective: str
    before: str
    after: str
    consumed: str


@dataclass(frozen=True)
class CommunicationRow:
    audience: str
    due: str
    told: str
    verdict: str
    notices: int
    notes: str


@dataclass(frozen=True)
class CommandRow:
    """One stretch of command: who held it, from when until when, and how they came to hold it."""

    holder: str
    start: str
    end: str
    duration: str
    how: str


@dataclass(frozen=True)
class Why:
    number: int
    text: str
    prompt: str


def _metric_rows(
    facts: Facts, times: ResponseTimes, events: Sequence[TimelineEvent], d: Describer
) -> list[MetricRow]:
    narrative_start = parse_time((facts.narrative or {}).get("impact_started_at"))
    if narrative_start:
        start_source = "impact started (as written)"
    elif times.started_at:
        start_source = "impact started (first alert)"
    else:
        start_source = "impact started"
    alerts_first = any(
        e.kind == EventKind.ALERT_RECEIVED and e.occurred_at < times.declared_at for e in events
    )
    detect_source = "first alert received" if alerts_first else "declared"
    mitigated = facts.config.mitigated_statuses
    reached = next(
        (
            e.data.get("to")
            for e in events
            if e.kind == EventKind.STATUS_CHANGED and e.data.get("to") in mitigated
        ),
        None,
    )
    if reached:
        mitigation = f"status {status_label(str(reached))}"
    else:
        mitigation = "resolved (no mitigation status recorded)"

    def moment(label: str, at: datetime | None) -> str:
        return f"{label}: {d.local(at, TIMELINE_TIME)}" if at else f"{label}: not recorded"

    def took(delta: timedelta | None) -> str:
        if delta is None:
            return "not recorded"
        if delta < timedelta(0):  # never shown as 0 s: the times recorded are out of order
            gap = human_duration(-delta)
            return f"not measurable: the end is {gap} before the start (check the impact times)"
        return human_duration(delta)

    declared = moment("declared", times.declared_at)
    return [
        MetricRow(
            "Time to detect",
            took(times.time_to_detect),
            moment(start_source, times.started_at),
            moment(detect_source, times.detected_at),
        ),
        MetricRow(
            "Time to acknowledge",
            took(times.time_to_acknowledge),
            declared,
            moment("first page acknowledged", times.acknowledged_at),
        ),
        MetricRow(
            "Time to mitigate", took(times.time_to_mitigate), declared, moment(mitigation, times.mitigated_at)
        ),
        MetricRow(
            "Time to resolve", took(times.time_to_resolve), declared, moment("resolved", times.resolved_at)
        ),
    ]


def _command_rows(
    incident: Incident, events: Sequence[TimelineEvent], d: Describer, now: datetime
) -> list[CommandRow]:
    """Who held command when, from the declaration's commander and every IC role change after it (a
    transfer names who asked for it); the last stretch ends at the resolution, or is still running."""
    starts: list[tuple[datetime, str | None, str]] = []
    for e in events:
        if e.kind == EventKind.DECLARED and e.data.get("commander"):
            starts.append((e.occurred_at, str(e.data["commander"]), "from the declaration"))
        elif e.kind == EventKind.ROLE_ASSIGNED and e.data.get("role") == COMMANDER_ROLE:
            if e.data.get("transfer"):
                how = f"accepted a transfer asked by {d.who(e.data.get('requested_by'))}"
            else:
                how = f"assigned by {d.who(e.actor)}"
            starts.append((e.occurred_at, str(e.data.get("user")), how))
    if not starts and incident.commander:
        starts.append((aware(incident.created_at), incident.commander, "from the declaration"))
    rows = []
    for n, (start, holder, how) in enumerate(starts):
        if n + 1 < len(starts):
            end, end_text = starts[n + 1][0], d.local(starts[n + 1][0])
        elif incident.resolved_at is not None:
            end, end_text = aware(incident.resolved_at), f"resolved at {d.local(incident.resolved_at)}"
        else:
            end, end_text = now, "now (ongoing)"
        rows.append(CommandRow(d.who(holder), d.local(start), end_text, human_duration(end - start), how))
    return rows


# -- the document -------------------------------------------------------------------------------------


def _written(narrative: Mapping[str, Any], key: str) -> str:
    value = narrative.get(key)
    if isinstance(value, str):
        return md_block(value)
    if value is None or isinstance(value, list | dict):
        return ""
    return md_block(str(value))


def postmortem_context(facts: Facts) -> dict[str, Any]:
    """Everything `postmortem.md.j2` gets; user text already Markdown-escaped, times already local."""
    config = facts.config
    zone = config.zone
    incident = normalized_incident(facts.incident)
    facts = dataclasses.replace(facts, incident=incident)
    events = ordered_events(facts.events)
    narrative = facts.narrative or {}
    d = Describer(config, incident, facts.names)
    now = aware(facts.now)

    timeline = [d.entry(event) for event in events]
    times = response_times(incident, events, config.mitigated_statuses, narrative)
    verdict = response_verdict(facts, times, events)

    # metadata
    declared_severity = next(
        (e.data.get("severity") for e in events if e.kind == EventKind.DECLARED and e.data.get("severity")),
        incident.severity,
    )
    severity_text = d.severity(incident.severity)
    if declared_severity and declared_severity != incident.severity:
        severity_text += f" (declared as {d.severity(declared_severity)})"
    resolved = incident.resolved_at is not None
    duration = (
        human_duration(incident.resolved_at - incident.created_at)
        if incident.resolved_at
        else f"ongoing, {human_duration(now - incident.created_at)} so far"
    )
    handovers = [
        f"took over from {d.who(e.data.get('previous'))} at {d.local(e.occurred_at)}"
        for e in events
        if e.kind == EventKind.ROLE_ASSIGNED
        and e.data.get("role") == COMMANDER_ROLE
        and e.data.get("handover")
    ]
    commander = d.who(incident.commander)
    roles = [
        f"{d.role(role)}: {d.who(holder)}"
        for role, holder in incident.roles.items()
        if role != COMMANDER_ROLE
    ]
    service = config.service(incident.service)
    service_text = (
        f"{md_inline(service.name)} ({md_inline(service.id)})"
        if service
        else md_inline(incident.service or "—")
    )
    channel = f"#{md_inline(incident.channel_name)}" if incident.channel_name else "no channel"
    meta = [
        ("Severity", severity_text),
        ("Status", md_inline(status_label(incident.status))),
        ("Duration", duration),
        ("Declared", f"{d.local(incident.created_at)} by {d.who(incident.reporter)}"),
        ("Resolved", d.local(incident.resolved_at) if resolved else "not yet"),
        ("Incident Commander", commander + (f" ({'; '.join(handovers)})" if handovers else "")),
        ("Other roles", " · ".join(roles) if roles else "none assigned"),
        ("Service", service_text),
        ("Channel", channel + (" (private)" if incident.private else "")),
        ("Post-mortem status", f"{md_inline(status_label(facts.status))} · compiled {d.local(now)}"),
        ("Times", f"{md_inline(config.timezone)}"),
    ]

    # narrative
    written = {key: _written(narrative, key) for key, spec in NARRATIVE.items() if spec.kind == "text"}
    raw_whys = narrative.get("whys") or []
    if isinstance(raw_whys, str):
        raw_whys = [line for line in raw_whys.splitlines() if line.strip()]
    whys = [
        Why(
            n + 1,
            md_block(raw_whys[n]) if n < len(raw_whys) and str(raw_whys[n] or "").strip() else "",
            WHY_PROMPTS[min(n, len(WHY_PROMPTS) - 1)],
        )
        for n in range(max(WHYS, len(raw_whys)))
    ]
    started_source = "as written" if parse_time(narrative.get("impact_started_at")) else "first alert's start"
    impact_started = (
        f"{d.local(times.started_at, TIMELINE_TIME)} ({started_source})" if times.started_at else ""
    )
    ended_at = parse_time(narrative.get("impact_ended_at"))
    impact_ended = ""
    if ended_at is not None:
        lasted = f", {human_duration(ended_at - times.started_at)} of impact" if times.started_at else ""
        impact_ended = f"{d.local(ended_at, TIMELINE_TIME)} (given at resolve{lasted})"

    # error budget
    budget = [
        BudgetRow(
            slo=md_cell(change.slo),
            objective=objective_text(change.objective),
            before=pct(change.at_declare)
            + (f" ({d.local(change.declared_at)})" if change.declared_at else ""),
            after=pct(change.at_resolve)
            + (f" ({d.local(change.resolved_at)})" if change.resolved_at else ""),
            consumed=(
                f"**{pct(change.consumed)}** of the budget"
                if change.consumed is not None
                else f"no data: {md_cell(change.note or 'missing figures')}"
            ),
        )
        for change in budget_consumed(events)
    ]
    snapshots = sum(1 for e in events if e.kind == EventKind.SLO_SNAPSHOT)

    # resolution and recovery
    recovery_kinds = {EventKind.STATUS_CHANGED, EventKind.RESOLVED, EventKind.REOPENED}
    status_changes = [entry for entry, e in zip(timeline, events, strict=True) if e.kind in recovery_kinds]
    steps = [
        step_row(d, e)
        for e in events
        if e.kind in (EventKind.RUNBOOK_STEP_RUN, EventKind.RUNBOOK_STEP_MARKED)
    ]
    resolution = md_block(slack_plain(incident.resolution, facts.names)) if incident.resolution else ""

    # action items
    today = now.astimezone(zone).date()
    actions = [_action_row(n, item, today, d) for n, item in enumerate(facts.actions, start=1)]

    return {
        "incident": incident,
        "config": config,
        "now": now,
        "severity": config.severity(incident.severity),
        "postmortem_status": facts.status,
        "zone": config.timezone,
        "reference": incident.reference,
        "title": md_inline(incident.title),
        "meta": meta,
        "commander": commander,
        "handovers": handovers,
        "command": _command_rows(incident, events, d, now),
        "impact_declared": md_block(slack_plain(incident.summary, facts.names)),
        "narrative": NARRATIVE,
        "written": written,
        "prompts": {key: spec.prompt for key, spec in NARRATIVE.items()},
        "whys": whys,
        "impact_started": impact_started,
        "impact_ended": impact_ended,
        "timeline": timeline,
        "event_count": len(timeline),
        "budget": budget,
        "snapshot_count": snapshots,
        "resolution": resolution,
        "resolved": resolved,
        "status_changes": status_changes,
        "runbook_steps": steps,
        "metrics": _metric_rows(facts, times, events, d),
        "times": times,
        "response_target": verdict.text,
        "actions": actions,
        "communication": [_communication_row(r, incident.created_at, d) for r in facts.communication],
        "changes": change_rows(events, d),
        "recovery": recovery_row(events, incident, d, now),
        "facts": facts,
        "events": events,
    }


def _action_row(number: int, item: ActionItem, today: date, d: Describer) -> ActionRow:
    if item.status == DONE:
        status = "done" + (f" {d.local(item.done_at, '%Y-%m-%d')}" if item.done_at else "")
    elif item.overdue(today):
        status = "**overdue**"
    else:
        status = md_cell(item.status)
    return ActionRow(
        number=item.id or number,
        text=md_cell(item.text) or "—",
        owner=md_cell(person_name(item.owner, d.names)) if item.owner else "unassigned",
        due=item.due.isoformat() if item.due else "no date",
        status=status,
    )


def _communication_row(record: AudienceRecord, declared: datetime, d: Describer) -> CommunicationRow:
    told = "never"
    if record.first_told is not None:
        told = f"{d.local(record.first_told)} ({human_duration(record.first_told - declared)} in)"
    if record.waived is not None:
        verdict = "not needed"
    elif record.missed_first:
        verdict = "✗ missed"
    elif record.first_due is not None and record.first_told is not None:
        verdict = "✓ met"
    else:
        verdict = "—"
    notes = []
    if record.waived is not None:
        notes.append(f"not needed: {md_cell(record.waived)} ({d.who(record.waived_by)})")
    notes += [f"{md_cell(name)}: {CALL_OUTCOMES.get(outcome, outcome)}" for name, outcome in record.calls]
    if record.cadence_missed:
        notes.append(f"{record.cadence_missed} update gap(s) longer than promised")
    return CommunicationRow(
        audience=md_cell(status_label(record.audience)),
        due=d.local(record.first_due) if record.first_due else "none",
        told=told,
        verdict=verdict,
        notices=record.notices,
        notes="; ".join(notes) or "—",
    )


def compile_postmortem(facts: Facts, templates: Templates) -> str:
    """The post-mortem as a Markdown document (ends with a newline)."""
    return templates.render(TEMPLATE, **postmortem_context(facts)) + "\n"
