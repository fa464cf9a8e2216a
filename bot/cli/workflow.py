"""`incidentbot workflow validate [PATH]` and `incidentbot workflow test NAME --incident INC-N`.

`validate` checks the config's `workflows:` and the files of `workflows_dir` (or PATH: a file or a
directory of workflow files) against the rest of the config: the schema, unknown triggers and actions,
severities, statuses, services, roles, schedules and audiences that do not exist, and `post` templates
that do not render with a sample incident. Exit 1 with every problem, 0 when clean, 2 for usage errors.
`test` replays a past incident's timeline and prints which steps would run, and with what; it runs
nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.cli.db import DatabaseUnavailable, Sessions, read_database
from bot.cli.parsers import incident_number
from bot.config import AppConfig, Settings, config_relative, load_config_aside
from bot.domain import Incident, TimelineEvent
from bot.problems import Problems
from bot.store import IncidentStore
from bot.templating import Templates
from bot.workflows import settings as spec
from bot.workflows.files import load_path, references, templates_render
from bot.workflows.replay import replay
from bot.workflows.settings import Workflow, unique_names

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run(args: argparse.Namespace, settings: Settings, config_path: Path) -> int:
    config, inline = load_config_aside(config_path, "workflows")
    if args.workflow_command == "validate":
        return _validate(args.path, config, inline, config_path)
    return _test(args, settings, config, inline, config_path)


def _inline(raw: Any, config_path: Path, problems: Problems) -> Iterator[tuple[str, Workflow]]:
    if raw is None:
        return
    if not isinstance(raw, list):
        problems.add(str(config_path), "workflows", "must be a list of workflows")
        return
    for number, item in enumerate(raw):
        where = f"{config_path}: workflows[{number}]"
        try:
            yield where, Workflow.model_validate(item)
        except ValidationError as exc:
            problems.validation(where, exc)


def _collect(
    path: Path | None, config: AppConfig, inline: Any, config_path: Path, problems: Problems
) -> list[tuple[str, Workflow]]:
    if path is not None:
        return load_path(path, problems)
    found = list(_inline(inline, config_path, problems))
    if config.workflows_dir is not None:
        found += load_path(config_relative(config_path, config.workflows_dir), problems)
    return found


def _validate(path: Path | None, config: AppConfig, inline: Any, config_path: Path) -> int:
    if path is not None and not path.exists():
        print(f"error: {path} does not exist (a workflow file or a directory of them)", file=sys.stderr)
        return EXIT_USAGE
    problems = Problems()
    found = _collect(path, config, inline, config_path, problems)
    errors = list(problems.items) + unique_names([w for _, w in found])
    templates = Templates(config)
    schedules = {s.id for s in config.oncall.schedules}
    audiences = {n: a.template for n, a in config.communication.audiences.items()}
    for where, workflow in found:
        for problem in references(workflow, config, schedules, audiences) + templates_render(
            workflow, templates, config
        ):
            errors.append(f"{where}: {problem}")
        for number, step in enumerate(workflow.do):
            secret = step.spec.secret_env if isinstance(step.spec, spec.WebhookAction) else None
            if secret and secret not in os.environ:
                print(
                    f"warning: {where}: workflow {workflow.name}: do[{number}].webhook.secret_env: "
                    f"{secret} is not set here (the bot needs it where it runs)"
                )
    for error in errors:
        print(f"error: {error}")
    steps = sum(len(w.do) for _, w in found)
    where = path or config_path
    print(f"{where}: {len(found)} workflows, {steps} actions, {len(errors)} errors")
    return EXIT_FAILED if errors else EXIT_OK


def _describe(config: AppConfig, templates: Templates, incident: Incident) -> Callable[[spec.Step], str]:
    def describe(step: spec.Step) -> str:
        action = step.spec
        if isinstance(action, spec.PostAction):
            where = f"<#{action.channel}>" if action.channel else "the incident channel"
            try:
                text = templates.render(
                    f"{action.template}.md.j2",
                    incident=incident,
                    config=config,
                    severity=config.severity(incident.severity),
                    now=incident.created_at,
                    workflow="(test)",
                )
                first = text.splitlines()[0] if text else ""
            except Exception as exc:  # shown, not raised: the point is to see what would happen
                first = f"(does not render: {type(exc).__name__}: {exc})"
            return f"post {action.template} to {where}: {first[:160]}"
        if isinstance(action, spec.WebhookAction):
            signed = f", signed with ${action.secret_env}" if action.secret_env else ", unsigned"
            return f"webhook POST {action.url} (JSON with the incident{signed}, {action.retries} retries)"
        if isinstance(action, spec.EmailAction):
            return f"email the audience {action.audience} (its template and thread)"
        return step.describe()

    return describe


async def _read(sessions: Sessions, incident_id: int) -> tuple[Incident, list[TimelineEvent]] | None:
    incidents = IncidentStore(sessions)
    incident = await incidents.get(incident_id)
    if incident is None:
        return None
    return incident, await incidents.timeline(incident_id)


def _test(args: argparse.Namespace, settings: Settings, config: AppConfig, inline: Any, path: Path) -> int:
    incident_id = incident_number(args.incident)
    if incident_id is None:
        print(f"error: {args.incident!r} is not an incident number (12 or INC-12)", file=sys.stderr)
        return EXIT_USAGE
    problems = Problems()
    found = {w.name: w for _, w in _collect(None, config, inline, path, problems)}
    workflow = found.get(args.name)
    if workflow is None:
        known = ", ".join(sorted(found)) or "none configured"
        print(f"error: there is no workflow {args.name!r} (workflows: {known})", file=sys.stderr)
        for problem in problems.items:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        read = read_database(settings, lambda sessions: _read(sessions, incident_id))
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if read is None:
        print(f"error: there is no incident INC-{incident_id}", file=sys.stderr)
        return EXIT_FAILED
    incident, events = read
    describe = _describe(config, Templates(config), incident)
    planned = replay(workflow, incident, events, config, describe)
    print(f"workflow {workflow.name} on {incident.reference} ({incident.title}) — nothing is run:")
    if not planned:
        triggers = ", ".join([*workflow.triggers, *(f"{d.of} + delay" for d in workflow.delays)])
        print(f"  no event of this incident is a trigger of the workflow ({triggers})")
    for run in planned:
        when = f"{run.at:%Y-%m-%d %H:%M} UTC"
        if not run.runs:
            print(f"  {run.trigger} (event {run.event_id}, {when}): would not run: {run.why}")
            continue
        print(f"  {run.trigger} (event {run.event_id}, {when}): would run:")
        for number, step in enumerate(run.steps, 1):
            print(f"    {number}. {step}")
    return EXIT_OK
