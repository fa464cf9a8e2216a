"""`incidentbot report`: the incident metrics report, on a hand-built data set, on SQLite and Postgres.

The incidents and their timelines are written through the stores with chosen timestamps; every
expected figure below is worked out by hand in the comments next to it, never with the code under test.

The window is 2026-02-15 00:00 → 2026-03-15 00:00 in Europe/Berlin (UTC+1 all along), i.e.
2026-02-14T23:00Z → 2026-03-14T23:00Z. Times in the data set are UTC.

| inc | sev  | service  | declared (UTC)   | alert: received, starts, name | ack   | mitigated | resolved    |
|-----|------|----------|------------------|-------------------------------|-------|-----------|-------------|
| G   | SEV3 | search   | 2025-12-15 10:00 | DiskFull                      |       |           | (earlier)   |
| H   | SEV4 | checkout | 2025-11-01 10:00 | HighErrorRate                 |       |           | (earlier)   |
| I   | SEV3 | cdn      | 02-14 23:00 =since | —                           | —     | —         | 02-15 01:00 |
| A   | SEV1 | checkout | 02-20 10:00      | 09:58, 09:50, HighErrorRate   | 10:04 | 10:40     | 12:00       |
| B   | SEV1 | checkout | 02-28 23:30      | 23:30, 23:20, HighErrorRate   | 23:42 | —         | 03-01 03:30 |
| F   | SEV3 | search   | 03-01 10:00      | 09:55, 09:00, DiskFull        | —     | —         | 03-02 10:00 |
| C   | SEV1 | search   | 03-05 08:00      | 08:00, none, HighErrorRate    | —     | —         | open        |
| D   | SEV2 | payments | 03-10 12:00      | — (impact_started_at 11:30)   | 12:10 | 13:00     | 20:00       |
| E   | SEV2 | payments | 03-12 06:00      | 06:00, 05:45, LatencyHigh     | 06:20 | —         | 18:00       |
| J   | SEV3 | cdn      | 03-14 23:00 =until | —                           | 23:05 | —         | (excluded)  |

Per incident (detect from the start of impact; the others from the declaration; mitigate = monitoring,
else the resolution):

| inc | TTD    | TTA    | TTM     | TTR  |
|-----|--------|--------|---------|------|
| I   | –      | –      | 2 h     | 2 h  |
| A   | 8 min  | 4 min  | 40 min  | 2 h  |
| B   | 10 min | 12 min | 4 h     | 4 h  |
| F   | 55 min | –      | 24 h    | 24 h |
| C   | –      | –      | –       | –    |
| D   | 30 min | 10 min | 1 h     | 8 h  |
| E   | 15 min | 20 min | 12 h    | 12 h |
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli import run
from bot.config import AppConfig
from bot.domain import DeclareRequest, EventKind
from bot.postmortem.report import load_report
from bot.postmortem.report_figures import MET, MISSED, NO_DATA, NO_TARGET, build_report, human
from bot.postmortem.report_render import render_csv, render_json, render_markdown, report_data
from bot.postmortem.report_settings import ReportConfig
from bot.postmortem.store import PUBLISHED, ActionItemStore, PostmortemStore
from bot.store import IncidentStore, NewEvent
from tests.fixtures_bot import EXAMPLE_CONFIG

Sessions = async_sessionmaker[AsyncSession]
ALICE = "U0ALICE000"
BERLIN = "Europe/Berlin"
SINCE = datetime(2026, 2, 14, 23, 0, tzinfo=UTC)  # 2026-02-15 00:00 in Berlin
UNTIL = datetime(2026, 3, 14, 23, 0, tzinfo=UTC)  # 2026-03-15 00:00 in Berlin
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
CONFIG = AppConfig(timezone=BERLIN)
TARGETS = ReportConfig.model_validate(
    {
        "targets": {
            "mttd": "10m",
            "mtta": {"SEV1": "10m"},  # SEV2..SEV4 fall back to their response_target (15m, 1h, 24h)
            "mttr": {"SEV1": "4h", "SEV2": "8h", "SEV3": "3d", "SEV4": "7d"},
            "postmortem_completion": 0.9,
            "action_item_completion": "60%",
        },
        "repeat_window": "90d",
    }
)


def utc(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@dataclass
class Data:
    ids: dict[str, int]
    items: dict[str, int]


def _alert(name: str, starts_at: datetime | None) -> dict[str, Any]:
    """The part of an ALERT_RECEIVED event's data the report reads (as bot/services/alerts.py writes it)."""
    return {
        "change": "firing",
        "alert": {"alertname": name, "starts_at": starts_at.isoformat() if starts_at else None},
    }


