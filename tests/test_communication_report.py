"""The communication plan in `incidentbot report` and in the post-mortem, from a scripted data set with
known times, on SQLite and Postgres. Every figure below is worked out by hand next to it.

The matrix is the seed's (examples/incidentbot.yml): engineering at once; management SEV1 15 min, SEV2
30 min, then every 30 min for SEV1; users (status page) SEV1 15 min, SEV2 2 h, every 30 min / 2 h;
enterprise (calls to Acme Corp) SEV1 30 min.

- P, SEV1, declared 10:00, resolved 11:00: engineering and management told 10:00; management again 10:25
  and 10:58; the status page 10:12, 10:40, 11:00; Acme: no answer 10:20, called 10:35.
- Q, SEV1, declared 12:00, resolved 12:45: engineering 12:00, management 12:05; users "not needed" at
  12:10; no calls.
- R, SEV2, declared 14:00, open (now 20:00): engineering 14:00, management 14:40 (due 14:30), the status
  page 15:00.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.communication.report import communication_figures
from bot.communication.settings import CommunicationConfig
from bot.domain import DeclareRequest, EventKind, Incident
from bot.store import IncidentStore, NewEvent
from tests.cli_helpers import cli, config_env

Sessions = async_sessionmaker[AsyncSession]
ALICE = "U0ALICE000"
MATRIX = """
communication:
  audiences:
    engineering: {slack_channel: C0INCIDENT, first: {SEV1: 0m, SEV2: 0m, SEV3: 0m, SEV4: 0m}, automatic: true}
    management:
      slack_channel: C0MGMT0000
      template: management_email
      first: {SEV1: 15m, SEV2: 30m, SEV3: 1d}
      every: {SEV1: 30m}
      automatic: true
    users:
      status_page: true
      template: status_page
      first: {SEV1: 15m, SEV2: 2h}
      every: {SEV1: 30m, SEV2: 2h}
    enterprise:
      call_list: [{name: Acme Corp, contact: "+49 30 1234567"}]
      template: customer_call_script
      first: {SEV1: 30m}
