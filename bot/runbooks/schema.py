"""The runbook file format as pydantic models: `Runbook`, its `Step`s and their `Param`s.

Each model checks itself and reports every problem of a step at once (`fields.Issues`); reading files
and turning those errors into `file: field: reason` lines is `files`' job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from datetime import date, timedelta
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from bot.formatting import format_duration
from bot.runbooks.fields import (
    ENV_NAME,
    HEADER_NAME,
    OWN_SETTINGS,
    PARAM_NAME,
    PLACEHOLDER,
    Issues,
    compile_pattern,
    control_character,
    http_url_problem,
    parse_condition,
    placeholders,
    slug,
)
from bot.settings import Duration, Strict

SECTIONS = ("immediate", "investigation", "recovery", "validation", "communication")
"""In the order they are shown and run."""
DEFAULT_TIMEOUTS = {
    "command": timedelta(seconds=60),
    "http": timedelta(seconds=10),
    "check": timedelta(seconds=10),
    "manual": timedelta(0),
}
MAX_TIMEOUT = timedelta(hours=1)


# --- the model ------------------------------------------------------------------------------------


class Param(Strict):
    """A user-supplied value of a command step: the ONLY part of a command a user can change."""

    type: Literal["string", "int", "enum"] = "string"
    pattern: str | None = None
    """Regex the whole value must match (ASCII mode). Required for strings."""
    choices: list[str] = []
    """For `enum`."""
    default: str | None = None
    description: str = ""
    max_length: int = Field(200, ge=1, le=4096)

    @model_validator(mode="after")
    def _consistent(self) -> Param:
        issues = Issues()
        if self.pattern is not None:
            try:
                compile_pattern(self.pattern)
            except re.error as exc:
                issues.add("pattern", f"is not a valid regular expression: {exc}")
        if self.type == "string" and self.pattern is None:
            issues.add(
                "pattern",
                "is required for string parameters: give the full-match regex of the values allowed, "
                'e.g. "[a-z][a-z0-9-]{0,62}" (or use type: enum with choices)',
            )
        if self.type == "enum":
            if not self.choices:
                issues.add("choices", "an enum parameter needs at least one choice")
            for choice in self.choices:
                if not choice or control_character(choice) or choice.startswith("-"):
                    issues.add(
                        "choices",
                        f"{choice!r} must be non-empty, without control characters or a leading '-'",
                    )
            if len(set(self.choices)) != len(self.choices):
                issues.add("choices", "choices must be unique")
        elif self.choices:
            issues.add("choices", f"only enum parameters take choices (this one is {self.type})")
        if self.default is not None and not issues.items:
            problem = self.problem(self.default)
            if problem:
                issues.add("default", f"{self.default!r} {problem}")
        issues.raise_any()
        return self

    def problem(self, value: str) -> str | None:
        """Why `value` is not acceptable (worded to follow the value or the field name), or None."""
        found = control_character(value)
        if found:
            return f"must not contain control characters or line breaks (found {found})"
        if self.type == "int" and not re.fullmatch(r"[0-9]{1,18}", value):
            return "must be a whole number (digits 0-9 only)"
        if self.type == "enum" and value not in self.choices:
            return "must be one of: " + ", ".join(self.choices)
        if len(value) > self.max_length:
            return f"is {len(value)} characters long; at most {self.max_length} are allowed"
        if self.pattern is not None and not compile_pattern(self.pattern).fullmatch(value):
            hint = f" ({self.description})" if self.description else ""
            return f"does not match the allowed pattern {self.pattern}{hint}"
        return None


MAX_HTTP_BODY = 64 * 1024
StepKind = Literal["check", "http", "command", "manual"]
_KIND_FIELDS: dict[str, set[str]] = {
    "check": {"query", "condition", "timeout"},
    "http": {"url", "method", "body", "expect_status", "expect_body", "headers", "timeout", "dangerous"},
    "command": {"command", "params", "workdir", "env", "env_passthrough", "timeout", "dangerous"},
    "manual": {"dangerous"},
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "check": ("query", "condition"),
    "http": ("url",),
    "command": ("command",),
    "manual": (),
}
_COMMON_FIELDS = {"id", "kind", "title", "description"}


class Step(Strict):
    """One step of a runbook; which fields apply depends on `kind`."""

    id: str
    kind: StepKind
    title: str = Field(min_length=1, max_length=150)
    description: str = ""
    # check
    query: str | None = None
    """PromQL returning a single value, evaluated at the moment the step runs."""
    condition: str | None = None
    """When the check passes: `< 0.05`, `<= 1`, `> 0`, `>= 0.99`, `== 0`, `!= 0`."""
    # http
    url: str | None = None
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: int = Field(200, ge=100, le=599)
    expect_body: str | None = None
    """A substring the first 64 KiB of the body must contain."""
    headers: dict[str, str] = {}
    body: str | None = None
    """Sent with POST, as written in the file (set Content-Type in `headers`); nothing typed in Slack."""
    # command
    command: list[str] = []
    """argv; elements may contain `{param}` placeholders, except argv[0], which is fixed text."""
    params: dict[str, Param] = {}
    workdir: str | None = None
    env: dict[str, str] = {}
    """Fixed environment variables for the process."""
    env_passthrough: list[str] = []
    """Names copied from the bot's environment (PATH, HOME and LANG always are)."""
    dangerous: bool = False
    """Changes something (restart, rollback, failover): Slack asks for an explicit confirmation."""
    timeout: Duration = timedelta(0)
    """Defaults to 60 s for commands and 10 s for http and check steps."""

    check_id = field_validator("id")(slug)

    @model_validator(mode="after")
    def _per_kind(self) -> Step:
        issues = Issues()
        given = self.model_fields_set
        defaults = type(self).model_fields
        for name in sorted(given - _COMMON_FIELDS - _KIND_FIELDS[self.kind]):
            if getattr(self, name) != defaults[name].default:  # defaults pass, so dumps validate again
                issues.add(name, f"is not used by {self.kind} steps")
        for name in _REQUIRED[self.kind]:
            if not getattr(self, name):
                issues.add(name, f"is required for {self.kind} steps")
        if "timeout" in given and self.kind != "manual":
            if not timedelta(0) < self.timeout <= MAX_TIMEOUT:
                shown = format_duration(self.timeout)
                issues.add("timeout", f"must be more than 0 s and at most 1 h (got {shown})")
        elif self.kind in DEFAULT_TIMEOUTS:
            object.__setattr__(self, "timeout", DEFAULT_TIMEOUTS[self.kind])
        if self.kind == "check":
            self._check_fields(issues)
        elif self.kind == "http":
            self._http_fields(issues)
        elif self.kind == "command":
            self._command_fields(issues)
        issues.raise_any()
        return self

    def _check_fields(self, issues: Issues) -> None:
        if self.query is not None and not self.query.strip():
            issues.add("query", "must not be empty")
        if self.condition is not None:
            try:
                parse_condition(self.condition)
            except ValueError as exc:
                issues.add("condition", str(exc))

    def _http_fields(self, issues: Issues) -> None:
        if self.url:
            problem = http_url_problem(self.url)
            if problem:
                issues.add("url", problem)
        if self.body is not None and self.method != "POST":
            issues.add("body", f"is only sent with method: POST (this step uses {self.method})")
        if self.body is not None and len(self.body.encode()) > MAX_HTTP_BODY:
            issues.add("body", f"must be at most {MAX_HTTP_BODY // 1024} KiB")
        for name, value in self.headers.items():
            if not HEADER_NAME.fullmatch(name):
                issues.add(f"headers.{name}", "is not a valid HTTP header name")
            if control_character(value):
                issues.add(f"headers.{name}", "must not contain control characters or line breaks")

    def _command_fields(self, issues: Issues) -> None:
        used: set[str] = set()
        for index, element in enumerate(self.command):
            if "\x00" in element:
                issues.add(f"command[{index}]", "must not contain NUL characters")
            names = placeholders(element)
            if index == 0:
                if not element.strip():
                    issues.add("command[0]", "the program must not be empty")
                if names:
                    issues.add("command[0]", "the program is fixed text: placeholders are not allowed here")
                continue
            for name in names:
                used.add(name)
                if name not in self.params:
                    issues.add(
                        f"command[{index}]",
                        f"placeholder {{{name}}} names no declared parameter; declare it under params "
                        "(or write {{ and }} for literal braces)",
                    )
        for name in self.params:
            if not PARAM_NAME.fullmatch(name):
                issues.add(f"params.{name}", "parameter names are letters, digits and _ (at most 32)")
            elif name not in used:
                issues.add(f"params.{name}", f"is declared but not used in command (add {{{name}}} to it)")
        if self.workdir is not None and not os.path.isabs(self.workdir):
            issues.add("workdir", f"must be an absolute path (got {self.workdir!r})")
        for name, value in self.env.items():
            if not ENV_NAME.fullmatch(name):
                issues.add(f"env.{name}", "is not a valid environment variable name")
            elif "\x00" in value:
                issues.add(f"env.{name}", "must not contain NUL characters")
            elif name.upper().startswith(OWN_SETTINGS):
                issues.add(f"env.{name}", "is one of the bot's own settings (SLACK_*, INCIDENTBOT_*)")
        for index, name in enumerate(self.env_passthrough):
            if not ENV_NAME.fullmatch(name):
                issues.add(f"env_passthrough[{index}]", f"{name!r} is not a valid environment variable name")
            elif name.upper().startswith(OWN_SETTINGS):
                issues.add(
                    f"env_passthrough[{index}]",
                    f"{name} is one of the bot's own settings (SLACK_*, INCIDENTBOT_*): never passed on",
                )

    def placeholder_starts(self) -> set[str]:
        """Parameters whose value begins an argv element: a leading '-' there would make it an option."""
        starts: set[str] = set()
        for element in self.command[1:]:
            match = PLACEHOLDER.match(element)
            if match and match.group(1):
                starts.add(match.group(1))
        return starts