async def _incident(
    store: IncidentStore,
    key: str,
    severity: str,
    service: str,
    declared: datetime,
    alert: tuple[datetime, datetime | None, str] | None = None,
    acked: datetime | None = None,
    monitoring: datetime | None = None,
    resolved: datetime | None = None,
) -> int:
    request = DeclareRequest(
        title=f"incident {key}", severity=severity, summary="", reporter=ALICE, service=service
    )
    incident, created = await store.create(
        request, f"report-{key}", "investigating", "incident_commander", declared
    )
    assert created
    if alert:
        received, starts, name = alert
        await store.append(
            incident.id, NewEvent(EventKind.ALERT_RECEIVED, None, name, _alert(name, starts)), received
        )
    if acked:
        await store.append(incident.id, NewEvent(EventKind.PAGE_ACKED, ALICE, "acked", {"page": 1}), acked)
    if monitoring:
        change = NewEvent(
            EventKind.STATUS_CHANGED, ALICE, "monitoring", {"from": "identified", "to": "monitoring"}
        )
        await store.change(incident.id, monitoring, change, status="monitoring")
    if resolved:
        done = NewEvent(EventKind.RESOLVED, ALICE, "fixed", {"summary": "fixed"})
        await store.change(incident.id, resolved, done, status="resolved", resolved_at=resolved)
    return incident.id


async def build(sessions: Sessions) -> Data:
    store = IncidentStore(sessions)
    ids = {
        "G": await _incident(store, "G", "SEV3", "search", utc(12, 15, 10, year=2025),
                             alert=(utc(12, 15, 10, year=2025), None, "DiskFull")),
        "H": await _incident(store, "H", "SEV4", "checkout", utc(11, 1, 10, year=2025),
                             alert=(utc(11, 1, 10, year=2025), None, "HighErrorRate")),
        "I": await _incident(store, "I", "SEV3", "cdn", SINCE, resolved=utc(2, 15, 1)),
        "A": await _incident(store, "A", "SEV1", "checkout", utc(2, 20, 10),
                             alert=(utc(2, 20, 9, 58), utc(2, 20, 9, 50), "HighErrorRate"),
                             acked=utc(2, 20, 10, 4), monitoring=utc(2, 20, 10, 40), resolved=utc(2, 20, 12)),
        "B": await _incident(store, "B", "SEV1", "checkout", utc(2, 28, 23, 30),
                             alert=(utc(2, 28, 23, 30), utc(2, 28, 23, 20), "HighErrorRate"),
                             acked=utc(2, 28, 23, 42), resolved=utc(3, 1, 3, 30)),
        "F": await _incident(store, "F", "SEV3", "search", utc(3, 1, 10),
                             alert=(utc(3, 1, 9, 55), utc(3, 1, 9), "DiskFull"), resolved=utc(3, 2, 10)),
        "C": await _incident(store, "C", "SEV1", "search", utc(3, 5, 8),
                             alert=(utc(3, 5, 8), None, "HighErrorRate")),
        "D": await _incident(store, "D", "SEV2", "payments", utc(3, 10, 12),
                             acked=utc(3, 10, 12, 10), monitoring=utc(3, 10, 13), resolved=utc(3, 10, 20)),
        "E": await _incident(store, "E", "SEV2", "payments", utc(3, 12, 6),
                             alert=(utc(3, 12, 6), utc(3, 12, 5, 45), "LatencyHigh"),
                             acked=utc(3, 12, 6, 20), resolved=utc(3, 12, 18)),
        "J": await _incident(store, "J", "SEV3", "cdn", UNTIL, acked=UNTIL + minutes(5)),
    }  # fmt: skip
    postmortems = PostmortemStore(sessions)
    await postmortems.write(ids["D"], {"impact_started_at": "2026-03-10T11:30:00Z"}, ALICE, utc(3, 11, 9))
    await postmortems.mark(ids["D"], PUBLISHED, utc(3, 12, 9))
    await postmortems.ensure(ids["A"], utc(2, 21, 9))
    await postmortems.mark(ids["A"], PUBLISHED, utc(2, 22, 9))
    await postmortems.ensure(ids["E"], utc(3, 13, 9))  # a draft: not published

    actions = ActionItemStore(sessions)
    due = {  # due date (Berlin), done at (UTC)
        "before": (date(2026, 2, 14), utc(2, 14, 10)),  # its day ends at `since`: not in the window
        "first-day": (date(2026, 2, 15), utc(2, 15, 12)),  # done on its day: on time
        "late": (date(2026, 3, 1), utc(3, 3, 9)),  # done two days late
        "last-day": (date(2026, 3, 14), None),  # open
        "after": (date(2026, 3, 15), None),  # its day ends after `until`: not in the window
        "no-date": (None, None),
    }
    items = {}
    for name, (due_date, done_at) in due.items():
        item = await actions.add(ids["A"], name, ALICE, due_date, ALICE, utc(2, 20, 13))
        items[name] = item.id
        if done_at:
            assert await actions.complete(item.id, ALICE, done_at)
    return Data(ids, items)


