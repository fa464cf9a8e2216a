"""An incident's timeline, the narrative people wrote and its action items, compiled into a post-mortem.

Pure: facts in, Markdown (through the override-able `postmortem.md.j2`) or a Slack summary out; no
database, no Slack. Follows the blameless template: what happened and when comes from the timeline, why
and what we learn comes from people — and where people have not written yet, the document says so and
asks, instead of inventing anything. Every figure (times, error budget) is read off recorded events.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.config import COMMANDER_ROLE, AppConfig, Severity
from bot.domain import EventKind, Incident, TimelineEvent, slugify
from bot.messages import (
    FALLBACK_LIMIT,
    MESSAGE_BLOCKS,
    TEXT_LIMIT,
    Message,
    context,
    fields_sections,
    header,
    section,
    truncate,
)
from bot.postmortem.markdown import md_block, md_cell, md_inline, person_name, slack_plain
from bot.postmortem.metrics import ResponseTimes, response_times
from bot.postmortem.store import DONE, DRAFT, ActionItem
from bot.postmortem.timeline import (
    TIME,
    TIMELINE_TIME,
    Describer,
    Entry,
    StepRow,
    aware,
    objective_text,
    parse_time,
    pct,
    seconds,
    step_row,
)
from bot.templating import (
    Templates,
    escape_mrkdwn,
    human_duration,
    severity_label,
    status_label,
    user_mention,
)

__all__ = [
    "NARRATIVE",
    "BudgetChange",
    "Entry",
    "Facts",
    "NarrativeField",
    "StepRow",
    "budget_consumed",
    "compile_postmortem",
    "file_name",
    "postmortem_context",
    "summary_message",
]

TEMPLATE = "postmortem.md.j2"
WHYS = 5


@dataclass(frozen=True)
class NarrativeField:
    heading: str
    prompt: str
    kind: Literal["text", "list", "datetime"] = "text"


NARRATIVE: dict[str, NarrativeField] = {
    "summary": NarrativeField(
        "Summary", "what happened, its impact and how it ended, in a few sentences a newcomer understands."
    ),
    "impact_users": NarrativeField("Impact on users", "who was affected, how, and how many?"),
    "impact_business": NarrativeField(
        "Business impact", "what did it cost: revenue, SLA credits, support load, reputation?"
    ),
    "impact_technical": NarrativeField(
        "Technical impact", "which systems degraded or failed, and was any data lost or delayed?"
    ),
    "impact_started_at": NarrativeField(
        "Impact started at",
        "when users were first affected (ISO time with offset, e.g. 2026-11-24T09:58:00+01:00).",
        "datetime",
    ),
    "root_cause": NarrativeField(
        "Root cause", "which condition in the system let this happen? Systems and processes, not people."
    ),
    "whys": NarrativeField(
        "Five whys", "why did it happen? Ask why of each answer, up to five times.", "list"
    ),
    "contributing_factors": NarrativeField(
        "Contributing factors", "what made it more likely, worse, longer, or harder to detect?"
    ),
    "lessons_went_well": NarrativeField("What went well", "what helped: tools, people, practices to keep?"),
    "lessons_went_wrong": NarrativeField("What went wrong", "what slowed detection, response or recovery?"),
    "lessons_lucky": NarrativeField(
        "Where we got lucky", "what kept it from being worse that we cannot count on next time?"
    ),
    "prevention": NarrativeField(
        "Prevention", "what will stop this from happening again, or make it smaller and shorter?"
    ),
}
"""The sections people write (in the modal), in document order: key -> heading and the prompt shown while
it is empty."""

WHY_PROMPTS = (
    "why did the incident happen?",
    "why did that happen?",
    "and why did that happen?",
    "why was that possible?",
    "why was that not prevented or caught earlier?",
)


@dataclass(frozen=True)
class Facts:
    incident: Incident
    events: list[TimelineEvent]
    narrative: dict[str, Any]
    actions: list[ActionItem]
    config: AppConfig
    now: datetime
    status: str = DRAFT
    """The post-mortem's own status: draft, reviewed, published."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Slack user id -> display name, when the caller looked them up; ids are shown as `@U…` otherwise."""


