"""Every `incidentbot` command's arguments, in a module that imports nothing heavy.

`incidentbot --help` and `--version` build the whole parser; keeping the arguments here (argparse and the
standard library only) lets them answer without loading pydantic, SQLAlchemy or the server. Each command's
work lives in its own module (`bot.cli.slo`, `bot.cli.report`, …), imported when it runs.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPORT_FORMATS = ("csv", "json", "markdown")
"""`bot.postmortem.report.RENDERERS`' keys (a test keeps them equal)."""

SERVE_SETTINGS = """\
Settings (from the environment, or a .env file in the working directory):
  SLACK_BOT_TOKEN           the bot token (xoxb-…); without it, `serve` starts the local sandbox
  SLACK_APP_TOKEN           an app-level token (xapp-…): Socket Mode, nothing to expose publicly
  SLACK_SIGNING_SECRET      HTTP mode (no SLACK_APP_TOKEN): verifies requests on POST /slack/events
  INCIDENTBOT_HOST, INCIDENTBOT_PORT    where HTTP listens (0.0.0.0, 3000): Slack in HTTP mode,
                            /healthz, /metrics and the webhooks in both modes
  INCIDENTBOT_DATABASE_URL  sqlite+aiosqlite:///./incidentbot.db, or postgresql+asyncpg://… (--database-url)
  INCIDENTBOT_CONFIG        the YAML config, ./incidentbot.yml by default (--config); it must exist
  INCIDENTBOT_AUTO_MIGRATE  true: migrate the schema at start (as --migrate)
  INCIDENTBOT_PROMETHEUS_URL (+ _BEARER_TOKEN, _USERNAME/_PASSWORD, _HEADERS)   SLO figures
  INCIDENTBOT_WEBHOOK_TOKEN bearer token of the Alertmanager webhook (without it, webhooks are refused)
  INCIDENTBOT_LOG_LEVEL     DEBUG, INFO (default), WARNING
See README.md, "Go live", for the whole path from a Slack app to the first incident."""


def _with_sources(parser: argparse.ArgumentParser, database: bool = True, config: bool = True) -> None:
    """The two places a command reads: the same options everywhere, over the environment."""
    if config:
        parser.add_argument(
            "--config", help="config file (default: INCIDENTBOT_CONFIG, else ./incidentbot.yml)"
        )
    if database:
        parser.add_argument("--database-url", help="database (default: INCIDENTBOT_DATABASE_URL)")


def incident_number(text: str) -> int | None:
    """`12` or `INC-12` (any case) as 12; None for anything else."""
    number = text.strip().upper().removeprefix("INC-")
    return int(number) if number.isdigit() else None


