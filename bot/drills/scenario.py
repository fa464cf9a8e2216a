"""Drill scenarios (`drills.directory`, one YAML file each): what happens when, and what is expected.

An inject is one of: an Alertmanager-shaped `alert` (recorded through the alert path, marked as a drill),
a `message` posted in the channel (a customer report), `slo` figures that `/incident slo` shows during the
drill (clearly marked; never mixed with Prometheus data), a `check` whose runbook step fails during the
drill, or a `page` to a simulated on-call who never answers (so the escalation policy is exercised).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from bot.domain import Incident
from bot.problems import Problems, yaml_documents
from bot.settings import ConfigError, Duration, Strict

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
PARTICIPANTS = "drill_participants"
SCENARIO = "drill_scenario"
"""The drill incident's fields (set at its declaration) naming its participants and its scenario."""


def participants_of(incident: Incident) -> list[str]:
    """Who a drill pages (and invites): nobody else is ever paged for it."""
    return [u for u in (incident.fields.get(PARTICIPANTS) or "").split(",") if u]


KINDS = ("alert", "message", "slo", "check", "page")


class AlertInject(Strict):
    alertname: str = Field(min_length=1, max_length=100)
    severity: str = "critical"
    summary: str = ""
    labels: dict[str, str] = {}


class SLOInject(Strict):
    slo: str = Field(min_length=1)
    burn_rate: float = Field(ge=0)
    budget_remaining: float = Field(le=1)
    """A fraction of the period's budget (may be negative)."""


class CheckInject(Strict):
    step: str = Field(min_length=1)
    """A `check` step id of the scenario's runbook: run during the drill, it fails with `summary`."""
    summary: str = "the check failed (drill)"


class PageInject(Strict):
    who: str = "the simulated on-call"
    """Who is paged; nobody real is, and nobody answers: the policy escalates as it would."""


class Inject(Strict):
    at: Duration
    alert: AlertInject | None = None
    message: str | None = Field(None, max_length=2000)
    slo: SLOInject | None = None
    check: CheckInject | None = None
    page: PageInject | None = None

    @model_validator(mode="after")
    def _one(self) -> Inject:
        given = [kind for kind in KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(
                f"each inject is exactly one of {', '.join(KINDS)} (got {', '.join(given) or 'none'})"
            )
        return self

    @field_validator("at")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("at is an offset from the start, 0s or later")
        return value

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if getattr(self, kind) is not None)

    def describe(self) -> str:
        if self.alert:
            return f"alert {self.alert.alertname}"
        if self.message:
            return "a customer report"
        if self.slo:
            return f"SLO {self.slo.slo} burning ×{self.slo.burn_rate:g}"
        if self.check:
            return f"check {self.check.step} failing"
        return f"a page to {self.page.who if self.page else '?'}, unanswered"


class Targets(Strict):
    acknowledge: Duration | None = None
    commander: Duration | None = None
    """A participant takes the Incident Commander role (a drill starts without one)."""
    first_update: dict[str, Duration] = {}
    """Audience → time to its first notice (`channel`, `management`, …)."""
    runbook_step: Duration | None = None
    resolve: Duration | None = None


class Scenario(Strict):
    name: str
    title: str = Field(min_length=1, max_length=150)
    description: str = ""
    service: str | None = None
    severity: str
    runbook: str | None = None
    targets: Targets = Targets()
    injects: list[Inject] = []
    team: str | None = None
    """Whose practice it is, for `incidentbot drill report`."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r}: a scenario name is lowercase letters, digits and - (≤ 40)")
        return value

    @property
    def ordered(self) -> list[tuple[int, Inject]]:
        """(position in the file, inject) by offset: the position keys each inject's timer."""
        return sorted(enumerate(self.injects), key=lambda pair: pair[1].at)


class ScenarioError(ConfigError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in drill scenarios:\n" + "\n".join(f"  {p}" for p in problems)
        )


def load_scenarios(directory: Path) -> dict[str, Scenario]:
    """Every scenario under `directory` (*.yml, *.yaml); all problems at once."""
    problems = Problems()
    found: dict[str, Scenario] = {}
    files = (
        sorted(p for p in directory.rglob("*") if p.suffix in (".yml", ".yaml")) if directory.is_dir() else []
    )
    for file in files:
        for where, document in yaml_documents(file, problems):
            try:
                scenario = Scenario.model_validate(document)
            except ValidationError as exc:
                problems.validation(where, exc)
                continue
            if scenario.name in found:
                problems.add(where, "name", f"{scenario.name!r} is defined twice")
            found[scenario.name] = scenario
    if problems.items:
        raise ScenarioError(problems.items)
    return found


def references(
    scenario: Scenario, severities: list[str], services: list[str], runbooks: dict[str, Any]
) -> list[str]:
    """Names that must exist in the config (a typo would only show when the drill starts)."""
    found = []
    if scenario.severity not in severities:
        found.append(f"{scenario.name}: severity {scenario.severity!r} is not one of {', '.join(severities)}")
    if scenario.service and scenario.service not in services:
        found.append(f"{scenario.name}: unknown service {scenario.service!r}")
    if scenario.runbook and scenario.runbook not in runbooks:
        found.append(f"{scenario.name}: unknown runbook {scenario.runbook!r}")
    return found
