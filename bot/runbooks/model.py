"""The runbook file format, loading, and `validate` (what `incidentbot runbook validate` runs in CI).

One runbook per YAML document (a file may hold several, separated by `---`):

    name: high-error-rate
    title: High error rate
    owner: team-platform
    last_reviewed: 2026-10-01
    alerts: [HighErrorRate]
    services: [checkout, api]
    sections:
      immediate:
        - id: error-ratio
          kind: check
          title: Worst service's 5xx ratio over 5 minutes
          query: max(sum by (service) (rate(http_requests_total{code=~"5.."}[5m])) / ...)
          condition: "< 0.01"
      recovery:
        - id: rollback
          kind: command
          title: Roll the deployment back
          command: [kubectl, rollout, undo, "deployment/{deployment}", --namespace, "{namespace}"]
          params:
            deployment: {pattern: "[a-z][a-z0-9-]{0,62}"}
            namespace: {type: enum, choices: [prod, staging], default: prod}
          dangerous: true

Commands are argv lists, never shell lines: `{name}` in an element is replaced by the value of the declared
parameter `name` (the only part a user supplies, checked by `bot.runbooks.params`), `{{` and `}}` stand for
literal braces, and any other brace is literal text (so kubectl's `jsonpath={.status}` needs no escaping).

Every problem in every file is collected before anything is raised, each worded `file: field: reason`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.config_problems import Problems, field_path, reason, yaml_documents
from bot.config_types import ConfigError, Duration, Strict, format_duration
from bot.runbooks.config import RunbooksConfig

__all__ = [
    "SECTIONS",
    "Param",
    "Report",
    "Runbook",
    "RunbookError",
    "RunbooksConfig",
    "Step",
    "configured_runbooks",
    "load_runbooks",
    "placeholders",
    "validate",
]

SECTIONS = ("immediate", "investigation", "recovery", "validation", "communication")
"""In the order they are shown and run."""
RUNBOOK_SUFFIXES = (".yml", ".yaml")
DEFAULT_TIMEOUTS = {
    "command": timedelta(seconds=60),
    "http": timedelta(seconds=10),
    "check": timedelta(seconds=10),
    "manual": timedelta(0),
}
MAX_TIMEOUT = timedelta(hours=1)
ALWAYS_PASSED_ENV = ("PATH", "HOME", "LANG")
"""Copied from the bot's environment into every command's environment."""

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""`{name}` is a parameter; `{{` and `}}` are literal braces; any other brace is literal text."""
_CONDITION = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*")
OWN_SETTINGS = ("SLACK_", "INCIDENTBOT_")
"""Prefixes of the bot's own settings and credentials: never handed to a runbook command."""
CREDENTIAL_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH",
    re.IGNORECASE,
)
"""Environment names that look like they hold a credential: passed through only when listed in
`runbooks.secret_env`, so their values are redacted from the output posted to Slack."""


class RunbookError(ConfigError):
    """Every problem found in the runbook files, each worded as `file: field: reason`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in runbooks:\n" + "\n".join(f"  {p}" for p in problems))


# --- field checks ---------------------------------------------------------------------------------


class _Issues:
    """Several `(field, reason)` problems of one model, raised as one error the loader splits again."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field_name: str, reason: str) -> None:
        self.items.append((field_name, reason))

    def raise_any(self) -> None:
        if self.items:
            summary = "; ".join(f"{f}: {r}" if f else r for f, r in self.items)
            context = {"summary": summary, "issues": self.items}
            raise PydanticCustomError("runbook_fields", "{summary}", context)


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            "must be a slug: lowercase letters, digits, '-' and '_', starting and ending with a letter or "
            f"digit, at most 64 characters (got {value!r})"
        )
    return value


