"""The record outlives versions: a timeline row of a kind this version does not know (written by a newer
replica during a rolling upgrade) is read as "unknown", shown as such, counted nowhere, and breaks nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import load_config
from bot.domain import DeclareRequest, EventKind
from bot.postmortem.compile import compile_postmortem
from bot.postmortem.facts import Facts
from bot.postmortem.report import load_report
from bot.store import IncidentStore, NewEvent
from bot.store.models import TimelineEventRow
from bot.templating import Templates
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_an_unknown_event_kind_is_shown_as_unknown_and_breaks_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    config = load_config(EXAMPLE_CONFIG)
    store = IncidentStore(sessions)
    request = DeclareRequest(
        title="Checkout down", severity="SEV1", summary="", reporter=ALICE, service="api"
    )
    incident, _ = await store.create(request, "fc-1", "investigating", "incident_commander", T0)
    await store.append(
        incident.id, NewEvent(EventKind.NOTE_ADDED, ALICE, "a note", {}), T0 + timedelta(minutes=1)
    )
    async with sessions() as session, session.begin():  # what a newer version writes
        session.add(
            TimelineEventRow(
                incident_id=incident.id,
                kind="customer_emailed",  # a kind a newer version might write
                actor=ALICE,
                occurred_at=T0 + timedelta(minutes=2),
                text="Investigating: we are looking into it",
                data={"component": "api", "nested": {"new": ["fields"]}},
            )
        )
    resolved = NewEvent(EventKind.RESOLVED, ALICE, "fixed", {"summary": "fixed"})
    await store.change(
        incident.id,
        T0 + timedelta(minutes=30),
        resolved,
        status="resolved",
        resolved_at=T0 + timedelta(minutes=30),
    )

    timeline = await store.timeline(incident.id)
    [unknown] = [e for e in timeline if e.kind == EventKind.UNKNOWN]
    assert unknown.data["unknown_kind"] == "customer_emailed" and unknown.data["component"] == "api"

    report = await load_report(
        sessions, config, T0 - timedelta(days=1), T0 + timedelta(days=1), T0 + timedelta(days=2)
    )
    assert report.overall.count == 1
    assert report.overall.times["mttr"].mean == timedelta(minutes=30)  # the unknown row counts nowhere

    incident = await store.get(incident.id)
    assert incident is not None
    facts = Facts(
        incident=incident,
        events=timeline,
        narrative={},
        actions=[],
        config=config,
        now=T0 + timedelta(hours=1),
    )
    markdown = compile_postmortem(facts, Templates(config))
    assert r"Event of a kind this version does not know (customer\_emailed): Investigating" in markdown
