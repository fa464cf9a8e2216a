"""The incident metrics report as Markdown (for people), JSON (stable keys) and CSV (one row per
figure, for spreadsheets).

Only formatting: every figure and verdict comes from `report_figures.build_report`, so the three
formats always agree.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.postmortem.report_figures import (
    ALL,
    MET,
    METRIC_NAMES,
    MISSED,
    RateStat,
    Report,
    SeverityFigures,
    TimeStat,
    human,
    percent,
)
from bot.postmortem.report_settings import TIME_METRICS

METRIC_MEANING = {
    "mttd": "mean time to detect (start of impact → first alert or declaration)",
    "mtta": "mean time to acknowledge (declaration → first page acknowledged)",
    "mttm": "mean time to mitigate (declaration → fix in place, or resolution)",
    "mttr": "mean time to resolve (declaration → resolution)",
}


def _seconds(delta: timedelta | None) -> float | None:
    return delta.total_seconds() if delta is not None else None


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


_MARK = {MET: "✓", MISSED: "✗"}


def _cell(stat: TimeStat, per_severity_target: bool) -> str:
    if stat.invalid:
        return "⚠ negative for " + ", ".join(f"INC-{i}" for i in stat.invalid)
    if stat.mean is None:
        return "no data" + (f" (target {human(stat.target)})" if stat.target else "")
    text = human(stat.mean)
    if stat.target is not None:
        sign = "≤" if stat.status == MET else ">"
        return f"{text} {_MARK[stat.status]} {sign} {human(stat.target)}"
    if per_severity_target and stat.status in _MARK:
        return f"{text} ({_MARK[stat.status]} per severity)"
    return text


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def render_markdown(report: Report) -> str:
    zone = report.timezone
    everyone = [*report.severities, report.overall]
    lines = [
        f"# Incident report {_local(report.since, zone)} → {_local(report.until, zone)} ({zone})",
        "",
        f"{report.overall.count} incident{'s' if report.overall.count != 1 else ''} declared. "
        "Means; ✓ met, ✗ missed; no data when no incident has the moment measured.",
        "",
        "## Response times",
        "",
    ]
    lines += _table(
        ["severity", "incidents", *(METRIC_NAMES[m] for m in TIME_METRICS)],
        [
            [row.severity, str(row.count), *(_cell(row.times[m], row.severity == ALL) for m in TIME_METRICS)]
            for row in everyone
        ],
    )
    lines += ["", *(f"- {METRIC_NAMES[m]}: {METRIC_MEANING[m]}" for m in TIME_METRICS), ""]
    lines += ["### Distribution", ""]
    detail = []
    for row in everyone:
        for metric in TIME_METRICS:
            stat = row.times[metric]
            detail.append(
                [
                    row.severity,
                    METRIC_NAMES[metric],
                    str(stat.samples),
                    human(stat.mean) if stat.mean is not None else "-",
                    human(stat.median) if stat.median is not None else "-",
                    human(stat.p90) if stat.p90 is not None else "-",
                    human(stat.target) if stat.target is not None else "-",
                    stat.status,
                ]
            )
    lines += _table(["severity", "metric", "samples", "mean", "median", "p90", "target", "status"], detail)
    lines += ["", "## Incidents per month", ""]
    severity_ids = [row.severity for row in report.severities]
    lines += _table(
        ["month", "incidents", *severity_ids],
        [
            [m.month, str(m.count), *(str(m.by_severity.get(s, 0)) for s in severity_ids)]
            for m in report.months
        ],
    )
    lines += [
        "",
        f"## Repeat incidents (same service and alert within {human(report.repeat_window)})",
        "",
    ]
    if report.repeats:
        lines += _table(
            ["incident", "severity", "service", "alert", "repeats", "after"],
            [
                [
                    f"INC-{r.incident_id}",
                    r.severity,
                    r.service,
                    ", ".join(r.alertnames),
                    f"INC-{r.previous_id}",
                    human(r.gap),
                ]
                for r in report.repeats
            ],
        )
    else:
        lines.append("None.")
    lines += ["", "## Follow-up", ""]
    lines += _table(
        ["follow-up", "done", "of", "rate", "target", "status"],
        [
            _rate_row(
                f"post-mortems published ({', '.join(report.postmortem_required)})", report.postmortems
            ),
            _rate_row("action items done (due in the window)", report.action_items),
        ],
    )
    if report.action_items.on_time is not None and report.action_items.denominator:
        lines += ["", f"{report.action_items.on_time} action item(s) done by their due date."]
    missing = report.postmortems.missing
    if missing:
        lines += ["", "Post-mortem not published: " + ", ".join(f"INC-{i}" for i in missing) + "."]
    lines += ["", "## Targets missed", ""]
    lines += [f"- {line}" for line in report.missed] or ["None."]
    return "\n".join(lines) + "\n"


def _rate_row(label: str, rate: RateStat) -> list[str]:
    return [
        label,
        str(rate.numerator),
        str(rate.denominator),
        percent(rate.value) if rate.value is not None else "no data",
        percent(rate.target) if rate.target is not None else "-",
        rate.status,
    ]


def _time_data(stat: TimeStat) -> dict[str, Any]:
    return {
        "samples": stat.samples,
        "mean_seconds": _seconds(stat.mean),
        "median_seconds": _seconds(stat.median),
        "p90_seconds": _seconds(stat.p90),
        "target_seconds": _seconds(stat.target),
        "status": stat.status,
        "invalid_incidents": [f"INC-{i}" for i in stat.invalid],
    }


def _rate_data(rate: RateStat) -> dict[str, Any]:
    return {
        "done": rate.numerator,
        "total": rate.denominator,
        "rate": rate.value,
        "target": rate.target,
        "status": rate.status,
    }


def _figures(row: SeverityFigures) -> dict[str, Any]:
    return {
        "count": row.count,
        "repeats": row.repeats,
        **{metric: _time_data(row.times[metric]) for metric in TIME_METRICS},
    }


def report_data(report: Report) -> dict[str, Any]:
    """The report as plain data with stable keys; durations in seconds, rates as fractions of 1."""
    return {
        "window": {
            "since": report.since.isoformat(),
            "until": report.until.isoformat(),
            "timezone": report.timezone,
            "generated_at": report.generated_at.isoformat(),
        },
        "severities": {row.severity: _figures(row) for row in report.severities},
        "overall": _figures(report.overall),
        "incidents_per_month": [
            {"month": m.month, "count": m.count, "by_severity": dict(m.by_severity)} for m in report.months
        ],
        "repeats": {
            "window_seconds": report.repeat_window.total_seconds(),
            "count": len(report.repeats),
            "incidents": [
                {
                    "incident": r.incident_id,
                    "severity": r.severity,
                    "service": r.service,
                    "alertnames": list(r.alertnames),
                    "previous": r.previous_id,
                    "gap_seconds": r.gap.total_seconds(),
                }
                for r in report.repeats
            ],
        },
        "postmortem_completion": {
            **_rate_data(report.postmortems),
            "required_severities": list(report.postmortem_required),
            "missing": list(report.postmortems.missing),
        },
        "action_item_completion": {
            **_rate_data(report.action_items),
            "done_on_time": report.action_items.on_time,
            "not_done": list(report.action_items.missing),
        },
        "targets_missed": list(report.missed),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = [
    "metric",
    "severity",
    "period",
    "samples",
    "mean_seconds",
    "median_seconds",
    "p90_seconds",
    "value",
    "numerator",
    "denominator",
    "target",
    "status",
]


def render_csv(report: Report) -> str:
    """One row per metric × severity (`all` for the overall figures), and one per month."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    everyone = [*report.severities, report.overall]
    for row in everyone:
        writer.writerow({"metric": "incidents", "severity": row.severity, "value": row.count})
    for metric in TIME_METRICS:
        for row in everyone:
            stat = row.times[metric]
            writer.writerow(
                {
                    "metric": metric,
                    "severity": row.severity,
                    "samples": stat.samples,
                    "mean_seconds": _seconds(stat.mean),
                    "median_seconds": _seconds(stat.median),
                    "p90_seconds": _seconds(stat.p90),
                    "target": _seconds(stat.target),
                    "status": stat.status,
                }
            )
    for row in everyone:
        writer.writerow({"metric": "repeat_incidents", "severity": row.severity, "value": row.repeats})
    for month in report.months:
        writer.writerow(
            {"metric": "incidents_per_month", "severity": ALL, "period": month.month, "value": month.count}
        )
    for rate in (report.postmortems, report.action_items):
        writer.writerow(
            {
                "metric": rate.metric,
                "severity": ALL,
                "value": rate.value,
                "numerator": rate.numerator,
                "denominator": rate.denominator,
                "target": rate.target,
                "status": rate.status,
            }
        )
    return out.getvalue()