# -- error budget -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetChange:
    """One SLO's error budget left at declaration and at resolution, from the SLO_SNAPSHOT events."""

    slo: str
    service: str | None
    objective: float | None
    at_declare: float | None
    at_resolve: float | None
    declared_at: datetime | None = None
    resolved_at: datetime | None = None
    """When each snapshot was evaluated (None: no figures on that side)."""
    note: str | None = None
    """Why there is no figure ("no data"): what was missing on which side."""

    @property
    def consumed(self) -> float | None:
        """Fraction of the period's budget spent between the two snapshots (negative: budget came back,
        e.g. older errors left the rolling window)."""
        if self.at_declare is None or self.at_resolve is None:
            return None
        return self.at_declare - self.at_resolve


def _snapshot_time(entry: Mapping[str, Any], event: TimelineEvent) -> datetime:
    at = entry.get("at")
    if at:
        try:
            parsed = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return aware(event.occurred_at)


def _side(
    snapshots: list[TimelineEvent], slo_id: str, moment: str
) -> tuple[float | None, datetime | None, str | None]:
    """(budget remaining, evaluated at, why missing) for one SLO on one side."""
    word = "declaration" if moment == "declared" else "resolution"
    if not snapshots:
        return None, None, f"no snapshot at {word}"
    problems: list[str] = []
    for event in snapshots:
        entry = next((s for s in event.data.get("slos") or [] if s.get("id") == slo_id), None)
        if entry is None:
            if event.data.get("problem"):
                problems.append(str(event.data["problem"]))
            continue
        remaining = entry.get("budget_remaining")
        if isinstance(remaining, int | float) and not isinstance(remaining, bool):
            return float(remaining), _snapshot_time(entry, event), None
        problems.append(str(entry.get("error") or "no data"))
    reason = problems[-1] if problems else "not in the snapshot"
    return None, None, f"no figures at {word}: {reason}"


def budget_consumed(events: Iterable[TimelineEvent]) -> list[BudgetChange]:
    """Per SLO id (in order of first appearance): budget left in the first snapshot taken at declaration
    and in the last taken at resolution (a reopened incident is judged at its final resolution)."""
    snapshots = [e for e in _ordered(events) if e.kind == EventKind.SLO_SNAPSHOT]
    declared = [e for e in snapshots if e.data.get("moment") == "declared"]
    resolved = [e for e in reversed(snapshots) if e.data.get("moment") == "resolved"]
    seen: dict[str, Mapping[str, Any]] = {}
    for event in snapshots:
        for entry in event.data.get("slos") or []:
            if entry.get("id") and entry["id"] not in seen:
                seen[str(entry["id"])] = entry
    changes: list[BudgetChange] = []
    for slo_id, entry in seen.items():
        before, before_at, why_before = _side(declared, slo_id, "declared")
        after, after_at, why_after = _side(resolved, slo_id, "resolved")
        notes = [n for n in (why_before, why_after) if n]
        objective = entry.get("objective")
        changes.append(
            BudgetChange(
                slo=slo_id,
                service=entry.get("service"),
                objective=float(objective) if isinstance(objective, int | float) else None,
                at_declare=before,
                at_resolve=after,
                declared_at=before_at,
                resolved_at=after_at,
                note="; ".join(notes) or None,
            )
        )
    return changes


# -- names and times ----------------------------------------------------------------------------------


def file_name(incident: Incident, zone: ZoneInfo | Any) -> str:
    """`2026-11-24-inc-12-checkout-is-down.md`: the local date of the declaration, the reference and the
    title's slug, so every recompile of an incident writes the same file (until its title changes)."""
    day = aware(incident.created_at).astimezone(zone).date().isoformat()
    return f"{day}-{incident.reference.lower()}-{slugify(incident.title)}.md"


