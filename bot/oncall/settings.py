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

from datetime import time

from pydantic import Field, field_validator, model_validator

from bot.oncall.schedules import WEEKDAYS, ActiveWindow, ClockTime, Schedule, check_unique
from bot.settings import Duration, Strict, known_zone


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


class Person(Strict):
    """What the bot cannot ask Slack for in a report run from the CLI: the person's own time zone."""

    timezone: str

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)


def _working_hours() -> ActiveWindow:
    return ActiveWindow.model_validate({"days": list(WEEKDAYS[:5]), "from": "09:00", "to": "18:00"})


def _sleep_hours() -> ActiveWindow:
    return ActiveWindow.model_validate({"from": "22:00", "to": "07:00"})


class LoadConfig(Strict):
    """`oncall.load`: what counts as out of hours and as sleep, and when a load is worth a warning.

    Hours are local to each person (their `people` zone, else Slack's, else the schedule's)."""

    working_hours: ActiveWindow = Field(default_factory=_working_hours)
    sleep_hours: ActiveWindow = Field(default_factory=_sleep_hours)
    max_consecutive_weeks: int = Field(2, ge=1)
    """More weeks on call in a row than this is a warning."""
    max_night_pages_per_week: int = Field(2, ge=0)
    """More pages during sleep hours in one week than this is a warning."""
    fair_share_factor: float = Field(1.5, gt=1)
    """A share of the team's pages above factor × 1/n (n people on the rota) is a warning."""
    report_channel: str | None = None
    """Where the monthly summary is posted (on the 1st, at `report_time` in the config's zone)."""
    report_time: ClockTime = time(9, 0)


class OnCallConfig(Strict):
    """The `oncall:` section of the YAML file."""

    schedules: list[Schedule] = Field(default_factory=list)
    managers: list[str] = Field(default_factory=list)
    """Slack user ids allowed to `/oncall override` anyone onto a schedule (a swap needs no manager)."""
    people: dict[str, Person] = Field(default_factory=dict)
    """Slack user id -> facts the report needs (time zone)."""
    load: LoadConfig = Field(default_factory=LoadConfig)
    public_url: str | None = None
    """Base URL of the calendar feeds (default: `status_page.url`)."""
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
