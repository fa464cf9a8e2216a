"""`incidentbot runbook validate | run --dry-run`: runbooks outside Slack, for their authors and for CI.

Steps are never executed from here: they run from Slack, in the incident's channel, where every run is
recorded on the timeline. `run --dry-run` shows exactly what each step would run.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bot.config import AppConfig, Settings
from bot.formatting import format_duration
from bot.runbooks.model import (
    ALWAYS_PASSED_ENV,
    Runbook,
    RunbooksConfig,
    Step,
    load_runbooks,
    runbooks_directory,
    validate,
)
from bot.runbooks.params import ParamError, preview

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    section: RunbooksConfig = getattr(config, "runbooks", None) or RunbooksConfig()
    configured = runbooks_directory(section, settings.config)
    if args.runbook_command == "validate":
        return _validate(args.directory, configured, section, config, args.max_age_days)
    return _dry_run(args, args.dir or configured)


def _validate(
    given: Path | None, configured: Path, section: RunbooksConfig, config: AppConfig, max_age: int | None
) -> int:
    directory = given or configured
    if not directory.is_dir():
        where = f"{directory} (runbooks.directory in the config)" if given is None else str(directory)
        hint = "name one: `incidentbot runbook validate DIR`"
        print(f"error: nothing to validate: {where} is not a directory; {hint}", file=sys.stderr)
        return EXIT_USAGE
    max_age = max_age or section.review_max_age_days
    report = validate(directory, date.today(), max_age, secret_env=section.secret_env)
    errors = report.errors + _config_problems(report.runbooks, config)
    for problem in errors:
        print(f"error: {problem}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    steps = sum(len(r.steps()) for r in report.runbooks.values())
    print(
        f"{directory}: {len(report.runbooks)} runbooks, {steps} steps, "
        f"{len(errors)} errors, {len(report.warnings)} warnings"
    )
    return EXIT_FAILED if errors else EXIT_OK


def _config_problems(runbooks: dict[str, Runbook], config: AppConfig) -> list[str]:
    """Names a runbook uses that the config does not know (services only when the config lists any)."""
    severities = [s.id for s in config.severities]
    services = [s.id for s in config.services]
    problems = []
    for runbook in runbooks.values():
        if runbook.severity is not None and runbook.severity not in severities:
            problems.append(
                f"{runbook.source}: severity: {runbook.severity!r} is not a configured severity "
                f"({', '.join(severities)})"
            )
        for index, service in enumerate(runbook.services):
            if services and service not in services:
                problems.append(
                    f"{runbook.source}: services[{index}]: {service!r} is not a configured service "
                    f"({', '.join(services)})"
                )
    return problems


def _dry_run(args: argparse.Namespace, directory: Path) -> int:
    if not args.dry_run:
        print(
            "error: runbook steps are run from Slack, in the incident's channel, where every run is recorded "
            f"on the timeline: /incident runbook {args.name}. Here, add --dry-run to see what each step "
            "would run.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not directory.is_dir():
        print(f"error: {directory}: no such directory (runbooks.directory, or --dir)", file=sys.stderr)
        return EXIT_USAGE
    runbooks = load_runbooks(directory)
    runbook = runbooks.get(args.name)
    if runbook is None:
        known = ", ".join(sorted(runbooks)) or "none"
        print(f"error: no runbook named {args.name!r} in {directory} (runbooks: {known})", file=sys.stderr)
        return EXIT_USAGE
    given: dict[str, str] = {}
    for name, value in args.param:
        if name in given:
            print(f"error: --param {name} is given twice", file=sys.stderr)
            return EXIT_USAGE
        given[name] = value
    declared = {name for _, step in runbook.steps() for name in step.params}
    takes = ", ".join(sorted(declared)) or "none"
    problems = [
        f"--param {name}: no step of {runbook.name} takes it (parameters: {takes})"
        for name in given
        if name not in declared
    ]
    lines = _header(runbook)
    for section, step in runbook.steps():
        try:
            lines += _describe(section, step, {k: v for k, v in given.items() if k in step.params})
        except ParamError as exc:
            hint = f" (give --param {exc.name}=…)" if exc.message == "is required" else ""
            problems.append(f"step {step.id} ({section}): parameter {exc.name}: {exc.message}{hint}")
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    print("\n".join(lines))
    return EXIT_OK


def _header(runbook: Runbook) -> list[str]:
    facts = [
        f"severity {runbook.severity}" if runbook.severity else None,
        f"owner {runbook.owner}",
        f"last reviewed {runbook.last_reviewed.isoformat()}",
        f"alerts: {', '.join(runbook.alerts)}" if runbook.alerts else None,
        f"services: {', '.join(runbook.services)}" if runbook.services else None,
    ]
    return [
        f"Runbook {runbook.name}: {runbook.title}",
        " · ".join(f for f in facts if f),
        f"Dry run: nothing is executed. Steps run from Slack: /incident runbook {runbook.name}",
    ]


def _describe(section: str, step: Step, given: dict[str, str]) -> list[str]:
    flag = "  [DANGEROUS: asks for approval before it runs]" if step.dangerous else ""
    lines = ["", f"[{section}] {step.kind} {step.id}: {step.title}{flag}"]
    timeout = f"timeout {format_duration(step.timeout)}"
    if step.kind == "command":
        lines.append(f"    $ {preview(step, given)}")
        env = [*ALWAYS_PASSED_ENV, *step.env_passthrough, *(f"{k}={v}" for k, v in step.env.items())]
        where = f" · in {step.workdir}" if step.workdir else ""
        lines.append(f"    env: {', '.join(env)}{where} · {timeout} (then the process group is killed)")
    elif step.kind == "http":
        expect = f"expect HTTP {step.expect_status}"
        if step.expect_body is not None:
            expect += f" and a body containing {step.expect_body!r}"
        headers = f" · headers: {', '.join(step.headers)}" if step.headers else ""
        lines.append(f"    {step.method} {step.url}")
        if step.body is not None:
            lines.append(f"    body ({len(step.body.encode())} bytes): {step.body[:200]!r}")
        lines.append(f"    {expect} · redirects not followed{headers} · {timeout}")
    elif step.kind == "check":
        lines.append(f"    query: {step.query}")
        lines.append(f"    passes when: value {step.condition} · {timeout}")
    else:
        lines.append(f"    manual: {step.title}")
        if step.description:
            lines.append(f"    {step.description}")
    return lines
