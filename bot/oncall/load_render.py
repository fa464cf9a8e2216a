"""The load report as JSON, CSV (one row per person and week, then one per person) and Markdown."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bot.oncall.load import Figures, LoadReport

FIGURES = (
    "pages",
    "out_of_hours",
    "night",
    "incidents",
    "hours_on_call",
    "days_on_call",
    "median_ack_seconds",
    "share",
)
CSV_COLUMNS = (
    "user",
    "week",
    *FIGURES,
    "consecutive_weeks",
    "longest_days_in_a_row",
    "longest_weeks_in_a_row",
)


def data(report: LoadReport) -> dict[str, Any]:
    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "rota_size": report.rota_size,
        "fair_share": report.fair_share,
        "weeks": [
            {"user": w.user, "week": w.week, **asdict(w.figures), "consecutive_weeks": w.consecutive_weeks}
            for w in report.weeks
        ],
        "people": [
            {
                "user": p.user,
                "timezone": p.timezone,
                **asdict(p.figures),
                "longest_days_in_a_row": p.longest_days_in_a_row,
                "longest_weeks_in_a_row": p.longest_weeks_in_a_row,
            }
            for p in report.people
        ],
        "warnings": report.warnings,
    }


def as_json(report: LoadReport) -> str:
    return json.dumps(data(report), indent=2) + "\n"


def as_csv(report: LoadReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    content = data(report)
    for row in content["weeks"]:
        writer.writerow(row)
    for row in content["people"]:
        writer.writerow({k: v for k, v in {**row, "week": "total"}.items() if k in CSV_COLUMNS})
    return out.getvalue()


def _cells(f: Figures) -> list[str]:
    ack = f"{f.median_ack_seconds / 60:.1f} min" if f.median_ack_seconds is not None else "—"
    share = f"{f.share:.0%}" if f.share is not None else "—"
    return [
        str(f.pages),
        str(f.out_of_hours),
        str(f.night),
        str(f.incidents),
        f"{f.hours_on_call:g}",
        str(f.days_on_call),
        ack,
        share,
    ]


def as_markdown(report: LoadReport, name: Callable[[str], str] = lambda user: user) -> str:
    head = "| pages | out of hours | night | incidents | hours on call | days | median ack | share |"
    lines = [
        f"# On-call load {report.since:%Y-%m-%d} – {report.until:%Y-%m-%d}",
        "",
        f"{report.rota_size} people on the rota; a fair share of the pages is "
        + (
            f"{report.fair_share:.0%}."
            if report.fair_share is not None
            else "undefined (nobody on the rota)."
        ),
        "",
        "## Per person",
        "",
        "| person | zone " + head + " days in a row | weeks in a row |",
        "|---|---|" + "---|" * 10,
    ]
    for p in report.people:
        cells = [
            name(p.user),
            p.timezone,
            *_cells(p.figures),
            str(p.longest_days_in_a_row),
            str(p.longest_weeks_in_a_row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Per week",
        "",
        "| person | week " + head + " weeks in a row |",
        "|---|---|" + "---|" * 9,
    ]
    for w in report.weeks:
        lines.append(
            "| " + " | ".join([name(w.user), w.week, *_cells(w.figures), str(w.consecutive_weeks)]) + " |"
        )
    lines += ["", "## Warnings", ""]
    lines += [f"- {warning}" for warning in report.warnings] or ["None."]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[LoadReport], str]] = {"json": as_json, "csv": as_csv, "markdown": as_markdown}


def slack_summary(report: LoadReport, title: str) -> str:
    """The monthly summary as Slack mrkdwn (Slack draws no tables): one line per person, then warnings."""
    lines = [f"*{title}*"]
    for p in sorted(report.people, key=lambda p: -p.figures.pages):
        f = p.figures
        ack = f", median ack {f.median_ack_seconds / 60:.1f} min" if f.median_ack_seconds is not None else ""
        share = f", {f.share:.0%} of pages" if f.share is not None else ""
        lines.append(
            f"• <@{p.user}>: {f.pages} pages ({f.night} at night, {f.out_of_hours} out of hours){share}, "
            f"{f.hours_on_call:g} h on call, {p.longest_weeks_in_a_row} weeks in a row{ack}"
        )
    lines += [f":warning: {w}" for w in report.warnings] or ["No warnings."]
    return "\n".join(lines)