def _control(text: str) -> str | None:
    """The first control or line-break character in `text`, as U+XXXX, or None."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


def http_url_problem(url: str) -> str | None:
    """Why `url` is not an absolute http(s) URL, or None."""
    if _control(url) or any(c.isspace() for c in url):
        return f"must be an absolute http(s) URL without spaces or control characters (got {url!r})"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an absolute http:// or https:// URL (got {url!r})"
    try:
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError:
        return f"has an invalid port (got {url!r})"
    return None


def parse_condition(text: str) -> tuple[str, float]:
    """`"< 0.05"` → `("<", 0.05)`; raises ValueError with a message a runbook author can act on."""
    match = _CONDITION.fullmatch(text or "")
    if not match:
        raise ValueError(
            f"must be a comparison operator (<, <=, >, >=, ==, !=) and a number, e.g. '< 0.05' (got {text!r})"
        )
    return match.group(1), float(match.group(2))


def placeholders(element: str) -> list[str]:
    """Names of the `{name}` placeholders in one argv element, in order (`{{`/`}}` are not placeholders)."""
    return [m.group(1) for m in PLACEHOLDER.finditer(element) if m.group(1)]


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Parameter patterns are ASCII-only: `\\w`, `\\d` and `\\s` never match look-alike Unicode letters."""
    return re.compile(pattern, re.ASCII)


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
        issues = _Issues()
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
                if not choice or _control(choice) or choice.startswith("-"):
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
        found = _control(value)
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

    check_id = field_validator("id")(_slug)

    @model_validator(mode="after")
    def _per_kind(self) -> Step:
        issues = _Issues()
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

    def _check_fields(self, issues: _Issues) -> None:
        if self.query is not None and not self.query.strip():
            issues.add("query", "must not be empty")
        if self.condition is not None:
            try:
                parse_condition(self.condition)
            except ValueError as exc:
                issues.add("condition", str(exc))

    def _http_fields(self, issues: _Issues) -> None:
        if self.url:
            problem = http_url_problem(self.url)
            if problem:
                issues.add("url", problem)
        if self.body is not None and self.method != "POST":
            issues.add("body", f"is only sent with method: POST (this step uses {self.method})")
        if self.body is not None and len(self.body.encode()) > MAX_HTTP_BODY:
            issues.add("body", f"must be at most {MAX_HTTP_BODY // 1024} KiB")
        for name, value in self.headers.items():
            if not _HEADER_NAME.fullmatch(name):
                issues.add(f"headers.{name}", "is not a valid HTTP header name")
            if _control(value):
                issues.add(f"headers.{name}", "must not contain control characters or line breaks")

    def _command_fields(self, issues: _Issues) -> None:
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
            if not _PARAM_NAME.fullmatch(name):
                issues.add(f"params.{name}", "parameter names are letters, digits and _ (at most 32)")
            elif name not in used:
                issues.add(f"params.{name}", f"is declared but not used in command (add {{{name}}} to it)")
        if self.workdir is not None and not os.path.isabs(self.workdir):
            issues.add("workdir", f"must be an absolute path (got {self.workdir!r})")
        for name, value in self.env.items():
            if not _ENV_NAME.fullmatch(name):
                issues.add(f"env.{name}", "is not a valid environment variable name")
            elif "\x00" in value:
                issues.add(f"env.{name}", "must not contain NUL characters")
            elif name.upper().startswith(OWN_SETTINGS):
                issues.add(f"env.{name}", "is one of the bot's own settings (SLACK_*, INCIDENTBOT_*)")
        for index, name in enumerate(self.env_passthrough):
            if not _ENV_NAME.fullmatch(name):
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

    check_name = field_validator("name")(_slug)

    @field_validator("links")
    @classmethod
    def _links(cls, value: list[str]) -> list[str]:
        issues = _Issues()
        for index, link in enumerate(value):
            problem = http_url_problem(link)
            if problem:
                issues.add(f"[{index}]", problem)
        issues.raise_any()
        return value

    @model_validator(mode="after")
    def _sections(self) -> Runbook:
        issues = _Issues()
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


# --- loading --------------------------------------------------------------------------------------


class _Problems(Problems):
    def validation(self, where: str, exc: ValidationError) -> None:
        for err in exc.errors():
            base = field_path(err["loc"])
            if err["type"] == "runbook_fields":
                for sub, why in err["ctx"]["issues"]:
                    self.add(where, _join(base, sub) or "(top level)", why)
                continue
            self.add(where, base or "(top level)", reason(err))


def _join(base: str, sub: str) -> str:
    if not sub:
        return base
    if not base:
        return sub.lstrip(".")
    return f"{base}{sub}" if sub.startswith("[") else f"{base}.{sub}"


@dataclass(frozen=True)
class _Loaded:
    runbook: Runbook
    where: str


def _files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.suffix in RUNBOOK_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def _load_file(file: Path, problems: _Problems) -> Iterator[_Loaded]:
    for where, document in yaml_documents(file, problems):
        if not isinstance(document, dict):
            problems.add(where, None, "the top level must be a mapping (name, title, owner, sections, …)")
            continue
        try:
            runbook = Runbook.model_validate(document)
        except ValidationError as exc:
            problems.validation(where, exc)
            continue
        runbook._source = where
        yield _Loaded(runbook, where)