@pytest.fixture
async def data(sessions: Sessions) -> Data:
    return await build(sessions)


async def _report(sessions: Sessions, section: ReportConfig = TARGETS, **config: Any) -> Any:
    return await load_report(
        sessions, AppConfig(timezone=BERLIN, report=section, **config), SINCE, UNTIL, NOW
    )


def _times(report: Any, severity: str) -> dict[str, Any]:
    row = (
        report.overall if severity == "all" else next(r for r in report.severities if r.severity == severity)
    )
    return row.times


# --- figures --------------------------------------------------------------------------------------


async def test_means_medians_and_p90_per_severity(sessions: Sessions, data: Data) -> None:
    report = await _report(sessions)
    counts = {row.severity: row.count for row in report.severities}
    assert counts == {"SEV1": 3, "SEV2": 2, "SEV3": 2, "SEV4": 0}  # A B C / D E / I F
    assert report.overall.count == 7

    sev1 = _times(report, "SEV1")
    # TTD A 8, B 10 (C has no start of impact): mean 9, median 9, p90 = 2nd of 2 (ceil(0.9·2) = 2) = 10
    assert (sev1["mttd"].samples, sev1["mttd"].mean, sev1["mttd"].median, sev1["mttd"].p90) == (
        2, minutes(9), minutes(9), minutes(10),
    )  # fmt: skip
    # TTA A 4, B 12 (C never acknowledged): mean 8, median 8, p90 12
    assert (sev1["mtta"].samples, sev1["mtta"].mean, sev1["mtta"].median, sev1["mtta"].p90) == (
        2, minutes(8), minutes(8), minutes(12),
    )  # fmt: skip
    # TTM A 40 min, B 4 h (resolution, no monitoring): mean 2 h 20 min
    assert (sev1["mttm"].samples, sev1["mttm"].mean) == (2, minutes(140))
    # TTR A 2 h, B 4 h (C is open): mean 3 h, median 3 h, p90 4 h
    assert (sev1["mttr"].samples, sev1["mttr"].mean, sev1["mttr"].median, sev1["mttr"].p90) == (
        2, hours(3), hours(3), hours(4),
    )  # fmt: skip

    sev2 = _times(report, "SEV2")
    # TTD D 30 (from the post-mortem's impact_started_at), E 15: mean = median = 22 min 30 s, p90 30
    assert (sev2["mttd"].mean, sev2["mttd"].median, sev2["mttd"].p90) == (
        minutes(22.5),
        minutes(22.5),
        minutes(30),
    )
    assert (sev2["mtta"].mean, sev2["mtta"].p90) == (minutes(15), minutes(20))  # D 10, E 20
    assert sev2["mttm"].mean == minutes(390)  # D 1 h, E 12 h → 6 h 30 min
    assert sev2["mttr"].mean == hours(10)  # D 8 h, E 12 h

    sev3 = _times(report, "SEV3")  # I and F
    assert (sev3["mttd"].samples, sev3["mttd"].mean) == (1, minutes(55))  # I has no alert nor narrative
    assert (sev3["mttr"].mean, sev3["mttr"].median) == (hours(13), hours(13))  # 2 h and 24 h

    overall = _times(report, "all")
    # TTD 8, 10, 30, 15, 55 → mean 118/5 = 23.6 min; median 15; p90 = 5th of 5 (ceil 4.5) = 55
    assert (overall["mttd"].samples, overall["mttd"].mean) == (5, minutes(23.6))
    assert (overall["mttd"].median, overall["mttd"].p90) == (minutes(15), minutes(55))
    # TTA 4, 12, 10, 20 → mean 11.5; median (10 + 12)/2 = 11; p90 = 4th of 4 (ceil 3.6) = 20
    assert (overall["mtta"].samples, overall["mtta"].mean) == (4, minutes(11.5))
    assert (overall["mtta"].median, overall["mtta"].p90) == (minutes(11), minutes(20))
    # TTM 2 h, 40 min, 4 h, 24 h, 1 h, 12 h = 43 h 40 min / 6 = 7 h 16 min 40 s
    assert overall["mttm"].mean == timedelta(hours=7, minutes=16, seconds=40)
    # TTR 2, 2, 4, 24, 8, 12 h = 52 h / 6 = 8 h 40 min; median (4 + 8)/2 = 6 h; p90 = 6th of 6 = 24 h
    assert (overall["mttr"].samples, overall["mttr"].mean) == (6, timedelta(hours=8, minutes=40))
    assert (overall["mttr"].median, overall["mttr"].p90) == (hours(6), hours(24))


