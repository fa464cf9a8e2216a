"""Which workflows an event starts: pure functions over the config, no I/O (benched in bench/workflows.py).

Immediate triggers are matched with the incident as it is right after the change (in the change's own
transaction). A delay's conditions are evaluated when it fires: "still a SEV1 after 30 minutes" is what
`mgmt-after-30m` means, and a SEV2 raised to SEV1 meanwhile then counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain import EventKind, Incident, TimelineEvent
from bot.workflows.settings import TRIGGERS, Conditions, Delay, Workflow

TRIGGER_OF: dict[str, str] = {
    EventKind.DECLARED.value: "incident.declared",
    EventKind.SEVERITY_CHANGED.value: "severity.changed",
    EventKind.STATUS_CHANGED.value: "status.changed",
    EventKind.ROLE_ASSIGNED.value: "role.assigned",
    EventKind.UPDATE_POSTED.value: "update.posted",
    EventKind.PAGE_ACKED.value: "page.acknowledged",
    EventKind.ALERT_RECEIVED.value: "alert.received",
    EventKind.ALERT_RESOLVED.value: "alert.resolved",
    EventKind.RESOLVED.value: "incident.resolved",
    EventKind.POSTMORTEM_PUBLISHED.value: "postmortem.published",
    EventKind.THRESHOLD_BREACHED.value: "threshold",
    EventKind.DEPLOY_RECORDED.value: "deploy.recorded",
    EventKind.RTO_BREACHED.value: "rto.breached",
}
"""Timeline event kind → the trigger it is; `slo.burn` is an `alert.received` of an SLO's burn alert."""
SLO_LABEL = "sloth_slo"
"""The label every burn alert of the bot's SLO rules carries (Sloth's, so Sloth's rules count too)."""
ALERT_KINDS = (EventKind.ALERT_RECEIVED.value, EventKind.ALERT_RESOLVED.value)


def alert_labels(data: Mapping[str, Any]) -> dict[str, str]:
    """The labels of an alert event (the group's common labels, and its alert name)."""
    alert = data.get("alert") if isinstance(data.get("alert"), dict) else {}
    labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
    if alert.get("alertname"):
        labels.setdefault("alertname", str(alert["alertname"]))
    return labels


def labels_of(events: list[TimelineEvent]) -> dict[str, str]:
    """The incident's alert labels: those of its alert events, the newest winning."""
    labels: dict[str, str] = {}
    for event in events:
        if event.kind.value in ALERT_KINDS:
            labels.update(alert_labels(event.data))
    return labels


def triggers_of(kind: str, data: Mapping[str, Any]) -> list[str]:
    """The triggers one timeline event is (none for most)."""
    trigger = TRIGGER_OF.get(kind)
    if trigger is None:
        return []
    if trigger == "alert.received" and SLO_LABEL in alert_labels(data):
        return [trigger, "slo.burn"]
    return [trigger]


def fields_of(events: list[TimelineEvent]) -> dict[str, str]:
    """The custom fields as the timeline set them, the last value winning."""
    return {
        str(e.data["field"]): str(e.data.get("value", ""))
        for e in events
        if e.kind == EventKind.FIELD_SET and "field" in e.data
    }


@dataclass(frozen=True)
class Facts:
    """What conditions look at."""

    severity: str
    status: str
    service: str | None
    private: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    drill: bool = False
    fields: Mapping[str, str] = field(default_factory=dict)


def facts_of(incident: Incident, labels: Mapping[str, str]) -> Facts:
    return Facts(
        incident.severity,
        incident.status,
        incident.service,
        incident.private,
        labels,
        incident.drill,
        incident.fields,
    )


@dataclass(frozen=True)
class Scheduled:
    workflow: Workflow
    delay: Delay | None
    """None: runs now; else runs `delay.after` later."""


def holds(conditions: Conditions, facts: Facts) -> bool:
    """Every key given holds (lists: one of them); `any`, `all` and `not` nest."""
    if conditions.severity is not None and facts.severity not in conditions.severity:
        return False
    if conditions.status is not None and facts.status not in conditions.status:
        return False
    if conditions.service is not None and facts.service not in conditions.service:
        return False
    if conditions.private is not None and facts.private != conditions.private:
        return False
    if conditions.drill is not None and facts.drill != conditions.drill:
        return False
    if conditions.labels is not None and not _matches(conditions.labels, facts.labels):
        return False
    if conditions.fields is not None and not _matches(conditions.fields, facts.fields):
        return False
    if conditions.all is not None and not all(holds(c, facts) for c in conditions.all):
        return False
    if conditions.any is not None and not any(holds(c, facts) for c in conditions.any):
        return False
    return conditions.not_ is None or not holds(conditions.not_, facts)


def _matches(wanted: Mapping[str, str | list[str]], have: Mapping[str, str]) -> bool:
    for name, allowed in wanted.items():
        value = have.get(name)
        if value is None or value not in ([allowed] if isinstance(allowed, str) else allowed):
            return False
    return True


def uses_labels(conditions: Conditions) -> bool:
    nested = [*(conditions.any or []), *(conditions.all or [])]
    if conditions.not_ is not None:
        nested.append(conditions.not_)
    return conditions.labels is not None or any(uses_labels(c) for c in nested)


class WorkflowIndex:
    """The workflows by trigger, built once per config: an event looks only at the workflows it can
    start or cancel."""

    def __init__(self, workflows: Iterable[Workflow]) -> None:
        self.workflows = {w.name: w for w in workflows}
        self._now: dict[str, list[Workflow]] = {t: [] for t in TRIGGERS}
        self._later: dict[str, list[tuple[Workflow, Delay]]] = {t: [] for t in TRIGGERS}
        self._cancel: dict[str, list[tuple[Workflow, Delay]]] = {t: [] for t in TRIGGERS}
        self._labels: set[str] = set()
        for workflow in self.workflows.values():
            for trigger in workflow.triggers:
                self._now.setdefault(trigger, []).append(workflow)
                if uses_labels(workflow.if_):
                    self._labels.add(trigger)
            for delay in workflow.delays:
                self._later.setdefault(delay.of, []).append((workflow, delay))
                for unless in delay.unless:
                    self._cancel.setdefault(unless, []).append((workflow, delay))

    def __bool__(self) -> bool:
        return bool(self.workflows)

    def get(self, name: str) -> Workflow | None:
        return self.workflows.get(name)

    def interested(self, trigger: str) -> bool:
        """Whether anything listens to `trigger` (most timeline events start nothing: no query then)."""
        return bool(self._now.get(trigger) or self._later.get(trigger) or self._cancel.get(trigger))

    def needs_labels(self, trigger: str) -> bool:
        """Whether a workflow `trigger` starts at once looks at alert labels (else none are read)."""
        return trigger in self._labels

    def scheduled(self, trigger: str, facts: Facts) -> list[Scheduled]:
        """What `trigger` starts: immediate workflows whose conditions hold, and every delay of it."""
        runs = [Scheduled(w, None) for w in self._now.get(trigger, ()) if holds(w.if_, facts)]
        runs += [Scheduled(w, d) for w, d in self._later.get(trigger, ())]
        return [run for run in runs if run.workflow.drills or not facts.drill]

    def cancelled(self, trigger: str) -> list[Workflow]:
        """The workflows whose pending delays `trigger` cancels (their `unless`)."""
        unique = {w.name: w for w, _ in self._cancel.get(trigger, ())}
        return list(unique.values())