def _pair(text: str, example: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not {example}")
    return key, value


def _label(text: str) -> tuple[str, str]:
    return _pair(text, "KEY=VALUE, e.g. team=payments")


def _moment(text: str) -> datetime:
    """An ISO date or time; without a zone it is UTC, as Prometheus's timestamps are."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date or time such as 2026-11-01T12:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of days")
    return value


def _param(text: str) -> tuple[str, str]:
    return _pair(text, "NAME=VALUE")


def _serve(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the bot (HTTP or Socket Mode); without SLACK_BOT_TOKEN, the sandbox",
        description="Run the bot: Slack over HTTP (POST /slack/events) or Socket Mode, with /healthz, "
        "/metrics and the webhooks on one port.",
        epilog=SERVE_SETTINGS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="migrate the database first (as `db upgrade`); the sandbox keeps its own and touches none",
    )
    _with_sources(serve)


def _sandbox(sub: Any) -> None:
    parser = sub.add_parser(
        "sandbox",
        help="try the bot without Slack: a local Slack stand-in and a web page on 127.0.0.1",
        description="Start the bot against a local Slack stand-in, with a Slack-like page at "
        "http://127.0.0.1:PORT/sandbox (loopback only). Try your own severities, templates and runbooks "
        "with --config before going live.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="config file (default: INCIDENTBOT_CONFIG if that file exists, else examples/incidentbot.yml "
        "in a checkout, else built-in defaults)",
    )
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: INCIDENTBOT_PORT, 3000)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="keep incidents in this database (default: a fresh SQLite file per run, deleted on exit)",
    )
    parser.add_argument(
        "--drill", metavar="SCENARIO", help="start this drill scenario at once (Alice and Bob)"
    )


def _db(sub: Any) -> None:
    database = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    for name, text in (
        ("upgrade", "migrate the database to the current schema"),
        ("current", "print the database's schema revision"),
    ):
        _with_sources(database.add_parser(name, help=text), config=False)
    backup = database.add_parser(
        "backup", help="copy the SQLite database, consistent while the bot runs (PostgreSQL: use pg_dump)"
    )
    backup.add_argument("file", type=Path, help="the copy to write (a new file)")
    _with_sources(backup, config=False)
    prune = database.add_parser(
        "prune",
        help="delete old bookkeeping (Slack delivery keys, finished timers, resolved alert groups; "
        "`retention:` in the config); the record is never pruned",
    )
    prune.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    _with_sources(prune)


def _config(sub: Any) -> None:
    config = sub.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True
    )
    check = config.add_parser("check", help="validate the config file and templates")
    check.add_argument("--config", help="file to check (default: INCIDENTBOT_CONFIG, else ./incidentbot.yml)")


def _slo(sub: Any) -> None:
    slo = sub.add_parser("slo", help="SLOs: report, deploy gate, Prometheus rules")
    commands = slo.add_subparsers(dest="slo_command", required=True)
    report = commands.add_parser("report", help="compliance report of every SLO, the worst first")
    report.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    gate = commands.add_parser("gate", help="exit 0 when budget is left and nothing burns at page level")
    for command in (report, gate):
        command.add_argument("--service")
        command.add_argument("--team", help="only SLOs whose spec labels say team=TEAM")
        command.add_argument(
            "--label",
            action="append",
            type=_label,
            default=[],
            metavar="KEY=VALUE",
            help="only SLOs with this label",
        )
        command.add_argument(
            "--at", type=_moment, help="evaluate at this ISO time (default: now), e.g. 2026-11-01"
        )
        command.add_argument(
            "--deadline",
            type=float,
            default=60.0,
            help="seconds the whole evaluation may take; SLOs not done by then say so (default 60)",
        )
        _with_sources(command, database=False)
    rules = commands.add_parser("rules", help="write Prometheus recording and alerting rules")
    rules.add_argument("--output", "-o", help="file to write (default: standard output)")
    _with_sources(rules, database=False)


def _runbook(sub: Any) -> None:
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
    _with_sources(check, database=False)
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
    _with_sources(dry, database=False)


REPORT_HELP = """\
The window is [since, until). `--since` is a duration counted back from `--until` (30d, 12w) or an ISO
date or time; `--until` is an ISO date or time, or a duration counted back from now; dates and times
without a zone are in the config's time zone, and a date means its midnight (so `--until 2026-04-01`
ends the window with March 31)."""


def _report(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="incident metrics: MTTD/MTTA/MTTR per severity vs targets, repeats, post-mortem completion",
        description=REPORT_HELP,
    )
    report.add_argument(
        "--since",
        help="start: a duration before --until (30d, 12w) or an ISO date/time (default 30d, 90d with --dora)",
    )
    report.add_argument(
        "--until", help="end, excluded: an ISO date/time, or a duration before now (default: now)"
    )
    report.add_argument("--format", choices=REPORT_FORMATS, default="markdown")
    report.add_argument("--check", action="store_true", help="exit 1 when a target is missed (for CI)")
    report.add_argument(
        "--dora",
        action="store_true",
        help="DORA's four keys from the recorded deploys, overall and per service",
    )
    report.add_argument("--service", help="with --dora: one service only")
    report.add_argument(
        "--include-drills", action="store_true", help="count drills too (left out by default)"
    )
    _with_sources(report)


def _postmortem(sub: Any) -> None:
    postmortem = sub.add_parser("postmortem", help="post-mortems compiled from the timeline")
    commands = postmortem.add_subparsers(dest="postmortem_command", required=True)
    show = commands.add_parser("show", help="print an incident's post-mortem as Markdown")
    show.add_argument("incident", help="incident number, e.g. 12 or INC-12")
    show.add_argument(
        "--output", "-o", help="write it to this file, or into this directory under its usual name"
    )
    _with_sources(show)


def _oncall(sub: Any) -> None:
    oncall = sub.add_parser("oncall", help="on call: calendar feed URLs, the load and fairness report")
    commands = oncall.add_subparsers(dest="oncall_command", required=True)
    token = commands.add_parser(
        "ical-token", help="print a secret calendar feed URL of a schedule or a person (--revoke ends them)"
    )
    token.add_argument("subject", help="a schedule id (primary) or a Slack user id (U0ALICE000)")
    token.add_argument("--revoke", action="store_true", help="end every feed URL of the subject")
    _with_sources(token)
    report = commands.add_parser(
        "report",
        help="pages, night pages, hours on call, streaks, time to acknowledge and share, per person and week",
        description=REPORT_HELP,
    )
    report.add_argument("--since", default="30d", help="a duration before --until (30d) or an ISO date/time")
    report.add_argument("--until", help="end, excluded: an ISO date/time, or a duration before now")
    report.add_argument("--format", choices=REPORT_FORMATS, default="markdown")
    report.add_argument("--include-drills", action="store_true", help="count drills' pages too")
    _with_sources(report)


def _component(text: str) -> tuple[str, str]:
    return _pair(text, "COMPONENT=STATUS, e.g. api=partial_outage")


def _statuspage(sub: Any) -> None:
    page = sub.add_parser(
        "statuspage",
        help="the public status page: show it, post to it, schedule maintenance, export it as static files",
    )
    commands = page.add_subparsers(dest="statuspage_command", required=True)
    show = commands.add_parser("show", help="print what the public sees now")
    show.add_argument("--format", choices=["text", "json"], default="text", help="json: summary.json")
    _with_sources(show)
    post = commands.add_parser(
        "post",
        help="publish a public update now (trusted operator path: no approval; the timeline says it came "
        "from the CLI)",
    )
    post.add_argument("incident", help="incident number, e.g. 12 or INC-12")
    post.add_argument(
        "--status",
        required=True,
        choices=["investigating", "identified", "monitoring", "resolved", "postmortem"],
    )
    post.add_argument("--body", required=True, help="what the public reads")
    post.add_argument("--title", help="public title (default: the last public title, else the incident's)")
    post.add_argument(
        "--component",
        action="append",
        default=[],
        type=_component,
        metavar="ID=STATUS",
        help="operational, degraded_performance, partial_outage, major_outage or under_maintenance "
        "(repeatable; default: as the last update left them)",
    )
    post.add_argument("--as", dest="operator", help="who posts (default: $USER)")
    _with_sources(post)
    maintenance = commands.add_parser("maintenance", help="scheduled maintenance")
    windows = maintenance.add_subparsers(dest="maintenance_command", required=True)
    add = windows.add_parser("add", help="schedule a maintenance window")
    add.add_argument("--title", required=True)
    add.add_argument("--start", required=True, type=_moment, help="ISO time; without a zone, UTC")
    add.add_argument("--end", required=True, type=_moment, help="ISO time; without a zone, UTC")
    add.add_argument("--body", default="", help="what happens, for the public")
    add.add_argument("--component", action="append", default=[], metavar="ID", help="repeatable")
    add.add_argument("--as", dest="operator", help="who schedules it (default: $USER)")
    listing = windows.add_parser("list", help="upcoming and active maintenance")
    cancel = windows.add_parser("cancel", help="cancel a maintenance window")
    cancel.add_argument("id", type=int, help="its number, from `list`")
    cancel.add_argument("--as", dest="operator", help="who cancels it (default: $USER)")
    export = commands.add_parser(
        "export", help="write the static site (HTML, JSON, feeds) to DIR: host it where the bot is not"
    )
    export.add_argument("directory", type=Path)
    for command in (add, listing, cancel, export):
        _with_sources(command)


def _validate_command(commands: Any, what: str, path_help: str) -> None:
    """`… validate [PATH]`: a file or directory, else what the config names; no database."""
    check = commands.add_parser("validate", help=what)
    check.add_argument("path", nargs="?", type=Path, help=path_help)
    _with_sources(check, database=False)


def _workflow(sub: Any) -> None:
    workflow = sub.add_parser("workflow", help="workflows: validate them, test one on a past incident")
    commands = workflow.add_subparsers(dest="workflow_command", required=True)
    _validate_command(
        commands,
        "check the workflows (schema, names, templates); exit 1 on problems",
        "a workflow file or directory (default: the config's workflows and workflows_dir)",
    )
    test = commands.add_parser("test", help="which steps a workflow would run on a past incident")
    test.add_argument("name", help="the workflow's name")
    test.add_argument("--incident", required=True, help="incident number, e.g. 12 or INC-12")
    _with_sources(test)


def _catalog(sub: Any) -> None:
    catalog = sub.add_parser("catalog", help="the service catalog: import Backstage files, validate it")
    commands = catalog.add_subparsers(dest="catalog_command", required=True)
    imports = commands.add_parser(
        "import", help="convert Backstage catalog-info.yaml files to the bot's catalog YAML"
    )
    imports.add_argument("paths", nargs="+", type=Path, help="catalog-info.yaml files or directories")
    imports.add_argument("--output", type=Path, help="write the catalog file here (default: print it)")
    _with_sources(imports, database=False)
    _validate_command(
        commands,
        "check the catalog (schedules, SLOs, runbooks, status components, dependencies, cycles); "
        "exit 1 on problems",
        "a catalog file or directory (default: the config's catalog and catalog_dir)",
    )


def _rollback_watch(sub: Any) -> None:
    watch = sub.add_parser(
        "rollback-watch",
        help="watch a deploy's thresholds and roll it back on a breach (the serving bot evaluates)",
    )
    watch.add_argument("service", help="a service of the config's rollback.services")
    watch.add_argument("version", help="the version just deployed")
    watch.add_argument("previous", nargs="?", help="the version to roll back to")
    watch.add_argument("--incident", help="attach an open incident (12 or INC-12): a breach joins it")
    watch.add_argument("--actor", default="cli", help="who armed it, for the log and timeline")
    _with_sources(watch)


def _deploy(sub: Any) -> None:
    deploy = sub.add_parser("deploy", help="deploys: record one from a pipeline")
    commands = deploy.add_subparsers(dest="deploy_command", required=True)
    record = commands.add_parser(
        "record", help="record a deploy (what-changed, DORA; a watched service's rollback watch is armed)"
    )
    record.add_argument("--service", required=True, help="the service deployed (an id of the catalog)")
    record.add_argument("--version", required=True, help="the version deployed, e.g. v1.4.2")
    record.add_argument("--environment", default="production", help="default: production")
    record.add_argument("--commit", help="the commit's SHA")
    record.add_argument("--commit-time", help="when that commit was made, ISO 8601 with a zone (lead time)")
    record.add_argument("--url", help="a link to the deploy (pipeline run, release)")
    record.add_argument("--status", default="success", help="success, failure, in_progress, rolled_back…")
    record.add_argument("--deployed-at", help="when it reached the environment, ISO 8601 (default: now)")
    record.add_argument("--canary", type=int, help="the canary stage reached, in percent (10, 25, 50, 100)")
    record.add_argument("--id", help="the pipeline's id of the deploy: later records with it update it")
    _with_sources(record)


def _drill(sub: Any) -> None:
    drill = sub.add_parser("drill", help="practice incidents: run a scenario, list them, report past drills")
    commands = drill.add_subparsers(dest="drill_command", required=True)
    run = commands.add_parser("run", help="start a drill (the serving bot runs it)")
    run.add_argument("scenario", help="a scenario of drills.directory")
    run.add_argument(
        "--participants", required=True, help="Slack user ids, comma-separated: U0ALICE000,U0BOB00000"
    )
    _with_sources(run)
    listing = commands.add_parser("list", help="the scenarios")
    _with_sources(listing, database=False)
    report = commands.add_parser("report", help="past drills with their scores, and scheduled ones skipped")
    report.add_argument("--since", default="365d", help="a duration (90d) or an ISO date (default: 365d)")
    report.add_argument("--format", choices=REPORT_FORMATS, default="markdown")
    _with_sources(report)


def build_parser(version: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incidentbot", description="Slack incident bot")
    parser.add_argument("--version", action="version", version=f"incidentbot {version}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default from env)")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _serve,
        _sandbox,
        _db,
        _config,
        _slo,
        _runbook,
        _report,
        _oncall,
        _postmortem,
        _statuspage,
        _workflow,
        _rollback_watch,
        _catalog,
        _deploy,
        _drill,
    ):
        add(sub)
    return parser