async def test_no_data_is_not_zero(sessions: Sessions, data: Data) -> None:
    report = await _report(sessions)
    sev4 = _times(report, "SEV4")
    for metric in ("mttd", "mtta", "mttm", "mttr"):
        assert (sev4[metric].samples, sev4[metric].mean, sev4[metric].p90, sev4[metric].status) == (
            0, None, None, NO_DATA,
        )  # fmt: skip
    # SEV3: nobody acknowledged a page of I or F; the target (response_target 1 h) is shown, no verdict
    sev3 = _times(report, "SEV3")
    assert (sev3["mtta"].samples, sev3["mtta"].mean, sev3["mtta"].target, sev3["mtta"].status) == (
        0, None, hours(1), NO_DATA,
    )  # fmt: skip
    data_ = report_data(report)
    assert data_["severities"]["SEV4"]["mttr"]["mean_seconds"] is None
    assert data_["severities"]["SEV3"]["mtta"] == {
        "samples": 0, "mean_seconds": None, "median_seconds": None, "p90_seconds": None,
        "target_seconds": 3600.0, "status": NO_DATA, "invalid_incidents": [],
    }  # fmt: skip
    # no incidents at all: every figure is "no data", every rate too
    empty = await load_report(
        sessions, AppConfig(timezone=BERLIN, report=TARGETS), SINCE - hours(1), SINCE, NOW
    )
    assert empty.overall.count == 0
    assert {s.status for row in [*empty.severities, empty.overall] for s in row.times.values()} == {NO_DATA}
    assert (empty.postmortems.value, empty.postmortems.status) == (None, NO_DATA)


async def test_targets_met_and_missed(sessions: Sessions, data: Data) -> None:
    report = await _report(sessions)
    status = {
        (row.severity, metric): (stat.target, stat.status)
        for row in [*report.severities, report.overall]
        for metric, stat in row.times.items()
    }
    assert status[("SEV1", "mttd")] == (minutes(10), MET)  # 9 ≤ 10
    assert status[("SEV2", "mttd")] == (minutes(10), MISSED)  # 22.5 > 10
    assert status[("SEV3", "mttd")] == (minutes(10), MISSED)  # 55 > 10
    assert status[("all", "mttd")] == (minutes(10), MISSED)  # one duration: an overall target, 23.6 > 10
    assert status[("SEV1", "mtta")] == (minutes(10), MET)  # 8 ≤ 10 (configured)
    assert status[("SEV2", "mtta")] == (minutes(15), MET)  # 15 ≤ 15 (response_target): equal is met
    assert status[("SEV1", "mttr")] == (hours(4), MET)  # 3 h ≤ 4 h
    assert status[("SEV2", "mttr")] == (hours(8), MISSED)  # 10 h > 8 h
    assert status[("SEV3", "mttr")] == (timedelta(days=3), MET)
    assert status[("all", "mttr")] == (None, MISSED)  # per severity: missed because SEV2 is
    assert status[("all", "mtta")] == (None, MET)
    assert status[("SEV1", "mttm")] == (None, NO_TARGET)
    assert status[("all", "mttm")] == (None, NO_TARGET)
    assert report.missed == [
        "MTTD SEV2: mean 22 min 30 s > target 10 min (2 incidents)",
        "MTTR SEV2: mean 10 h > target 8 h (2 incidents)",
        "MTTD SEV3: mean 55 min > target 10 min (1 incident)",
        "postmortem_completion: 2/4 = 50.0% < target 90.0%",
    ]

    # without a `report:` section: MTTA against each severity's response_target (SEV1 5 min: 8 > 5)
    defaults = await load_report(sessions, AppConfig(timezone=BERLIN), SINCE, UNTIL, NOW)
    assert (_times(defaults, "SEV1")["mtta"].target, _times(defaults, "SEV1")["mtta"].status) == (
        minutes(5),
        MISSED,
    )
    assert _times(defaults, "SEV1")["mttr"].status == NO_TARGET
    assert defaults.missed == ["MTTA SEV1: mean 8 min > target 5 min (2 incidents)"]