"""
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


async def _told(store: IncidentStore, incident_id: int, audience: str, when: datetime, notice: str) -> None:
    data = {"audience": audience, "notice": notice}
    await store.append(incident_id, NewEvent(EventKind.AUDIENCE_TOLD, None, audience, data), when)


async def _published(store: IncidentStore, incident_id: int, when: datetime) -> None:
    await store.append(
        incident_id, NewEvent(EventKind.STATUS_PAGE_PUBLISHED, ALICE, "public", {"status": "x"}), when
    )


async def _incident(store: IncidentStore, key: str, severity: str, declared: datetime) -> int:
    request = DeclareRequest(title=f"incident {key}", severity=severity, summary="", reporter=ALICE)
    incident, _ = await store.create(request, f"comm-{key}", "investigating", "incident_commander", declared)
    return incident.id


async def _resolve(store: IncidentStore, incident_id: int, when: datetime) -> None:
    done = NewEvent(EventKind.RESOLVED, ALICE, "fixed", {"summary": "fixed"})
    await store.change(incident_id, when, done, status="resolved", resolved_at=when)


async def build(sessions: Sessions) -> dict[str, int]:
    store = IncidentStore(sessions)
    p = await _incident(store, "P", "SEV1", at(10))
    await _told(store, p, "engineering", at(10), "declared")
    await _told(store, p, "management", at(10), "declared")
    await _published(store, p, at(10, 12))
    call = {"audience": "enterprise", "contact": "Acme Corp"}
    await store.append(
        p, NewEvent(EventKind.CUSTOMER_CALL, ALICE, "", {**call, "outcome": "no_answer"}), at(10, 20)
    )
    await _told(store, p, "management", at(10, 25), "update")
    await store.append(
        p, NewEvent(EventKind.CUSTOMER_CALL, ALICE, "", {**call, "outcome": "called"}), at(10, 35)
    )
    await _published(store, p, at(10, 40))
    await _told(store, p, "management", at(10, 58), "update")
    await _published(store, p, at(11))
    await _resolve(store, p, at(11))

    q = await _incident(store, "Q", "SEV1", at(12))
    await _told(store, q, "engineering", at(12), "declared")
    await _told(store, q, "management", at(12, 5), "declared")
    waiver = {"audience": "users", "reason": "Internal tooling only"}
    await store.append(q, NewEvent(EventKind.AUDIENCE_NOT_NEEDED, ALICE, "", waiver), at(12, 10))
    await _resolve(store, q, at(12, 45))

    r = await _incident(store, "R", "SEV2", at(14))
    await _told(store, r, "engineering", at(14), "declared")
    await _told(store, r, "management", at(14, 40), "declared")
    await _published(store, r, at(15))
    return {"P": p, "Q": q, "R": r}


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return config_env("timezone: UTC\n" + MATRIX, database_url, tmp_path, monkeypatch)


async def test_report_gives_first_notice_times_deadlines_and_cadence_per_severity_and_audience(
    cli_env: Path, sessions: Sessions, capsys: pytest.CaptureFixture[str]
) -> None:
    await build(sessions)
    window = ["report", "--since", "2026-03-02", "--until", "2026-03-03", "--format", "json"]
    assert await cli(*window) == 0
    rows = {(r["severity"], r["audience"]): r for r in json.loads(capsys.readouterr().out)["communication"]}
    assert set(rows) == {
        ("SEV1", "engineering"),
        ("SEV1", "management"),
        ("SEV1", "users"),
        ("SEV1", "enterprise"),
        ("SEV2", "engineering"),
        ("SEV2", "management"),
        ("SEV2", "users"),
    }  # fmt: skip  (SEV2 never concerns enterprise)
    mgmt = rows[("SEV1", "management")]
    # first notices 0 and 5 min: median 2.5 min, p90 (nearest rank) 5 min; both within 15 min
    assert (mgmt["first_notice_median_seconds"], mgmt["first_notice_p90_seconds"]) == (150.0, 300.0)
    assert (mgmt["first_deadline_met"], mgmt["first_deadline_missed"]) == (2, 0)
    # P: gaps 25, 33, 2 min (to the resolution); Q: 12:05 → 12:45 is 40 min > 30
    assert (mgmt["cadence_kept"], mgmt["cadence_missed"]) == (2, 2)
    users = rows[("SEV1", "users")]
    # P published at 10:12 (met); Q waived; the page's gaps 28, 20 and 0 min are all within 30
    assert (users["told"], users["first_notice_median_seconds"]) == (1, 720.0)
    assert (users["first_deadline_met"], users["first_deadline_missed"], users["not_needed"]) == (1, 0, 1)
    assert (users["cadence_kept"], users["cadence_missed"]) == (3, 0)
    enterprise = rows[("SEV1", "enterprise")]
    # P: the no-answer does not count; Acme reached at 10:35, after 10:30. Q: never called by 12:45.
    assert (enterprise["told"], enterprise["first_notice_median_seconds"]) == (1, 2100.0)
    assert (enterprise["first_deadline_met"], enterprise["first_deadline_missed"]) == (0, 2)
    assert rows[("SEV2", "management")]["first_deadline_missed"] == 1  # 14:40 > 14:30
    sev2_users = rows[("SEV2", "users")]
    assert (sev2_users["first_deadline_met"], sev2_users["first_notice_median_seconds"]) == (1, 3600.0)

    assert await cli(*window[:-2]) == 0  # Markdown
    markdown = capsys.readouterr().out
    assert "## Communication" in markdown
    assert "| SEV1 | enterprise | 2 | 1 | 35 min | 35 min | 0 | 2 | 0 | 0 | 0 |" in markdown

    assert await cli(*window[:-1], "csv") == 0
    csv_text = capsys.readouterr().out
    assert "first_notice:users,SEV1,,1,,720.0,720.0,,1,1,," in csv_text


async def test_post_mortem_tells_who_was_told_when_and_what_was_missed(
    cli_env: Path, sessions: Sessions, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = await build(sessions)
    assert await cli("postmortem", "show", str(ids["P"])) == 0
    document = capsys.readouterr().out
    section = document.split("## Communication", 1)[1].split("\n## ", 1)[0]
    assert "| Users | 2026-03-02 10:15 UTC | 2026-03-02 10:12 UTC (12 min in) | ✓ met | 3 |" in section
    assert (
        "| Enterprise | 2026-03-02 10:30 UTC | 2026-03-02 10:35 UTC (35 min in) | ✗ missed | 1 |" in section
    )
    assert "Acme Corp: called" in section
    assert "1 update gap(s) longer than promised" in section  # management's 33 min

    assert await cli("postmortem", "show", str(ids["Q"])) == 0
    section = capsys.readouterr().out.split("## Communication", 1)[1].split("\n## ", 1)[0]
    assert "| Users |" in section and "not needed: Internal tooling only" in section


def test_an_open_incident_misses_a_deadline_only_once_it_has_passed() -> None:
    section = CommunicationConfig.model_validate(
        {"audiences": {"users": {"status_page": True, "first": {"SEV1": "15m"}}}}
    )
    incident = Incident(1, "t", "SEV1", "investigating", "", None, False, ALICE, at(10))
    early = communication_figures(section, [incident], {1: []}, "resolved", at(10, 10))
    late = communication_figures(section, [incident], {1: []}, "resolved", at(10, 20))
    assert (early[0].met, early[0].missed) == (0, 0)
    assert (late[0].met, late[0].missed) == (0, 1)
