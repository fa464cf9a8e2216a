"""The figures a post-mortem states, read off recorded events: error budget consumed per SLO, and
whether the severity's response target was met.

Kept apart from the document and the Slack summary, which both show them, so that a figure is
computed in one place and the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import EventKind, TimelineEvent
from bot.formatting import human_duration
from bot.postmortem.facts import Facts, ordered_events
from bot.postmortem.metrics import ResponseTimes
from bot.postmortem.timeline import aware, seconds
from bot.settings import Severity
from bot.templating import severity_label


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
    snapshots = [e for e in ordered_events(events) if e.kind == EventKind.SLO_SNAPSHOT]
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


def response_verdict(facts: Facts, times: ResponseTimes, events: Sequence[TimelineEvent]) -> Verdict:
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