async def test_incidents_per_month_in_the_configured_zone(sessions: Sessions, data: Data) -> None:
    report = await _report(sessions)
    # B (2026-02-28 23:30 UTC) is 2026-03-01 00:30 in Berlin: March. I (= since) is Feb 15 00:00 there.
    assert [(m.month, m.count) for m in report.months] == [("2026-02", 2), ("2026-03", 5)]
    assert report.months[0].by_severity == {"SEV1": 1, "SEV2": 0, "SEV3": 1, "SEV4": 0}  # A, I
    assert report.months[1].by_severity == {"SEV1": 2, "SEV2": 2, "SEV3": 1, "SEV4": 0}  # B C, D E, F
    in_utc = await load_report(sessions, AppConfig(timezone="UTC", report=TARGETS), SINCE, UNTIL, NOW)
    # in UTC the same window starts on Feb 14 and B falls in February
    assert [(m.month, m.count) for m in in_utc.months] == [("2026-02", 3), ("2026-03", 4)]
    # a month without incidents is listed with 0
    longer = await load_report(
        sessions, AppConfig(timezone=BERLIN, report=TARGETS), utc(12, 31, 23, year=2025), UNTIL, NOW
    )
    assert [(m.month, m.count) for m in longer.months] == [("2026-01", 0), ("2026-02", 2), ("2026-03", 5)]


async def test_repeat_incidents(sessions: Sessions, data: Data) -> None:
    report = await _report(sessions)
    ids = data.ids
    found = {(r.incident_id, r.previous_id, r.service, r.alertnames, r.gap) for r in report.repeats}
    assert found == {
        # B: checkout/HighErrorRate 8 d 13 h 30 min after A
        (ids["B"], ids["A"], "checkout", ("HighErrorRate",), timedelta(days=8, hours=13, minutes=30)),
        # F: search/DiskFull 76 days after G, which was declared before the window
        (ids["F"], ids["G"], "search", ("DiskFull",), timedelta(days=76)),
    }
    # not repeats: A (H had the same service and alert 111 days earlier: outside 90 d);
    # C (HighErrorRate too, but on search); D, E, I (no alert, other alert names)
    assert {row.severity: row.repeats for row in report.severities} == {
        "SEV1": 1,
        "SEV2": 0,
        "SEV3": 1,
        "SEV4": 0,
    }
    assert report.overall.repeats == 2
    # with a 120-day window A repeats H
    wider = await _report(sessions, TARGETS.model_copy(update={"repeat_window": timedelta(days=120)}))
    assert {r.incident_id for r in wider.repeats} == {ids["A"], ids["B"], ids["F"]}


async def test_completion_rates(sessions: Sessions, data: Data) -> None:
    report = await _report(sessions)
    ids, items = data.ids, data.items
    pm = report.postmortems
    # required: resolved SEV1/SEV2 of the window = A, B, D, E (C is open); published: A, D
    assert (pm.numerator, pm.denominator, pm.value, pm.target, pm.status) == (2, 4, 0.5, 0.9, MISSED)
    assert sorted(pm.missing) == sorted([ids["B"], ids["E"]])
    actions = report.action_items
    # due in the window: first-day (done on time), late (done late), last-day (open) → 2 of 3
    assert (actions.numerator, actions.denominator, actions.on_time) == (2, 3, 1)
    assert actions.value == pytest.approx(2 / 3)
    assert (actions.target, actions.status) == (0.6, MET)
    assert actions.missing == (items["last-day"],)
    strict = await _report(sessions, TARGETS.model_copy(update={"postmortem_required": ("SEV2",)}))
    assert (strict.postmortems.numerator, strict.postmortems.denominator) == (1, 2)  # D of D, E


async def test_window_is_half_open(sessions: Sessions, data: Data) -> None:
    report = await _report(sessions)
    data_ = report_data(report)
    assert data_["window"] == {
        "since": "2026-02-14T23:00:00+00:00",
        "until": "2026-03-14T23:00:00+00:00",
        "timezone": BERLIN,
        "generated_at": "2026-03-20T09:00:00+00:00",
    }
    # I (declared at `since`) is in, J (declared at `until`, acknowledged in 5 min) is out
    assert report.severities[2].count == 2
    assert _times(report, "SEV3")["mtta"].samples == 0
    moved = await load_report(
        sessions,
        AppConfig(timezone=BERLIN, report=TARGETS),
        SINCE + minutes(1),
        UNTIL + minutes(1),
        NOW,
    )
    assert moved.severities[2].count == 2  # F and J now
    assert (_times(moved, "SEV3")["mtta"].samples, _times(moved, "SEV3")["mtta"].mean) == (1, minutes(5))


