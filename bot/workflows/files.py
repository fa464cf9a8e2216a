"""Workflow files (`workflows_dir`) and `incidentbot workflow validate`: every problem at once, each worded
`file: field: reason`.

A file holds one workflow, a list of them, or `{workflows: [...]}` (a copy of the config's section).
`check` adds what depends on the rest of the config: severities, statuses, services, roles, schedules,
audiences and templates that must exist, and templates that must render with a sample incident.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.domain import Incident
from bot.problems import Problems, yaml_documents
from bot.settings import ConfigError, IncidentSettings
from bot.templating import Templates
from bot.workflows import settings as spec
from bot.workflows.settings import Workflow

SUFFIXES = (".yml", ".yaml")


class WorkflowError(ConfigError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in workflows:\n" + "\n".join(f"  {p}" for p in problems)
        )


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix in SUFFIXES
        and not any(x.startswith(".") for x in p.relative_to(path).parts)
    )


def _items(document: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(document, dict) and "workflows" in document:
        document = document["workflows"]
    if isinstance(document, list):
        for number, item in enumerate(document):
            yield f"workflows[{number}]", item
    else:
        yield "", document


def load_path(path: Path, problems: Problems) -> list[tuple[str, Workflow]]:
    """The workflows in a file or under a directory, with where each was found."""
    if not path.exists():
        problems.add(str(path), None, "no such file or directory")
        return []
    found: list[tuple[str, Workflow]] = []
    for file in _files(path):
        for where, document in yaml_documents(file, problems):
            for at, item in _items(document):
                place = f"{where}: {at}" if at else where
                if not isinstance(item, dict):
                    problems.add(place, None, "a workflow is a mapping (name, on, if, do)")
                    continue
                try:
                    found.append((place, Workflow.model_validate(item)))
                except ValidationError as exc:
                    problems.validation(place, exc)
    return found


def load_workflows(path: Path) -> list[Workflow]:
    problems = Problems()
    found = load_path(path, problems)
    if problems.items:
        raise WorkflowError(problems.items)
    return [workflow for _, workflow in found]


def combined(inline: list[Workflow], directory: Path | None) -> list[Workflow]:
    """The config's own workflows and those of `workflows_dir`; a name defined twice is an error."""
    workflows = list(inline) + (
        load_workflows(directory) if directory is not None and directory.exists() else []
    )
    duplicates = spec.unique_names(workflows)
    if duplicates:
        raise WorkflowError(duplicates)
    return workflows


# --- references -----------------------------------------------------------------------------------


def references(
    workflow: Workflow,
    config: IncidentSettings,
    schedules: set[str] | None = None,
    audiences: dict[str, str] | set[str] | None = None,
) -> list[str]:
    """Names the workflow uses that the config does not know (None: that kind is not checked)."""
    problems: list[str] = []
    known = {
        "severity": [s.id for s in config.severities],
        "status": list(config.statuses),
        "service": [s.id for s in config.services],
    }
    for path, conditions in _all_conditions(workflow.if_, "if"):
        for field_name, values in known.items():
            for value in getattr(conditions, field_name) or []:
                if value not in values:
                    problems.append(
                        f"{path}.{field_name}: unknown {field_name} {value!r} ({', '.join(values)})"
                    )
    for number, step in enumerate(workflow.do):
        at = f"do[{number}].{step.action}"
        action = step.spec
        if isinstance(action, spec.AssignRoleAction) and config.role(action.role) is None:
            problems.append(
                f"{at}.role: unknown role {action.role!r} ({', '.join(r.id for r in config.roles)})"
            )
        if (
            isinstance(action, spec.PageAction)
            and action.schedule
            and schedules is not None
            and action.schedule not in schedules
        ):
            problems.append(f"{at}.schedule: unknown schedule {action.schedule!r}")
        if (
            isinstance(action, spec.EmailAction)
            and audiences is not None
            and action.audience not in audiences
        ):
            known_audiences = ", ".join(sorted(audiences)) or "none in communication.audiences"
            problems.append(f"{at}.audience: unknown audience {action.audience!r} ({known_audiences})")
        elif (
            isinstance(action, spec.EmailAction)
            and isinstance(audiences, dict)
            and action.template
            and audiences.get(action.audience) != action.template
        ):
            problems.append(
                f"{at}.template: {action.template!r} is not the template of the audience "
                f"{action.audience!r} ({audiences.get(action.audience)!r}): an e-mail goes through the "
                "communication plan, in the audience's own template and thread (leave template out)"
            )
    return [f"workflow {workflow.name}: {p}" for p in problems]


def _all_conditions(conditions: spec.Conditions, path: str) -> Iterator[tuple[str, spec.Conditions]]:
    yield path, conditions
    for name in ("any", "all"):
        for number, nested in enumerate(getattr(conditions, name) or []):
            yield from _all_conditions(nested, f"{path}.{name}[{number}]")
    if conditions.not_ is not None:
        yield from _all_conditions(conditions.not_, f"{path}.not")


def sample_incident(config: IncidentSettings) -> Incident:
    severity = config.severities[0].id if config.severities else "SEV1"
    service = config.services[0].id if config.services else None
    return Incident(
        id=42,
        title="Checkout fails for some card payments",
        severity=severity,
        status=config.initial_status,
        summary="Card payments fail with a timeout for about 5 % of customers.",
        service=service,
        private=False,
        reporter="U0ALICE000",
        created_at=datetime(2026, 1, 15, 14, 0, tzinfo=UTC),
        channel_id="C0INC00042",
        channel_name="inc-42-checkout",
        roles={"incident_commander": "U0ALICE000"},
    )


def templates_render(workflow: Workflow, templates: Templates, config: IncidentSettings) -> list[str]:
    """Every `post` template must exist and render with a sample incident (a misspelt variable only
    shows at render time, which would be during a real incident)."""
    problems = []
    incident = sample_incident(config)
    for number, step in enumerate(workflow.do):
        if not isinstance(step.spec, spec.PostAction):
            continue
        name = f"{step.spec.template}.md.j2"
        try:
            templates.render(
                name,
                incident=incident,
                config=config,
                severity=config.severity(incident.severity),
                now=incident.created_at,
                workflow=workflow.name,
            )
        except Exception as exc:  # a user template can fail in any way: report it
            problems.append(
                f"workflow {workflow.name}: do[{number}].post.template: {name}: {type(exc).__name__}: {exc}"
            )
    return problems