class Runbook(Strict):
    name: str
    title: str = Field(min_length=1, max_length=150)
    severity: str | None = None
    alerts: list[str] = []
    """Alertmanager alertnames this runbook is for."""
    services: list[str] = []
    """Service ids (as in the config's `services:`) this runbook is for."""
    owner: str = Field(min_length=1)
    last_reviewed: date
    links: list[str] = []
    description: str = ""
    sections: dict[str, list[Step]]

    _source: str = PrivateAttr(default="")

    check_name = field_validator("name")(slug)

    @field_validator("links")
    @classmethod
    def _links(cls, value: list[str]) -> list[str]:
        issues = Issues()
        for index, link in enumerate(value):
            problem = http_url_problem(link)
            if problem:
                issues.add(f"[{index}]", problem)
        issues.raise_any()
        return value

    @model_validator(mode="after")
    def _sections(self) -> Runbook:
        issues = Issues()
        for key in self.sections:
            if key not in SECTIONS:
                issues.add(f"sections.{key}", "unknown section; use " + ", ".join(SECTIONS))
        if not any(self.sections.values()):
            issues.add("sections", "a runbook needs at least one step")
        seen: dict[str, str] = {}
        for section, steps in self.sections.items():
            for index, step in enumerate(steps):
                where = f"sections.{section}[{index}]"
                if step.id in seen:
                    first = seen[step.id]
                    issues.add(f"{where}.id", f"duplicate step id {step.id!r} (first used at {first})")
                else:
                    seen[step.id] = where
        issues.raise_any()
        return self

    @property
    def source(self) -> str:
        """The file this runbook was loaded from ("" when built in code)."""
        return self._source

    def steps(self) -> list[tuple[str, Step]]:
        """(section, step) pairs in SECTIONS order, steps in file order within a section."""
        return [(section, step) for section in SECTIONS for step in self.sections.get(section, [])]

    def step(self, step_id: str) -> Step | None:
        return next((step for _, step in self.steps() if step.id == step_id), None)

    def location(self, step_id: str) -> str | None:
        """`sections.<section>[<index>]` of a step, for messages naming the field."""
        for section, steps in self.sections.items():
            for index, step in enumerate(steps):
                if step.id == step_id:
                    return f"sections.{section}[{index}]"
        return None

    def matches(self, service: str | None, alertnames: Collection[str]) -> bool:
        """For an incident on `service` or firing `alertnames`: either one listed here is enough."""
        if service is not None and service in self.services:
            return True
        return any(name in self.alerts for name in alertnames)