# --- formats --------------------------------------------------------------------------------------


async def test_json_has_stable_keys_and_seconds(sessions: Sessions, data: Data) -> None:
    parsed = json.loads(render_json(await _report(sessions)))
    assert list(parsed) == [
        "window", "severities", "overall", "incidents_per_month", "repeats",
        "postmortem_completion", "action_item_completion", "targets_missed",
    ]  # fmt: skip
    assert list(parsed["severities"]) == ["SEV1", "SEV2", "SEV3", "SEV4"]
    sev1 = parsed["severities"]["SEV1"]
    assert list(sev1) == ["count", "repeats", "mttd", "mtta", "mttm", "mttr"]
    assert sev1["mtta"] == {
        "samples": 2, "mean_seconds": 480.0, "median_seconds": 480.0, "p90_seconds": 720.0,
        "target_seconds": 600.0, "status": "met", "invalid_incidents": [],
    }  # fmt: skip
    assert parsed["overall"]["mttr"]["mean_seconds"] == 31200.0  # 8 h 40 min
    assert parsed["overall"]["mttr"]["target_seconds"] is None
    assert parsed["incidents_per_month"][1] == {
        "month": "2026-03", "count": 5, "by_severity": {"SEV1": 2, "SEV2": 2, "SEV3": 1, "SEV4": 0},
    }  # fmt: skip
    assert parsed["repeats"]["window_seconds"] == 90 * 86400
    assert parsed["repeats"]["count"] == 2
    assert set(parsed["repeats"]["incidents"][0]) == {
        "incident", "severity", "service", "alertnames", "previous", "gap_seconds",
    }  # fmt: skip
    assert parsed["postmortem_completion"] == {
        "done": 2, "total": 4, "rate": 0.5, "target": 0.9, "status": "missed",
        "required_severities": ["SEV1", "SEV2"], "missing": [data.ids["B"], data.ids["E"]],
    }  # fmt: skip
    assert parsed["action_item_completion"]["done_on_time"] == 1
    assert len(parsed["targets_missed"]) == 4


async def test_csv_parses_one_row_per_metric_and_severity(sessions: Sessions, data: Data) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(await _report(sessions)))))
    keyed = {(r["metric"], r["severity"], r["period"]): r for r in rows}
    assert len(keyed) == len(rows)  # no duplicates
    severities = ["SEV1", "SEV2", "SEV3", "SEV4", "all"]
    for metric in ("incidents", "mttd", "mtta", "mttm", "mttr", "repeat_incidents"):
        assert [r["severity"] for r in rows if r["metric"] == metric] == severities
    sev2_mttr = keyed[("mttr", "SEV2", "")]
    assert (float(sev2_mttr["mean_seconds"]), float(sev2_mttr["target"]), sev2_mttr["status"]) == (
        36000.0, 28800.0, "missed",
    )  # fmt: skip
    assert keyed[("mtta", "SEV4", "")]["mean_seconds"] == ""  # no data: empty, not 0
    assert keyed[("incidents", "all", "")]["value"] == "7"
    assert keyed[("incidents_per_month", "all", "2026-02")]["value"] == "2"
    pm = keyed[("postmortem_completion", "all", "")]
    assert (pm["numerator"], pm["denominator"], float(pm["value"]), pm["status"]) == ("2", "4", 0.5, "missed")


async def test_markdown_tables(sessions: Sessions, data: Data) -> None:
    text = render_markdown(await _report(sessions))
    assert text.startswith("# Incident report 2026-02-15 00:00 → 2026-03-15 00:00 (Europe/Berlin)\n")
    lines = text.splitlines()
    assert "| severity | incidents | MTTD | MTTA | MTTM | MTTR |" in lines
    assert "| SEV1 | 3 | 9 min ✓ ≤ 10 min | 8 min ✓ ≤ 10 min | 2 h 20 min | 3 h ✓ ≤ 4 h |" in lines
    sev4 = "| SEV4 | 0 | no data (target 10 min) | no data (target 1 d) | no data | no data (target 7 d) |"
    assert sev4 in lines
    assert "| 2026-03 | 5 | 2 | 2 | 1 | 0 |" in lines
    ids = data.ids
    assert f"| INC-{ids['B']} | SEV1 | checkout | HighErrorRate | INC-{ids['A']} | 8 d 13 h |" in lines
    assert "- MTTR SEV2: mean 10 h > target 8 h (2 incidents)" in lines


