"""`incidentbot` command line. Exit codes: 0 ok, 1 check failed, 2 usage or configuration error.

Only the standard library is imported up front: `--help` and `--version` answer at once, and each command
imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.parsers import build_parser as _build_parser

if TYPE_CHECKING:
    from bot.config import AppConfig, Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _settings(args: argparse.Namespace | None = None) -> Settings:
    """The environment (and .env), with `--database-url` and `--config` over it when given."""
    from pydantic import ValidationError

    from bot.config import Settings

    overrides = {
        key: value
        for key, value in (
            ("database_url", getattr(args, "database_url", None)),
            ("config", getattr(args, "config", None)),
        )
        if value
    }
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid environment: {problems}") from exc


def _config(settings: Settings, path: str | None = None) -> AppConfig:
    """Every command outside the sandbox finds its config the same way: `--config`, else
    INCIDENTBOT_CONFIG, else ./incidentbot.yml; a missing or empty file is refused, since the built-in
    defaults page nobody and describe no real service (see `load_config`)."""
    from bot.config import ConfigError, load_config

    try:
        return load_config(Path(path) if path else settings.config, required=True)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


async def _serve(settings: Settings, migrate: bool = False) -> int:
    import asyncio
    import signal

    from bot.cli import sandbox as sandbox_cli
    from bot.cli.db import START_FAULTS, start_fault
    from bot.config import ConfigError
    from bot.server import SocketModeRefused, build_runtime, serve
    from bot.store import db

    missing = settings.missing_slack_settings()
    if settings.slack_bot_token is None and sandbox_cli.fallback_allowed():
        return await sandbox_cli.serve_without_slack(settings, missing)
    if missing:
        print(
            "incidentbot needs a Slack app to talk to. Set " + " and ".join(missing) + " (in the environment "
            "or in .env). Create the app from manifest.yml at https://api.slack.com/apps — see README.md.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    config = _config(settings)
    engine = db.make_engine(settings.database_url)
    try:
        if settings.auto_migrate or migrate:
            await db.upgrade(settings.database_url)
        await db.check_schema(engine)
    except db.SchemaNotMigrated as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except START_FAULTS as exc:
        print(f"error: {start_fault(settings.database_url, exc)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await engine.dispose()
    try:
        runtime = await build_runtime(settings, config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(runtime, stop)
    except SocketModeRefused as exc:
        raise UsageError(str(exc)) from exc
    return EXIT_OK


def _check_config(settings: Settings, path: str | None) -> int:
    from bot.catalog import Catalog
    from bot.config import ConfigError, config_relative
    from bot.config.checks import (
        communication_problems,
        escalation_warnings,
        mail_warnings,
        template_problems,
    )
    from bot.drills.scenario import load_scenarios, references
    from bot.runbooks.model import configured_runbooks
    from bot.slo.specs import configured_slos
    from bot.workflows.files import combined

    config = _config(settings, path)
    source = Path(path) if path else settings.config
    try:
        slos = configured_slos(config.slos, source)
        runbooks = configured_runbooks(config.runbooks, source)
        folder = config_relative(source, config.workflows_dir) if config.workflows_dir else None
        workflows = combined(config.workflows, folder)
        scenarios = load_scenarios(config_relative(source, config.drills.directory))
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    problems = [f"template: {p}" for p in template_problems(config)]
    problems += [f"paging: {p}" for p in config.paging.problems()]
    slo_ids = {slo.id for slo in slos}
    problems += [
        f"status_page.components.{c.id}.uptime_slo: no SLO {c.uptime_slo!r} ({', '.join(sorted(slo_ids))})"
        for c in config.status_page.components
        if c.uptime_slo is not None and c.uptime_slo not in slo_ids
    ]
    if config.status_page.atlassian is not None and settings.statuspage_api_key is None:
        problems.append(
            "status_page.atlassian: INCIDENTBOT_STATUSPAGE_API_KEY is not set, so nothing can be pushed"
        )
    problems += communication_problems(config)
    steps = {r.name: {s.id: list(s.params) for _, s in r.steps()} for r in runbooks.values()}
    services, schedules = [s.id for s in config.services], [s.id for s in config.oncall.schedules]
    problems += config.rollback.problems([s.id for s in config.severities], services, schedules, steps)
    components = [c.id for c in config.status_page.components]
    if config.catalog_dir and not config_relative(source, config.catalog_dir).is_dir():
        problems.append(f"catalog_dir: {config_relative(source, config.catalog_dir)} is not a directory")
    audiences = list(config.communication.audiences)
    problems += Catalog(config.catalog, services).problems(
        schedules, slo_ids, runbooks, components, audiences
    )
    for scenario in scenarios.values():
        problems += [
            f"drills: {p}"
            for p in references(scenario, [s.id for s in config.severities], services, runbooks)
        ]
    problems += [
        f"drills.schedule: unknown scenario {entry.scenario!r} ({', '.join(sorted(scenarios)) or 'none'})"
        for entry in config.drills.schedule
        if entry.scenario not in scenarios
    ]
    for warning in [*escalation_warnings(config), *mail_warnings(settings, config)]:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_FAILED
    print(
        f"config ok: {source}: {len(config.severities)} severities, {len(config.roles)} roles, "
        f"{len(config.services)} services, {len(slos)} SLOs, {len(runbooks)} runbooks, "
        f"{len(workflows)} workflows (`incidentbot workflow validate` checks their templates), "
        f"{len(scenarios)} drill scenarios"
    )
    return EXIT_OK


def _version() -> str:
    try:
        return metadata.version("incidentbot")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    return _build_parser(_version())


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else list(argv)):
        parser.print_help()  # a bare `incidentbot` is a question, not a mistake
        return EXIT_OK
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    import asyncio

    from bot.config import ConfigError

    try:
        settings = _settings(args)
        level = (args.log_level or settings.log_level).upper()
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if level != "DEBUG":  # "Context impl SQLiteImpl.", "Running upgrade 0003 -> 0004": not news
            logging.getLogger("alembic").setLevel(logging.WARNING)
        config_file = getattr(args, "config", None)
        if args.command == "serve":
            return asyncio.run(_serve(settings, args.migrate))
        if args.command == "db" and args.db_command == "prune":
            return _prune(settings, _config(settings, config_file), args.dry_run)
        if args.command == "db":
            return _database_command(args.db_command, settings, getattr(args, "file", None))
        if args.command == "config":
            return _check_config(settings, config_file)
        if args.command == "sandbox":
            from bot.cli import sandbox as sandbox_cli

            return sandbox_cli.run_cli(args, settings)
        if args.command == "oncall":
            from bot.cli import oncall as oncall_cli

            return oncall_cli.run(args, settings, _config(settings, config_file))
        if args.command == "workflow":
            from bot.cli import workflow as workflow_cli

            return workflow_cli.run(args, settings, Path(config_file) if config_file else settings.config)
        if args.command == "catalog":
            from bot.cli import catalog as catalog_cli

            return catalog_cli.run(args, Path(config_file) if config_file else settings.config)
        if args.command == "rollback-watch":
            from bot.cli import rollback as rollback_cli

            return rollback_cli.run(args, settings, _config(settings, config_file))
        if args.command in ("slo", "runbook", "report", "postmortem", "statuspage", "deploy", "drill"):
            from importlib import import_module

            command = import_module(f"bot.cli.{args.command}")
            return int(command.run(args, settings, _config(settings, config_file)))
    except (UsageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.print_usage(sys.stderr)
    return EXIT_USAGE


def _database_command(command: str, settings: Settings, file: Path | None = None) -> int:
    import asyncio

    from bot.cli.db import START_FAULTS, start_fault
    from bot.store import db

    if command == "backup":
        assert file is not None
        try:
            pages = db.backup_sqlite(settings.database_url, file)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        print(f"backed up {db.masked(settings.database_url)} to {file} ({pages} pages)")
        return EXIT_OK
    try:
        if command == "upgrade":
            asyncio.run(db.upgrade(settings.database_url))
            print(f"database at {db.masked(settings.database_url)} is at revision {db.head_revision()}")
            return EXIT_OK
        return asyncio.run(_current(settings))
    except START_FAULTS as exc:
        print(f"error: {start_fault(settings.database_url, exc)}", file=sys.stderr)
        return EXIT_FAILED


def _prune(settings: Settings, config: AppConfig, dry_run: bool) -> int:
    from datetime import UTC, datetime

    from bot.cli.db import DatabaseUnavailable, read_database
    from bot.store.retention import prune

    now = datetime.now(UTC)
    try:
        pruned = read_database(settings, lambda sessions: prune(sessions, config.retention, now, dry_run))
    except DatabaseUnavailable as exc:
        raise UsageError(str(exc)) from exc
    print(f"{'would delete' if dry_run else 'deleted'} {pruned}; incidents and their timelines are kept")
    return EXIT_OK


async def _current(settings: Settings) -> int:
    from bot.store import db

    engine = db.make_engine(settings.database_url)
    try:
        current = await db.current_revision(engine)
    finally:
        await engine.dispose()
    print(f"current: {current or 'none'} (head: {db.head_revision()})")
    return EXIT_OK if current == db.head_revision() else EXIT_FAILED


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
