"""The on-call load report on a scripted November: every figure is worked out by hand below, and the
report (from the database, on SQLite and PostgreSQL) and the CLI must say the same; the CLI's exit codes.

The rota: Europe/Berlin (UTC+1 all November), weekly, hand-off Monday 09:00, Alice then Bob from Monday
2 November. An override from the database puts Alice on Bob's first week too, so Alice is on call from
Mon 2 Nov 09:00 to Mon 23 Nov 09:00 (21 days, 504 h) and Bob from then to the window's end, Mon 30 Nov
09:00 (168 h). Carol (not on the rota) lives in New York and is paged once.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import run
from bot.domain import DeclareRequest
from bot.oncall.load_render import data
from bot.oncall.load_source import load_report
from bot.oncall.rota import ACCEPTED, OVERRIDE_KIND, PENDING, Piece
from bot.oncall.rota_store import RotaStore
from bot.oncall.settings import OnCallConfig
from bot.oncall.store import PagingStore
from bot.store import IncidentStore
from tests.fixtures_bot import ALICE, BOB, CAROL

Sessions = async_sessionmaker[AsyncSession]
BERLIN = "Europe/Berlin"
SINCE = datetime(2026, 11, 2, 8, tzinfo=UTC)  # Mon 2 Nov 09:00 Berlin
UNTIL = datetime(2026, 11, 30, 8, tzinfo=UTC)  # Mon 30 Nov 09:00 Berlin
ONCALL: dict[str, Any] = {
    "schedules": [
        {
            "id": "team",
            "name": "Team",
            "timezone": BERLIN,
            "layers": [
                {"name": "weekly", "users": [ALICE, BOB], "rotation": "weekly", "start": "2026-11-02"}
            ],
        }
    ],
    "people": {CAROL: {"timezone": "America/New_York"}},
}

# (who, sent at UTC, minutes to acknowledge or None): Berlin is UTC+1, New York UTC-5.
PAGES = [
    (ALICE, datetime(2026, 11, 1, 12, tzinfo=UTC), 1),  # before the window: not counted
    (ALICE, datetime(2026, 11, 3, 2, tzinfo=UTC), 4),  # Tue 03:00: night, out of hours (W45)
    (ALICE, datetime(2026, 11, 3, 10, tzinfo=UTC), 2),  # Tue 11:00: working hours
    (ALICE, datetime(2026, 11, 7, 12, tzinfo=UTC), None),  # Sat 13:00: out of hours, not night, unacked
    (ALICE, datetime(2026, 11, 11, 23, 30, tzinfo=UTC), 10),  # Thu 00:30: night (W46)
    (ALICE, datetime(2026, 11, 12, 5, tzinfo=UTC), 6),  # Thu 06:00: night
    (ALICE, datetime(2026, 11, 13, 21, 30, tzinfo=UTC), 8),  # Fri 22:30: night
    (ALICE, datetime(2026, 11, 16, 10, tzinfo=UTC), 5),  # Mon 11:00: working hours (W47)
    (BOB, datetime(2026, 11, 24, 14, tzinfo=UTC), 1),  # Tue 15:00: working hours (W48)
    (CAROL, datetime(2026, 11, 24, 14, 5, tzinfo=UTC), 3),  # Tue 09:05 in New York: working hours
]


async def script(sessions: Sessions) -> None:
    incidents, paging, rota = IncidentStore(sessions), PagingStore(sessions), RotaStore(sessions)
    for number, (user, sent, ack) in enumerate(PAGES):
        request = DeclareRequest(title=f"page {number}", severity="SEV2", summary="", reporter=user)
        incident, _ = await incidents.create(request, f"load-{number}", "investigating", "ic", sent)
        await paging.add_page(incident.id, "slack", user, "on call for Team", sent)
        if ack is not None:
            await paging.ack_pages(incident.id, user, sent + timedelta(minutes=ack))
    # Alice covers Bob's first week (an override a manager set in Slack).
    week = Piece("team", ALICE, datetime(2026, 11, 9, 8, tzinfo=UTC), datetime(2026, 11, 16, 8, tzinfo=UTC))
    values = {"user": ALICE, "schedule_id": "team", "starts_at": week.start, "ends_at": week.end}
    change, _ = await rota.add(
        "test", OVERRIDE_KIND, {**values, "status": PENDING, "pieces": [], "requested_by": BOB}, SINCE
    )
    assert await rota.decide(change.id, ACCEPTED, BOB, SINCE, [week])


def _week(report: dict[str, Any], user: str, week: str) -> dict[str, Any]:
    return next(w for w in report["weeks"] if w["user"] == user and w["week"] == week)


def _person(report: dict[str, Any], user: str) -> dict[str, Any]:
    return next(p for p in report["people"] if p["user"] == user)


def check_figures(report: dict[str, Any]) -> None:
    assert report["rota_size"] == 2 and report["fair_share"] == 0.5
    alice = _person(report, ALICE)
    # 7 pages; out of hours: 03:00, Sat 13:00, 00:30, 06:00, 22:30; night: 03:00, 00:30, 06:00, 22:30
    assert (alice["pages"], alice["out_of_hours"], alice["night"], alice["incidents"]) == (7, 5, 4, 7)
    assert alice["hours_on_call"] == 504 and alice["days_on_call"] == 22  # 2 … 23 Nov
    assert alice["median_ack_seconds"] == 330  # acks 2, 4, 5, 6, 8, 10 min: (5 + 6) / 2
    assert alice["share"] == round(7 / 9, 4)
    assert (alice["longest_days_in_a_row"], alice["longest_weeks_in_a_row"]) == (22, 4)
    w45 = _week(report, ALICE, "2026-W45")
    assert (w45["pages"], w45["out_of_hours"], w45["night"], w45["median_ack_seconds"]) == (3, 2, 1, 180)
    assert (w45["hours_on_call"], w45["days_on_call"], w45["consecutive_weeks"]) == (159, 7, 1)  # 6 d 15 h
    w46 = _week(report, ALICE, "2026-W46")
    assert (w46["pages"], w46["night"], w46["median_ack_seconds"], w46["hours_on_call"]) == (3, 3, 480, 168)
    assert _week(report, ALICE, "2026-W47")["consecutive_weeks"] == 3
    w48 = _week(report, ALICE, "2026-W48")
    assert (w48["hours_on_call"], w48["pages"], w48["share"], w48["consecutive_weeks"]) == (9, 0, 0.0, 4)
    bob = _person(report, BOB)
    assert (bob["pages"], bob["hours_on_call"], bob["days_on_call"], bob["median_ack_seconds"]) == (
        1,
        168,
        8,
        60,
    )
    assert _week(report, BOB, "2026-W48")["share"] == 0.5  # Bob's and Carol's page that week
    assert (_week(report, BOB, "2026-W49")["hours_on_call"], bob["longest_weeks_in_a_row"]) == (9, 2)
    carol = _person(report, CAROL)
    assert carol["timezone"] == "America/New_York"
    assert (carol["pages"], carol["out_of_hours"], carol["night"], carol["hours_on_call"]) == (1, 0, 0, 0)
    assert report["warnings"] == [
        f"<@{ALICE}> paged 3 times during sleep hours in 2026-W46 (more than 2)",
        f"<@{ALICE}> on call 3 weeks in a row up to 2026-W47 (more than 2)",
        f"<@{ALICE}> took 78% of the team's pages (fair is 50%; warned above 75%)",
    ]


async def test_the_report_matches_the_hand_computed_figures(sessions: Sessions) -> None:
    await script(sessions)
    config = OnCallConfig.model_validate(ONCALL)
    report = await load_report(RotaStore(sessions), config, SINCE, UNTIL, ZoneInfo(BERLIN))
    check_figures(data(report))


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "incidentbot.yml"
    config.write_text(json.dumps({"timezone": BERLIN, "oncall": ONCALL}), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(config))
    monkeypatch.setenv("INCIDENTBOT_DATABASE_URL", database_url)
    return config


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(run, ["oncall", *argv])  # the CLI runs its own event loop


async def test_cli_report_in_every_format(
    cli_env: Path, sessions: Sessions, capsys: pytest.CaptureFixture[str]
) -> None:
    await script(sessions)
    window = ["--since", "2026-11-02T09:00", "--until", "2026-11-30T09:00"]  # Berlin time
    assert await _cli("report", *window, "--format", "json") == 0
    check_figures(json.loads(capsys.readouterr().out))
    assert await _cli("report", *window, "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    alice = next(r for r in rows if r["user"] == ALICE and r["week"] == "total")
    assert (alice["pages"], alice["night"], alice["hours_on_call"]) == ("7", "4", "504.0")
    assert await _cli("report", *window) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("# On-call load 2026-11-02 – 2026-11-30")
    assert "took 78% of the team's pages" in markdown


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--since", "yesterday"], "neither a duration"),
        (["report", "--format", "xml"], "invalid choice"),
        (["ical-token", "nobody"], "neither a schedule (team) nor a Slack user id"),
        (["ical-token"], "the following arguments are required"),
        (["swap"], "invalid choice"),
    ],
)
async def test_cli_usage_errors_exit_2(
    cli_env: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli(*argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


async def test_cli_issues_and_revokes_feed_urls(
    cli_env: Path, sessions: Sessions, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli("ical-token", "team") == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("http://127.0.0.1:3000/oncall/ical/") and url.endswith(".ics")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    store = RotaStore(sessions)
    assert await store.feed_subject(token) == "team"
    assert await _cli("ical-token", ALICE) == 0
    assert capsys.readouterr().out.strip() != url  # a new secret each time
    assert await _cli("ical-token", "team", "--revoke") == 0
    assert capsys.readouterr().out.strip() == "revoked 1 feed URL of team"
    assert await store.feed_subject(token) is None
