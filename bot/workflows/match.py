"""Which workflows an event starts: pure functions over the config, no I/O (benched in bench/workflows.py).

Immediate triggers are matched with the incident as it is right after the change (in the change's own
transaction). A delay's conditions are evaluated when it fires: "still a SEV1 after 30 minutes" is what
`mgmt-after-30m` means, and a SEV2 raised to SEV1 meanwhile then counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.workflows.settings import TRIGGERS, Conditions, Delay, Workflow


@dataclass(frozen=True)
class Facts:
    """What conditions look at."""

    severity: str
    status: str
    service: str | None
    private: bool
    labels: Mapping[str, str] = field(default_factory=dict)


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
    if conditions.labels is not None:
        for name, wanted in conditions.labels.items():
            value = facts.labels.get(name)
            if value is None or value not in ([wanted] if isinstance(wanted, str) else wanted):
                return False
    if conditions.all is not None and not all(holds(c, facts) for c in conditions.all):
        return False
    if conditions.any is not None and not any(holds(c, facts) for c in conditions.any):
        return False
    return conditions.not_ is None or not holds(conditions.not_, facts)


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
        return runs

    def cancelled(self, trigger: str) -> list[Workflow]:
        """The workflows whose pending delays `trigger` cancels (their `unless`)."""
        unique = {w.name: w for w, _ in self._cancel.get(trigger, ())}
        return list(unique.values())