def test_human_durations() -> None:
    assert [human(timedelta(seconds=s)) for s in (0, 59, 60, 270, 7503, 259_500, 273_600)] == [
        "0 s", "59 s", "1 min", "4 min 30 s", "2 h 5 min", "3 d", "3 d 4 h",
    ]  # fmt: skip


def test_build_report_is_pure_and_rejects_an_empty_window() -> None:
    report = build_report([], {}, [], [], CONFIG, ReportConfig(), SINCE, UNTIL, NOW)
    assert report.overall.count == 0 and report.missed == []
    with pytest.raises(ValueError, match="window is empty"):
        build_report([], {}, [], [], CONFIG, ReportConfig(), UNTIL, UNTIL, NOW)


# --- config ---------------------------------------------------------------------------------------


def test_report_config_shapes_and_errors() -> None:
    section = ReportConfig.model_validate(
        {"targets": {"mttd": "5m", "mtta": {"SEV1": "5m"}, "postmortem_completion": "90%"}}
    )
    assert section.targets.mttd == minutes(5)
    assert section.time_target("mttd", "SEV3", None) == minutes(5)
    assert section.time_target("mtta", "SEV1", minutes(7)) == minutes(5)
    assert section.time_target("mtta", "SEV2", minutes(15)) == minutes(15)  # the response target
    assert section.time_target("mttr", "SEV1", minutes(15)) is None
    assert section.targets.postmortem_completion == 0.9
    assert section.repeat_window == timedelta(days=90)
    assert section.problems(["SEV1", "SEV2"]) == []
    # post-mortems are required, by default, of the two most severe configured severities
    assert section.required_severities(["P1", "P2", "P3"]) == ("P1", "P2")
    assert section.problems(["P1", "P2", "P3"]) == [
        "report.targets.mtta: unknown severity 'SEV1' (P1, P2, P3)"
    ]
    assert ReportConfig.model_validate({"postmortem_required": ["P1"]}).required_severities(["P1", "P2"]) == (
        "P1",
    )
    assert ReportConfig.model_validate({"targets": {"mttr": {"SEV9": "1h"}}}).problems(["SEV1"]) == [
        "report.targets.mttr: unknown severity 'SEV9' (SEV1)"
    ]
    for bad, message in (
        ({"targets": {"mttd": "5x"}}, "not a duration"),
        ({"targets": {"mttr": {"SEV1": "0s"}}}, "longer than zero"),
        ({"targets": {"postmortem_completion": 1.5}}, "less than or equal to 1"),
        ({"targets": {"mtta": ["5m"]}}, "mapping of severity"),
        ({"targets": {"mmtr": "1h"}}, "Extra inputs"),
        ({"repeat_window": "0d"}, "longer than zero"),
    ):
        with pytest.raises(ValueError, match=message):
            ReportConfig.model_validate(bad)


# --- the stores' batch reads ----------------------------------------------------------------------


async def test_declared_between_and_timelines_in_one_query_each(
    sessions: Sessions, engine: AsyncEngine, data: Data
) -> None:
    store = IncidentStore(sessions)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        incidents = await store.declared_between(SINCE, UNTIL)
        after_incidents = len(statements)
        timelines = await store.timelines([i.id for i in incidents] + [99999])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    ids = data.ids
    assert [i.id for i in incidents] == [ids[k] for k in "IABFCDE"]  # J (at `until`) is not
    assert incidents[1].roles == {"incident_commander": ALICE}
    assert after_incidents == 2 and len(statements) == 3  # incidents + roles, then one for every timeline
    assert timelines[99999] == []
    assert [e.kind for e in timelines[ids["A"]]] == [
        EventKind.ALERT_RECEIVED,  # 09:58, before the declaration at 10:00
        EventKind.DECLARED,
        EventKind.PAGE_ACKED,
        EventKind.STATUS_CHANGED,
        EventKind.RESOLVED,
    ]
    assert timelines[ids["A"]] == await store.timeline(ids["A"])


