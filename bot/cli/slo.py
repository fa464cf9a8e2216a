"""`incidentbot slo report | gate | rules`: the SLO figures outside Slack, for people and for CI."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

from bot.config import AppConfig, Settings
from bot.services.incidents import utcnow
from bot.services.slo import SLOService, all_unreachable, status_data
from bot.slo.engine import counts, worst_first
from bot.slo.model import SLOStatus
from bot.slo.prometheus import PrometheusClient
from bot.slo.rules import generate_rules
from bot.slo.specs import configured_slos

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_COLOURS = {"page": "\033[31m", "ticket": "\033[33m", "ok": "\033[32m", "no data": "\033[90m"}


def run(args: argparse.Namespace, settings: Settings, config: AppConfig) -> int:
    slos = configured_slos(config.slos, settings.config)
    if args.slo_command == "rules":
        text = generate_rules(slos)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"wrote {len(slos)} SLOs' rules to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return EXIT_OK
    client = (
        PrometheusClient(settings.prometheus_url, **settings.prometheus_client_options())
        if settings.prometheus_url
        else None
    )
    at: datetime | None = args.at
    service = SLOService(slos, client, None, (lambda: at) if at else utcnow, deadline=args.deadline)
    labels = dict(args.label) | ({"team": args.team} if args.team else {})
    try:
        if args.slo_command == "gate":
            return _gate(service, args.service, labels)
        report = asyncio.run(service.report(args.service, labels))
    finally:
        if client is not None:
            client.close()
    if report.problem:
        print(f"error: {report.problem}", file=sys.stderr)
        return EXIT_USAGE
    print(_render(worst_first(report.statuses), args.format))
    if all_unreachable(report.statuses):
        print(f"error: {report.statuses[0].error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _gate(service: SLOService, name: str | None, labels: dict[str, str]) -> int:
    verdict = asyncio.run(service.gate(name, labels))
    failing = {k: v for k, v in verdict.reasons.items() if v != "ok"}
    for slo_id, reason in [*failing.items(), *((k, v) for k, v in verdict.reasons.items() if v == "ok")]:
        print(f"{'PASS' if reason == 'ok' else 'FAIL'} {slo_id}: {reason}")
    if verdict.unreachable:
        print("gate: Prometheus could not be reached — refusing to pass blind", file=sys.stderr)
        return EXIT_USAGE
    print(f"gate: {'passed' if verdict.passed else 'failed'}", file=sys.stderr)
    return EXIT_OK if verdict.passed else EXIT_FAILED


def compliant(status: SLOStatus) -> str:
    remaining = status.budget_remaining
    return "no data" if remaining is None else ("yes" if remaining >= 0 else "no")


def _pct(value: float | None, digits: int = 3) -> str:
    return "no data" if value is None else f"{value * 100:.{digits}f}%"


def _burn(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _rows(statuses: list[SLOStatus]) -> list[list[str]]:
    rows = []
    for s in statuses:
        tte = s.time_to_exhaustion
        rows.append(
            [
                s.slo.id,
                f"{s.slo.objective * 100:g}%",
                _pct(s.sli),
                _pct(s.budget_remaining, 1),
                _burn(s.burn_rates.get("1h")),
                _burn(s.burn_rates.get("6h")),
                _burn(s.burn_rates.get("3d")),
                s.error or s.alert,
                "-" if tte is None else f"{tte.total_seconds() / 3600:.1f}h",
                compliant(s),
            ]
        )
    return rows


HEADERS = [
    "SLO",
    "objective",
    "SLI",
    "budget left",
    "burn 1h",
    "burn 6h",
    "burn 3d",
    "alert",
    "exhausted in",
    "compliant",
]


def _render(statuses: list[SLOStatus], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [
                {
                    **status_data(s),
                    "compliant": compliant(s),
                    "burn_rates": s.burn_rates,
                    "bad_events": s.bad_events,
                    "total_events": s.total_events,
                    "time_to_exhaustion_seconds": s.time_to_exhaustion.total_seconds()
                    if s.time_to_exhaustion is not None
                    else None,
                }
                for s in statuses
            ],
            indent=2,
        )
    rows = _rows(statuses)
    if fmt == "text":
        summary = ", ".join(f"{n} {what}" for what, n in counts(statuses).items())
        header = f"{len(statuses)} SLOs: {summary}"
    if fmt == "markdown":
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    colour = sys.stdout.isatty()
    out = [header, "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    for status, row in zip(statuses, rows, strict=True):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        out.append(f"{_COLOURS.get(status.alert, '')}{line}\033[0m" if colour else line)
    return "\n".join(out)