def _load(directory: Path, problems: _Problems) -> dict[str, Runbook]:
    if not directory.is_dir():
        problems.add(str(directory), None, "no such directory")
        return {}
    found: dict[str, Runbook] = {}
    for file in _files(directory):
        for item in _load_file(file, problems):
            earlier = found.get(item.runbook.name)
            if earlier is not None:
                name = item.runbook.name
                reason = f"duplicate runbook name {name!r} (also in {earlier.source})"
                problems.add(item.where, "name", reason)
                continue
            found[item.runbook.name] = item.runbook
    return found


def load_runbooks(directory: Path) -> dict[str, Runbook]:
    """Every runbook in `*.yml`/`*.yaml` under `directory` (recursively, hidden paths skipped), by name.

    Raises `RunbookError` listing every problem in every file, so one run shows everything to fix.
    """
    problems = _Problems()
    found = _load(directory, problems)
    if problems.items:
        raise RunbookError(problems.items)
    return found


def runbooks_directory(config: RunbooksConfig, config_path: Path) -> Path:
    directory = config.directory
    return directory if directory.is_absolute() else config_path.parent / directory


def configured_runbooks(config: RunbooksConfig, config_path: Path) -> dict[str, Runbook]:
    """The runbooks in `runbooks.directory` (relative to the config file); {} if it is missing."""
    directory = runbooks_directory(config, config_path)
    if not directory.exists():
        return {}
    return load_runbooks(directory)


# --- validate -------------------------------------------------------------------------------------


@dataclass
class Report:
    runbooks: dict[str, Runbook]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate(
    directory: Path,
    today: date,
    max_age_days: int,
    which: Callable[[str], str | None] = shutil.which,
    secret_env: Iterable[str] | None = None,
) -> Report:
    """Everything `load_runbooks` checks, plus what depends on this machine and on today (for CI):

    errors: schema problems, programs (argv[0]) not found on PATH or not executable, working directories that
    do not exist, credential-like env / env_passthrough names not in `secret_env` (when given), review dates
    in the future; warnings: `last_reviewed` older than `max_age_days`, credentials written in a file.
    """
    problems = _Problems()
    runbooks = _load(directory, problems)
    warnings = _Problems()
    secrets = set(secret_env) if secret_env is not None else None
    for runbook in runbooks.values():
        where = runbook.source
        age = (today - runbook.last_reviewed).days
        if age > max_age_days:
            warnings.add(
                where,
                "last_reviewed",
                f"{runbook.last_reviewed.isoformat()} is {age} days ago (more than {max_age_days}): "
                "walk through the runbook and update the date",
            )
        elif age < -1:
            problems.add(where, "last_reviewed", f"{runbook.last_reviewed.isoformat()} is in the future")
        for _, step in runbook.steps():
            if step.kind != "command":
                continue
            at = runbook.location(step.id)
            program = step.command[0]
            if which(program) is None:
                if os.path.sep in program:
                    kind = "is not executable" if os.path.exists(program) else "does not exist"
                else:
                    kind = "is not found on PATH"
                problems.add(where, f"{at}.command[0]", f"{program!r} {kind} on this machine")
            if step.workdir is not None and not os.path.isdir(step.workdir):
                problems.add(where, f"{at}.workdir", f"{step.workdir!r} is not a directory on this machine")
            names = [(f"env_passthrough[{i}]", name) for i, name in enumerate(step.env_passthrough)]
            names += [(f"env.{name}", name) for name in step.env]
            for field_name, name in names:
                if not CREDENTIAL_NAME.search(name):
                    continue
                if secrets is not None and name not in secrets:
                    problems.add(
                        where,
                        f"{at}.{field_name}",
                        f"{name} looks like a credential: list it in runbooks.secret_env so its value is "
                        "redacted from the output (steps that pass it are refused until then)",
                    )
                elif field_name.startswith("env.") and step.env[name]:
                    warnings.add(
                        where,
                        f"{at}.{field_name}",
                        f"{name} looks like a credential committed with the runbook; prefer passing it from "
                        "the bot's environment with env_passthrough",
                    )
    return Report(runbooks, problems.items, warnings.items)
