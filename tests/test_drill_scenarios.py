"""Drill scenarios on paper (issue 21): the seeds' four shipped in examples/drills load and refer to what
exists; mistakes are named by file and field; the scorecard's figures from a scripted timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.domain import AudienceRecord, EventKind, Incident, TimelineEvent
from bot.drills.scenario import Scenario, ScenarioError, load_scenarios, references
from bot.drills.scorecard import markdown, score
from bot.runbooks.files import configured_runbooks
from tests.fixtures_bot import ALICE, BOB, EXAMPLE_CONFIG

EXAMPLES = EXAMPLE_CONFIG.parent / "drills"
T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
BOT = "U0BOT00000"


def test_the_seeds_four_scenarios_load_and_refer_to_what_exists() -> None:
    scenarios = load_scenarios(EXAMPLES)
    assert sorted(scenarios) == ["circuit-breaker", "db-down", "error-spike", "high-latency"]
    config = load_config(EXAMPLE_CONFIG)
    runbooks = configured_runbooks(config.runbooks, EXAMPLE_CONFIG)
    severities, services = [s.id for s in config.severities], [s.id for s in config.services]
    for scenario in scenarios.values():
        assert references(scenario, severities, services, runbooks) == []
        for inject in scenario.injects:
            if inject.check:
                assert scenario.runbook is not None
                steps = [step.id for _, step in runbooks[scenario.runbook].steps()]
                assert inject.check.step in steps
    db = scenarios["db-down"]
    assert [i.kind for _, i in db.ordered] == ["alert", "page", "message", "check", "slo", "alert"]
    assert db.targets.first_update == {"channel": timedelta(minutes=10), "users": timedelta(minutes=15)}


def test_mistakes_are_named_by_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "name: Bad Name\ntitle: x\nseverity: SEV1\ninjects:\n  - at: 1m\n  - at: -1m\n    message: hi\n"
    )
    (tmp_path / "b.yml").write_text("name: ok\ntitle: y\nseverity: SEV9\ncolour: red\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenarios(tmp_path)
    problems = "\n".join(raised.value.problems)
    assert "a.yml: name: 'Bad Name'" in problems
    assert (
        "a.yml: injects[0]: each inject is exactly one of alert, message, slo, check, page (got none)"
        in problems
    )
    assert "a.yml: injects[1].at: " in problems
    assert "b.yml: colour: unknown field" in problems
    scenario = Scenario.model_validate({"name": "ok", "title": "y", "severity": "SEV9", "service": "nope"})
    assert references(scenario, ["SEV1"], ["api"], {}) == [
        "ok: severity 'SEV9' is not one of SEV1",
        "ok: unknown service 'nope'",
    ]


def _event(
    n: int, kind: EventKind, minutes: float, actor: str | None = ALICE, **data: object
) -> TimelineEvent:
    return TimelineEvent(n, 1, kind, actor, T0 + timedelta(minutes=minutes), "", dict(data))


def test_the_scorecard_measures_each_target_from_the_start() -> None:
    scenario = load_scenarios(EXAMPLES)[
        "db-down"
    ]  # ack 5m, IC 5m, channel 10m, users 15m, step 10m, resolve 45m
    incident = Incident(
        1,
        "Database down",
        "SEV1",
        "resolved",
        "",
        "database",
        False,
        BOT,
        T0,
        resolved_at=T0 + timedelta(minutes=50),
    )
    events = [
        _event(1, EventKind.DECLARED, 0, BOT),
        _event(2, EventKind.ROLE_ASSIGNED, 0, BOT, role="incident_commander", user=BOT),
        _event(3, EventKind.DRILL_INJECT, 0, None, inject="alert PostgresDown"),
        _event(4, EventKind.PAGE_ACKED, 3),
        _event(5, EventKind.ROLE_ASSIGNED, 7, role="incident_commander", user=BOB),
        _event(6, EventKind.RUNBOOK_STEP_RUN, 8, step="query-errors", passed=False),
        _event(7, EventKind.UPDATE_POSTED, 9),
        _event(8, EventKind.RUNBOOK_STEP_RUN, 12, step="primary-accepts", passed=True),
    ]
    users = AudienceRecord(
        "users", T0 + timedelta(minutes=15), T0 + timedelta(minutes=20), True, 1, None, None, (), 0
    )
    card = score(scenario, incident, events, [users], BOT, [ALICE, BOB])
    verdicts = {r.what: (r.measured, r.verdict) for r in card.results}
    assert verdicts == {
        "acknowledged": (timedelta(minutes=3), "met"),
        "Incident Commander assigned": (timedelta(minutes=7), "missed"),
        "first update to channel": (timedelta(minutes=9), "met"),
        "first update to users": (timedelta(minutes=20), "missed"),
        "first runbook step": (timedelta(minutes=8), "met"),
        "resolved": (timedelta(minutes=50), "missed"),
    }
    assert card.deadlines == (("users", "missed"),)
    assert card.score == round(100 * 3 / 7)  # 3 of 6 targets and 0 of 1 deadline
    assert "Incident Commander assigned: took 7 min, the target is 5 min" in card.practise
    assert "runbook step query-errors failed: know what to do next" in card.practise
    assert "acknowledged in 3 min" in card.went_well
    document = markdown(card, "2026-12-03 11:00 CET")
    assert document.startswith("# Drill scorecard: Database down (db-down) — INC-1")
    assert "DRILL — not a real incident" in document and "score **43 %**" in document
    assert "| first update to users | 15 min | 20 min | missed |" in document