def _ordered(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    fixed = [
        e if e.occurred_at.tzinfo else dataclasses.replace(e, occurred_at=aware(e.occurred_at))
        for e in events
    ]
    return sorted(fixed, key=lambda e: (e.occurred_at, e.id))


def _normalized(incident: Incident) -> Incident:
    changes = {
        name: aware(value)
        for name in ("created_at", "resolved_at")
        if (value := getattr(incident, name)) is not None and value.tzinfo is None
    }
    return dataclasses.replace(incident, **changes) if changes else incident


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
    statuses = facts.config.statuses
    mitigation_status = statuses[-2] if len(statuses) >= 2 else None
    if mitigation_status and any(
        e.kind == EventKind.STATUS_CHANGED and e.data.get("to") == mitigation_status for e in events
    ):
        mitigation = f"status {status_label(mitigation_status)}"
    else:
        mitigation = "resolved (no mitigation status recorded)"

    def moment(label: str, at: datetime | None) -> str:
        return f"{label}: {d.local(at, TIMELINE_TIME)}" if at else f"{label}: not recorded"

    def took(delta: timedelta | None) -> str:
        return human_duration(delta) if delta is not None else "not recorded"

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


@dataclass(frozen=True)
class Verdict:
    """The severity's response target (time to acknowledge a page) and whether it was met."""

    severity: str
    target: timedelta | None
    took: timedelta | None
    met: bool | None
    """None: unknown (nothing acknowledged, or no target)."""

    @property
    def text(self) -> str:
        if self.target is None:
            return f"{self.severity}: no response target configured"
        base = f"{self.severity}: acknowledge a page within {human_duration(self.target)}"
        if self.took is None or self.met is None:
            return f"{base} — not recorded (no page was acknowledged)"
        return (
            f"{base} — **{'met' if self.met else 'missed'}** (acknowledged after {human_duration(self.took)})"
        )


def _severity_at(facts: Facts, events: Sequence[TimelineEvent], moment: datetime) -> str:
    """The incident's severity at `moment`, replayed from the declaration and the severity changes."""
    severity = next(
        (str(e.data["severity"]) for e in events if e.kind == EventKind.DECLARED and e.data.get("severity")),
        facts.incident.severity,
    )
    for event in events:
        if event.occurred_at > moment:
            break
        if event.kind == EventKind.SEVERITY_CHANGED and event.data.get("to"):
            severity = str(event.data["to"])
    return severity


def _verdict(facts: Facts, times: ResponseTimes, events: Sequence[TimelineEvent]) -> Verdict:
    """Judged against the severity in force when the first page was acknowledged (the target the
    responders were held to then), else against the incident's current severity."""
    config = facts.config
    acked = next((e for e in events if e.kind == EventKind.PAGE_ACKED), None)
    severity_id = _severity_at(facts, events, acked.occurred_at) if acked else facts.incident.severity
    severity: Severity | None = config.severity(severity_id)
    label = severity_label(severity_id, config)
    if severity_id != facts.incident.severity:
        label += f" (when the page was acknowledged; now {severity_label(facts.incident.severity, config)})"
    target = severity.response_target if severity else None
    took = times.time_to_acknowledge
    if acked is not None and isinstance(acked.data.get("target_met"), bool):
        recorded = seconds(acked.data.get("target_seconds"))  # as the paging service judged it then
        return Verdict(label, recorded or target, took, acked.data["target_met"])
    met = None if took is None or target is None else took <= target
    return Verdict(label, target, took, met)


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
    incident = _normalized(facts.incident)
    facts = dataclasses.replace(facts, incident=incident)
    events = _ordered(facts.events)
    narrative = facts.narrative or {}
    d = Describer(config, incident, facts.names)
    now = aware(facts.now)

    timeline = [d.entry(event) for event in events]
    times = response_times(incident, events, config.statuses, narrative)
    verdict = _verdict(facts, times, events)

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
        "impact_declared": md_block(slack_plain(incident.summary, facts.names)),
        "narrative": NARRATIVE,
        "written": written,
        "prompts": {key: spec.prompt for key, spec in NARRATIVE.items()},
        "whys": whys,
        "impact_started": impact_started,
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


def compile_postmortem(facts: Facts, templates: Templates) -> str:
    """The post-mortem as a Markdown document (ends with a newline)."""
    return templates.render(TEMPLATE, **postmortem_context(facts)) + "\n"


# -- the Slack summary --------------------------------------------------------------------------------

KEY_MOMENTS = 15
SUMMARY_ACTIONS = 10
SUMMARY_SLOS = 10
_KEY_KINDS = {
    EventKind.DECLARED,
    EventKind.SEVERITY_CHANGED,
    EventKind.STATUS_CHANGED,
    EventKind.PAGE_ACKED,
    EventKind.ESCALATION_EXHAUSTED,
    EventKind.RESOLVED,
    EventKind.REOPENED,
}


def _slack_moment(event: TimelineEvent, config: AppConfig) -> str:
    data = event.data
    if event.kind == EventKind.DECLARED:
        return f"declared as {escape_mrkdwn(severity_label(str(data.get('severity') or ''), config))}"
    if event.kind == EventKind.SEVERITY_CHANGED:
        return f"severity {escape_mrkdwn(data.get('from'))} → *{escape_mrkdwn(data.get('to'))}*"
    if event.kind == EventKind.STATUS_CHANGED:
        return f"status → *{escape_mrkdwn(status_label(data.get('to')))}*"
    if event.kind == EventKind.PAGE_ACKED:
        took = seconds(data.get("time_to_acknowledge_seconds"))
        return "page acknowledged" + (f" after {human_duration(took)}" if took is not None else "")
    if event.kind == EventKind.ESCALATION_EXHAUSTED:
        return "escalation policy ran out without an acknowledgement"
    if event.kind == EventKind.REOPENED:
        return "*reopened*"
    return "*resolved*"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def summary_message(facts: Facts, link: str | None = None) -> Message:
    """The post-mortem in one Slack message: facts, figures, key moments, action items, and a link to the
    full document. Stays inside Block Kit's limits however long the incident; says what it left out."""
    config = facts.config
    incident = _normalized(facts.incident)
    events = _ordered(facts.events)
    narrative = facts.narrative or {}
    now = aware(facts.now)
    times = response_times(incident, events, config.statuses, narrative)
    verdict = _verdict(dataclasses.replace(facts, incident=incident), times, events)

    def local(moment: datetime | None) -> str:
        return aware(moment).astimezone(config.zone).strftime(TIME) if moment else "—"

    def took(delta: timedelta | None) -> str:
        return human_duration(delta) if delta is not None else "not recorded"

    duration = (
        human_duration(incident.resolved_at - incident.created_at)
        if incident.resolved_at
        else f"ongoing ({human_duration(now - incident.created_at)})"
    )
    service = config.service(incident.service)
    blocks: list[dict[str, Any]] = [
        header(f"Post-mortem · {incident.reference} · {incident.title}"),
        *fields_sections(
            [
                ("Severity", escape_mrkdwn(severity_label(incident.severity, config))),
                ("Incident status", escape_mrkdwn(status_label(incident.status))),
                ("Duration", duration),
                ("Incident Commander", user_mention(incident.commander)),
                ("Declared", local(incident.created_at)),
                ("Resolved", local(incident.resolved_at) if incident.resolved_at else "not yet"),
                ("Service", escape_mrkdwn(service.name if service else incident.service or "—")),
                ("Post-mortem", escape_mrkdwn(status_label(facts.status))),
            ]
        ),
    ]

    summary = str(narrative.get("summary") or "").strip()
    if summary:
        note = f"\n… _({len(summary):,} characters in all: read the full post-mortem)_"
        text = truncate(f"*Summary*\n{escape_mrkdwn(summary)}", TEXT_LIMIT, note)
    else:
        text = f"*Summary*\n_Not written yet — {NARRATIVE['summary'].prompt}_"
    blocks.append(section(text))

    target = verdict.text.replace("**", "*")
    blocks.append(
        section(
            "*Detection and response*\n"
            f"• Time to detect: {took(times.time_to_detect)}\n"
            f"• Time to acknowledge: {took(times.time_to_acknowledge)}\n"
            f"• Time to mitigate: {took(times.time_to_mitigate)}\n"
            f"• Time to resolve: {took(times.time_to_resolve)}\n"
            f"Response target {escape_mrkdwn(target)}"
        )
    )

    changes = budget_consumed(events)
    if changes:
        lines = [
            f"• {escape_mrkdwn(c.slo)}: "
            + (
                f"*{pct(c.consumed)}* of the budget ({pct(c.at_declare)} → {pct(c.at_resolve)} left)"
                if c.consumed is not None
                else f"no data ({escape_mrkdwn(c.note)})"
            )
            for c in changes[:SUMMARY_SLOS]
        ]
        if len(changes) > SUMMARY_SLOS:
            lines.append(f"…and {len(changes) - SUMMARY_SLOS} more SLOs in the post-mortem")
        blocks.append(section("*Error budget consumed*\n" + "\n".join(lines)))
    else:
        blocks.append(section("*Error budget consumed*\nNo SLO snapshots were recorded."))

    key = [e for e in events if e.kind in _KEY_KINDS]
    shown = key if len(key) <= KEY_MOMENTS else [*key[: KEY_MOMENTS - 3], *key[-3:]]
    lines = []
    for index, event in enumerate(shown):
        if len(key) > KEY_MOMENTS and index == KEY_MOMENTS - 3:
            lines.append(f"… _{_plural(len(key) - KEY_MOMENTS, 'more key moment')}_")
        lines.append(f"• {local(event.occurred_at)} — {truncate(_slack_moment(event, config), 150)}")
    blocks.append(section("*Key moments*\n" + ("\n".join(lines) or "_none recorded_")))
    shown_ids = {id(e) for e in shown}
    others = Counter(str(e.kind) for e in events if id(e) not in shown_ids)
    left_out = len(events) - len(shown)
    if left_out:
        tally = ", ".join(f"{kind.replace('_', ' ')} ×{count:,}" for kind, count in others.most_common(6))
        more = f" (and {len(others) - 6} other kinds)" if len(others) > 6 else ""
        blocks.append(
            context(
                f"{_plural(len(events), 'timeline event')}; {len(shown):,} shown here, {left_out:,} left out"
                f" — {tally}{more}. All of them are in the full post-mortem."
            )
        )

    if facts.actions:
        open_count = sum(1 for item in facts.actions if item.status != DONE)
        lines = []
        for item in facts.actions[:SUMMARY_ACTIONS]:
            owner = user_mention(item.owner) if item.owner else "unassigned"
            due = f", due {item.due.isoformat()}" if item.due else ""
            state = "done" if item.status == DONE else "open"
            lines.append(
                f"• {escape_mrkdwn(truncate(' '.join(item.text.split()), 200))} — {owner}{due} ({state})"
            )
        if len(facts.actions) > SUMMARY_ACTIONS:
            lines.append(f"…and {len(facts.actions) - SUMMARY_ACTIONS:,} more in the post-mortem")
        title = f"*Action items* ({len(facts.actions):,}, {open_count:,} open)"
        blocks.append(section(title + "\n" + "\n".join(lines)))
    else:
        blocks.append(section("*Action items*\nNo action items yet."))

    missing = [
        spec.heading
        for key_, spec in NARRATIVE.items()
        if key_ != "impact_started_at" and not _has_text(narrative.get(key_))
    ]
    if missing:
        blocks.append(context(f"Still to write: {escape_mrkdwn(', '.join(missing))}."))

    name = file_name(incident, config.zone)
    if link and link.startswith(("https://", "http://")) and not any(c in link for c in "<>| \n"):
        blocks.append(section(f":page_facing_up: <{link}|Read the full post-mortem> (`{name}`)"))
    else:
        blocks.append(context(f":page_facing_up: Full post-mortem: `{escape_mrkdwn(name)}`"))

    fallback = (
        f"Post-mortem of {incident.reference}: {escape_mrkdwn(incident.title)} — "
        f"{escape_mrkdwn(severity_label(incident.severity, config))}, {duration}"
    )
    return Message(truncate(" ".join(fallback.split()), FALLBACK_LIMIT), blocks[:MESSAGE_BLOCKS])


def _has_text(value: Any) -> bool:
    if isinstance(value, list):
        return any(str(v or "").strip() for v in value)
    return bool(str(value or "").strip())


# -- a sample for `incidentbot config check` ----------------------------------------------------------


def sample_facts(config: AppConfig) -> Facts:
    """A small resolved incident with one event of the common kinds, for checking template overrides."""
    start = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    severity = config.severities[0].id
    service = config.services[0].id if config.services else None
    statuses = config.statuses
    incident = Incident(
        id=42,
        title="Checkout returns 502 for some users",
        severity=severity,
        status=config.resolved_status,
        summary="About 5% of checkout requests fail.",
        service=service,
        private=False,
        reporter="U0REPORTER",
        created_at=start,
        channel_id="C0INCIDENT",
        channel_name="inc-20260115-42-checkout",
        resolved_at=start + timedelta(minutes=65),
        resolution="Rolled back the deploy.",
        roles={COMMANDER_ROLE: "U0COMMANDER", "scribe": "U0SCRIBE"},
    )

    def at(minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    slo = {"id": "checkout/availability", "service": service, "objective": 0.995, "budget_remaining": 0.8}
    events = [
        TimelineEvent(1, 42, EventKind.DECLARED, "U0REPORTER", at(0), incident.title, {"severity": severity}),
        TimelineEvent(2, 42, EventKind.SLO_SNAPSHOT, None, at(1), "", {"moment": "declared", "slos": [slo]}),
        TimelineEvent(
            3,
            42,
            EventKind.PAGE_ACKED,
            "U0COMMANDER",
            at(4),
            "acknowledged",
            {"time_to_acknowledge_seconds": 240},
        ),
        TimelineEvent(4, 42, EventKind.MESSAGE_PINNED, "U0SCRIBE", at(10), "Deploy 1234 went out", {}),
        TimelineEvent(
            5,
            42,
            EventKind.STATUS_CHANGED,
            "U0COMMANDER",
            at(30),
            "",
            {"from": statuses[0], "to": statuses[-2]},
        ),
        TimelineEvent(
            6,
            42,
            EventKind.RUNBOOK_STEP_RUN,
            "U0COMMANDER",
            at(40),
            "",
            {"runbook": "rollback", "step": "undo", "passed": True, "exit_code": 0, "duration_s": 3.2},
        ),
        TimelineEvent(
            7,
            42,
            EventKind.SLO_SNAPSHOT,
            None,
            at(65),
            "",
            {"moment": "resolved", "slos": [{**slo, "budget_remaining": 0.7}]},
        ),
        TimelineEvent(8, 42, EventKind.RESOLVED, "U0COMMANDER", at(65), "Rolled back the deploy.", {}),
    ]
    action = ActionItem(
        1, 42, "Canary deploys for checkout", "U0COMMANDER", None, "open", "U0SCRIBE", at(70), None, None
    )
    narrative = {"summary": "A bad deploy broke checkout for an hour.", "whys": ["The deploy had a bug."]}
    return Facts(incident, events, narrative, [action], config, at(90))
