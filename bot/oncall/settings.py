"""The `oncall:` section: schedules and the escalation policy of each severity.

A policy is a list of steps, each exactly one of `notify`, `wait` or `repeat`:

    oncall:
      escalation:
        SEV1:
          - notify: {schedule: primary}
          - wait: 5m
          - notify: {schedule: secondary}
          - wait: 5m
          - notify: {role: incident_commander}
          - repeat: {from_step: 1, times: 2}
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from bot.oncall.schedules import Schedule, check_unique
from bot.settings import Duration, Strict


class Notify(Strict):
    """Who a `notify` step pages: the on-call person of a schedule, named people, a Slack user group,
    or whoever holds an incident role (e.g. the Incident Commander)."""

    schedule: str | None = None
    users: list[str] = Field(default_factory=list)
    usergroup: str | None = None
    role: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Notify:
        given = [name for name in ("schedule", "users", "usergroup", "role") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of schedule, users, usergroup or role")
        return self

    def describe(self) -> str:
        if self.schedule:
            return f"on call for {self.schedule}"
        if self.usergroup:
            return f"member of <!subteam^{self.usergroup}>"
        if self.role:
            return f"holder of the {self.role} role"
        return "named in the policy"


class Repeat(Strict):
    from_step: int = Field(ge=1)
    """1-based, as people count the steps in the file."""
    times: int = Field(ge=1, le=10)


class Step(Strict):
    notify: Notify | None = None
    wait: Duration | None = None
    repeat: Repeat | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if sum(x is not None for x in (self.notify, self.wait, self.repeat)) != 1:
            raise ValueError("a step is exactly one of notify, wait or repeat")
        return self


class OnCallConfig(Strict):
    """The `oncall:` section of the YAML file."""

    schedules: list[Schedule] = Field(default_factory=list)
    escalation: dict[str, list[Step]] = Field(default_factory=dict)
    """Severity id -> the steps paged when an incident of that severity is declared."""

    @model_validator(mode="after")
    def _consistent(self) -> OnCallConfig:
        check_unique(self.schedules)
        known = {s.id for s in self.schedules}
        for severity, steps in self.escalation.items():
            for number, step in enumerate(steps, start=1):
                where = f"escalation.{severity} step {number}"
                if step.notify and step.notify.schedule and step.notify.schedule not in known:
                    raise ValueError(f"{where}: unknown schedule {step.notify.schedule!r}")
                if step.repeat and step.repeat.from_step >= number:
                    raise ValueError(f"{where}: repeat must go back to an earlier step")
        return self

    @field_validator("escalation")
    @classmethod
    def _not_empty(cls, value: dict[str, list[Step]]) -> dict[str, list[Step]]:
        for severity, steps in value.items():
            if not any(step.notify for step in steps):
                raise ValueError(f"{severity}: a policy needs at least one notify step")
        return value

    def schedule(self, schedule_id: str) -> Schedule | None:
        return next((s for s in self.schedules if s.id == schedule_id), None)
