"""`incidentbot runbook validate | run --dry-run`: runbooks outside Slack, for their authors and for CI.

Steps are never executed from here: they run from Slack, in the incident's channel, where every run is
recorded on the timeline. `run --dry-run` shows exactly what each step would run.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

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


def add_parser(sub: Any) -> None:
    runbook = sub.add_parser("runbook", help="runbooks: validate the files, dry-run one")
    commands = runbook.add_subparsers(dest="runbook_command", required=True)
    check = commands.add_parser("validate", help="check every runbook file; exit 1 on errors")
    check.add_argument(
        "directory",
        nargs="?",
        type=Path,
        help="runbooks directory (default: the config's runbooks.directory)",
    )
    check.add_argument(
        "--max-age-days",
        type=_positive,
        help="warn about runbooks reviewed longer ago (default: runbooks.review_max_age_days, 180)",
    )
    dry = commands.add_parser("run", help="show what each step of a runbook would run (--dry-run)")
    dry.add_argument("name", help="the runbook's name")
    dry.add_argument("--dry-run", action="store_true", help="print the steps; nothing is executed")
    dry.add_argument(
        "--param",
        action="append",
        default=[],
        type=_param,
        metavar="NAME=VALUE",
        help="a command parameter, for every step that declares it (repeatable)",
    )
    dry.add_argument("--dir", type=Path, help="runbooks directory (default: the config's runbooks.directory)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of days")
    return value


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


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