# --- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "incidentbot.yml"
    config.write_text(f"timezone: {BERLIN}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(config))
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", database_url)
    return config


def _configure(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(run, ["report", *argv])  # the CLI runs its own event loop


async def test_cli_prints_and_exits_by_check(
    cli_env: Path, data: Data, capsys: pytest.CaptureFixture[str]
) -> None:
    window = ["--since", "2026-02-15", "--until", "2026-03-15"]  # dates: midnight in Berlin
    assert await _cli(*window, "--format", "json") == 0  # targets missed, but a report is not a check
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["window"]["since"] == "2026-02-15T00:00:00+01:00"
    assert parsed["overall"]["count"] == 7
    assert parsed["severities"]["SEV1"]["mtta"]["target_seconds"] == 300.0  # response_target (no report:)

    assert await _cli(*window, "--check") == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("# Incident report 2026-02-15 00:00 → 2026-03-15 00:00 (Europe/Berlin)")
    assert "target missed: MTTA SEV1: mean 8 min > target 5 min (2 incidents)" in captured.err

    # a window where every target is met (only I, a SEV3 without pages: no data is not a miss)
    assert await _cli("--since", "2026-02-15", "--until", "2026-02-16", "--check", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert next(r for r in rows if r["metric"] == "incidents" and r["severity"] == "all")["value"] == "1"

    # a duration counts back from --until: 2026-03-15 minus 4 weeks = 2026-02-15
    assert await _cli("--since", "4w", "--until", "2026-03-15", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["window"]["since"] == "2026-02-15T00:00:00+01:00"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "yesterday"], "neither a duration"),
        (["--since", "0d"], "longer than zero"),
        (["--since", "2026-03-15", "--until", "2026-03-01"], "must be before --until"),
        (["--until", "soon"], "neither a duration"),
        (["--format", "xml"], "invalid choice"),
    ],
)
async def test_cli_bad_arguments_exit_2(
    cli_env: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli(*argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


async def test_cli_reads_the_report_section(
    cli_env: Path, data: Data, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure(
        cli_env,
        f"timezone: {BERLIN}\n"
        "report:\n"
        "  targets:\n"
        "    mtta: {SEV1: 10m}\n"
        "    action_item_completion: 0.8\n"
        "  postmortem_required: [SEV2]\n",
    )
    assert await _cli("--since", "2026-02-15", "--until", "2026-03-15", "--format", "json", "--check") == 1
    captured = capsys.readouterr()
    parsed = json.loads(captured.out)
    assert parsed["severities"]["SEV1"]["mtta"]["status"] == "met"  # 8 min ≤ 10 min
    assert parsed["postmortem_completion"]["required_severities"] == ["SEV2"]
    assert (parsed["postmortem_completion"]["done"], parsed["postmortem_completion"]["total"]) == (1, 2)
    assert parsed["targets_missed"] == ["action_item_completion: 2/3 = 66.7% < target 80.0%"]
    assert "target missed: action_item_completion" in captured.err

    _configure(cli_env, "report:\n  targets:\n    mttr: {SEV9: 1h}\n")
    assert await _cli() == 2
    assert "report.targets.mttr: unknown severity 'SEV9'" in capsys.readouterr().err


async def test_cli_refuses_an_unmigrated_database(
    unmigrated_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", unmigrated_database_url)
    assert await _cli() == 2
    assert "incidentbot db upgrade" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["report"], ["postmortem", "show", "INC-1"]])
async def test_cli_says_which_database_it_cannot_reach(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", "postgresql://ops:hunter2@127.0.0.1:1/incidents")
    assert await asyncio.to_thread(run, argv) == 2
    err = capsys.readouterr().err
    assert "error: cannot read the database at postgresql://ops:***@127.0.0.1:1/incidents" in err
    assert "hunter2" not in err


async def test_a_negative_duration_is_flagged_never_met(sessions: Sessions) -> None:
    """An impact start entered an hour after the declaration: MTTD would be -1 h, a "met" target."""
    store = IncidentStore(sessions)
    declared = utc(3, 10, 9)
    bad = await _incident(
        store, "late-start", "SEV1", "api", declared, alert=(declared, declared + hours(1), "Late")
    )
    await _incident(
        store, "fine", "SEV1", "api", utc(3, 11, 9), alert=(utc(3, 11, 9), utc(3, 11, 8, 58), "Ok")
    )
    report = await _report(sessions)
    mttd = _times(report, "SEV1")["mttd"]
    assert mttd.status == "invalid data" and mttd.invalid == (bad,)
    assert mttd.samples == 1 and mttd.mean == minutes(2)  # the valid one alone
    assert any(f"negative for INC-{bad}" in line for line in report.missed)
    assert f"⚠ negative for INC-{bad}" in render_markdown(report)
