"""The config file's `workflows:` section (and the files of `workflows_dir`): triggers, conditions, actions.

Unknown triggers, actions and keys are refused at load with the field that is wrong, so a typo fails
`incidentbot config check` or `incidentbot workflow validate` rather than silently never firing. Actions
are looked up in `ACTIONS` (name → parameter model), the one place a new action (say, `rollback`) is
added; the services have the matching handler registry.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from bot.settings import Duration, Strict

TRIGGERS: tuple[str, ...] = (
    "incident.declared",
    "severity.changed",
    "status.changed",
    "role.assigned",
    "update.posted",
    "page.acknowledged",
    "alert.received",
    "alert.resolved",
    "incident.resolved",
    "postmortem.published",
    "threshold",
    "slo.burn",
    "deploy.recorded",
    "rto.breached",
)
"""The events a workflow can start on; each is a timeline event kind (see `bot.services.workflow_bus`)."""
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


def _known_trigger(value: str) -> str:
    if value not in TRIGGERS:
        raise ValueError(f"unknown trigger {value!r} (known: {', '.join(TRIGGERS)})")
    return value


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str | bool) else value


class Delay(Strict):
    """`{after: 30m, of: incident.declared, unless: incident.resolved}`: a durable timer per `of` event,
    cancelled (and a no-op if it fires anyway) once an `unless` event happened in between."""

    after: Duration
    of: str
    unless: list[str] = []

    @field_validator("of")
    @classmethod
    def _of(cls, value: str) -> str:
        return _known_trigger(value)

    @field_validator("unless", mode="before")
    @classmethod
    def _unless(cls, value: Any) -> Any:
        return [_known_trigger(v) if isinstance(v, str) else v for v in _listed(value) or []]

    @field_validator("after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("after must be a positive duration such as 30m")
        return value


def _delay(value: Any) -> Any:
    """A delay's own errors, without pydantic's "or it should have been a string" of the union."""
    if not isinstance(value, dict):
        return value
    try:
        return Delay.model_validate(value)
    except ValidationError as exc:
        raise ValueError(_worded(exc, "delay")) from None


def _worded(exc: ValidationError, name: str) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or name}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


class Conditions(Strict):
    """`if:`: every key given must hold; lists mean "one of". `labels` are the alert's labels (an alert
    event's own, else those of the alerts recorded on the incident)."""

    severity: list[str] | None = None
    status: list[str] | None = None
    service: list[str] | None = None
    private: bool | None = None
    drill: bool | None = None
    """Only drills (true) or only real incidents (false); a drill runs only workflows with `drills: true`."""
    labels: dict[str, str | list[str]] | None = None
    fields: dict[str, str | list[str]] | None = None
    """Custom fields of the incident (`set_field`): each named field has the value, or one of them."""
    any: list[Conditions] | None = None
    all: list[Conditions] | None = None
    not_: Conditions | None = Field(None, alias="not")

    @field_validator("severity", "status", "service", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _listed(value)


class InviteAction(Strict):
    users: list[str] = []
    usergroup: str | None = None

    @model_validator(mode="after")
    def _someone(self) -> InviteAction:
        if not self.users and not self.usergroup:
            raise ValueError("invite needs users or a usergroup")
        return self


class PageAction(Strict):
    user: str | None = None
    schedule: str | None = None

    @model_validator(mode="after")
    def _one(self) -> PageAction:
        if (self.user is None) == (self.schedule is None):
            raise ValueError("page needs exactly one of user or schedule")
        return self


class PostAction(Strict):
    template: str
    """A template name (`team_heads_up` → `team_heads_up.md.j2`), rendered with the incident."""
    channel: str | None = None
    """A channel id; none: the incident's channel."""


class EmailAction(Strict):
    audience: str
    """An audience of the communication plan, told through the plan (its own templates and thread)."""
    template: str | None = None


class AssignRoleAction(Strict):
    role: str
    user: str


class BookmarkAction(Strict):
    title: str
    link: str
    """A URL; `{reference}`, `{id}`, `{severity}` and `{service}` are filled in."""
    emoji: str | None = None


class ActionItemAction(Strict):
    text: str
    owner: str | None = None
    due_in_days: int | None = Field(None, ge=0, le=365)


class WebhookAction(Strict):
    url: str
    secret_env: str | None = None
    """The environment variable holding the HMAC secret (never the secret itself in the file)."""
    timeout: float = Field(10.0, gt=0, le=60)
    retries: int = Field(3, ge=0, le=10)
    """Further attempts after a failure (connection error, timeout, 5xx, 429), with a growing delay."""

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class RunbookAction(Strict):
    name: str
    """A runbook (`runbooks:`) posted as the incident's checklist; its steps keep their approvals."""


class StatusPageAction(Strict):
    """A status-page update drafted from the stage's template and sent to the Incident Commander for
    approval: a workflow never publishes by itself."""

    status: str | None = None
    """A Statuspage incident status (investigating, identified, monitoring, resolved); default: the
    incident's own stage."""

    @field_validator("status")
    @classmethod
    def _stage(cls, value: str | None) -> str | None:
        stages = ("investigating", "identified", "monitoring", "resolved")
        if value is not None and value not in stages:
            raise ValueError(f"unknown status {value!r} ({', '.join(stages)})")
        return value


class SetFieldAction(Strict):
    """Set a custom field of the incident (say `customer_impact: true`), which other workflows' `fields`
    conditions read; recorded on the timeline."""

    field: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    value: str = Field(max_length=200)

    @field_validator("value", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        """YAML reads `true` and `3` as a boolean and a number; a field holds text."""
        if isinstance(value, bool):
            return str(value).lower()
        return str(value) if isinstance(value, int | float) else value


class RollbackAction(Strict):
    """Roll the incident's service back now, under the `rollback:` section's approval policy (its
    runbook step, SEV1 automatic, SEV2 on the IC's approval, otherwise a suggestion)."""

    previous: str | None = None
    """The version to roll back to, given to the step's `version_param`."""


ACTIONS: dict[str, type[Strict]] = {
    "invite": InviteAction,
    "page": PageAction,
    "post": PostAction,
    "email": EmailAction,
    "assign_role": AssignRoleAction,
    "bookmark": BookmarkAction,
    "action_item": ActionItemAction,
    "webhook": WebhookAction,
    "runbook": RunbookAction,
    "status_page": StatusPageAction,
    "rollback": RollbackAction,
    "set_field": SetFieldAction,
}
"""Action name → its parameters; the extension point for new actions (the service registers a handler)."""


class Step(Strict):
    """One item of `do:`, written `{invite: {users: [...]}}`."""

    action: str
    spec: Strict

    @model_validator(mode="before")
    @classmethod
    def _one_action(cls, value: Any) -> Any:
        if isinstance(value, Step):
            return value
        if isinstance(value, dict) and set(value) == {"action", "spec"}:
            return value
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError(f"each step is one action, written {{action: {{...}}}} ({', '.join(ACTIONS)})")
        [(name, params)] = value.items()
        model = ACTIONS.get(name)
        if model is None:
            raise ValueError(f"unknown action {name!r} (known: {', '.join(ACTIONS)})")
        try:
            spec = model.model_validate(params or {})
        except ValidationError as exc:
            raise ValueError(f"{name}: {_worded(exc, name)}") from None
        return {"action": name, "spec": spec}

    def describe(self) -> str:
        fields = self.spec.model_dump(exclude_none=True, exclude_defaults=True)
        shown = ", ".join(f"{k}={v}" for k, v in fields.items() if k != "secret_env")
        return f"{self.action}({shown})"


class Workflow(Strict):
    name: str
    on: list[str | Delay]
    if_: Conditions = Field(Conditions(), alias="if")
    do: list[Step] = Field(min_length=1)
    stop_on_error: bool = False
    """A failing action stops the ones after it (otherwise each action runs whatever the others did)."""
    drills: bool = False
    """Whether it runs for drills too (practice incidents run only the workflows that say so)."""

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare `on:` key as the boolean true (PyYAML does): take it back."""
        if isinstance(value, dict) and True in value and "on" not in value:
            value = {("on" if key is True else key): item for key, item in value.items()}
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r}: a workflow name is lowercase letters, digits, - and _ (≤ 60)")
        return value

    @field_validator("on", mode="before")
    @classmethod
    def _triggers(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ValueError("on needs at least one trigger")
        return [_known_trigger(item) if isinstance(item, str) else _delay(item) for item in items]

    @property
    def triggers(self) -> list[str]:
        return [t for t in self.on if isinstance(t, str)]

    @property
    def delays(self) -> list[Delay]:
        return [t for t in self.on if isinstance(t, Delay)]


def unique_names(workflows: list[Workflow]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for workflow in workflows:
        if workflow.name in seen:
            problems.append(f"workflows: {workflow.name!r} is defined twice")
        seen.add(workflow.name)
    return problems
