"""`incidentbot drill run SCENARIO --participants U1,U2`, `incidentbot drill list` and `incidentbot drill
report [--since 365d] [--format markdown|json|csv]`.

`run` writes one keyed timer in the bot's database; the serving bot's worker starts the drill (the CLI
needs no Slack access). `report` lists past drills with their scores over time, per team and scenario,
and the scheduled game days that were skipped.

Exit codes: 0 done, 2 usage, configuration or database error.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import uuid

from bot.cli.db import DatabaseUnavailable, Sessions, read_database
from bot.cli.report import BadArgument, window
from bot.config import AppConfig, Settings, config_relative
from bot.drills.history import History, history_rows, load_history, markdown
from bot.drills.scenario import Scenario, ScenarioError, load_scenarios
from bot.services.drills import START
from bot.services.incidents import utcnow
from bot.timers import TimerStore

EXIT_OK, EXIT_USAGE = 0, 2


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    try:
        scenarios = load_scenarios(config_relative(settings.config, config.drills.directory))
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.drill_command == "list":
        for scenario in scenarios.values():
            print(f"{scenario.name}\t{scenario.severity}\t{scenario.title} ({len(scenario.injects)} injects)")
        return EXIT_OK
    if args.drill_command == "run":
        return _run(args, settings, scenarios)
    return _report(args, settings, config)


def _run(args: argparse.Namespace, settings: Settings, scenarios: dict[str, Scenario]) -> int:
    if args.scenario not in scenarios:
        print(
            f"error: no scenario {args.scenario!r} (known: {', '.join(sorted(scenarios)) or 'none'})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    people = [p.strip() for p in (args.participants or "").split(",") if p.strip()]
    if not people:
        print("error: name the participants: --participants U0ALICE000,U0BOB00000", file=sys.stderr)
        return EXIT_USAGE

    async def ask(sessions: Sessions) -> None:
        now = utcnow()
        payload = {"scenario": args.scenario, "participants": people}
        await TimerStore(sessions).schedule(START, now, now, payload, key=f"drill-cli:{uuid.uuid4().hex}")

    try:
        read_database(settings, ask)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"drill {args.scenario} asked for: the serving bot starts it within seconds")
    return EXIT_OK


def _report(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    now = utcnow()
    try:
        since, until = window(args.since, None, now, config.zone)
    except BadArgument as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    async def load(sessions: Sessions) -> History:
        return await load_history(sessions, config.drills, since, until, config.zone)

    try:
        history = read_database(settings, load)
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    rows = history_rows(history)
    if args.format == "json":
        print(json.dumps({"drills": rows, "skipped": history.skipped}, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(
            out, ["started", "reference", "scenario", "team", "score"], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
    else:
        sys.stdout.write(markdown(history))
    return EXIT_OK
