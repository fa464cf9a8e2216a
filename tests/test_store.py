"""IncidentStore on SQLite and PostgreSQL: idempotent declares, atomic changes, roles and the timeline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import DeclareRequest, EventKind, Incident
from bot.store import IncidentStore, NewEvent
from bot.store.models import IncidentRow, RoleAssignmentRow

ALICE, BOB, CAROL = "U0ALICE000", "U0BOB00000", "U0CAROL000"
IC, SCRIBE = "incident_commander", "scribe"
FINAL = "resolved"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _request(title: str = "Checkout is down", commander: str | None = BOB, **extra: object) -> DeclareRequest:
    return DeclareRequest(
        title=title,
        severity="SEV2",
        summary="Card payments fail",
        reporter=ALICE,
        commander=commander,
        **extra,
    )


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession]) -> IncidentStore:
    return IncidentStore(sessions)


async def _declare(store: IncidentStore, key: str = "declare-1", **request: object) -> Incident:
    incident, created = await store.create(_request(**request), key, "investigating", IC, NOW)
    assert created
    return incident


async def _count(sessions: async_sessionmaker[AsyncSession], model: type[object]) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


# --- create ------------------------------------------------------------------------------------------


async def test_create_twice_with_one_key_keeps_the_first(store: IncidentStore) -> None:
    first, created = await store.create(_request(), "declare-1", "investigating", IC, NOW)
    again, created_again = await store.create(
        _request("A retry with another title", commander=CAROL), "declare-1", "investigating", IC, NOW
    )
    assert (created, created_again) == (True, False)
    assert again == first
    assert again.title == "Checkout is down"
    assert [i.id for i in await store.list_open(FINAL)] == [first.id]
    assert [e.kind for e in await store.timeline(first.id)] == [EventKind.DECLARED]


async def test_create_records_what_was_declared(store: IncidentStore) -> None:
    incident = await _declare(store, service="checkout", private=True, source_permalink="https://x/p1")
    assert (incident.title, incident.severity, incident.status) == (
        "Checkout is down",
        "SEV2",
        "investigating",
    )
    assert (incident.service, incident.private, incident.reporter) == ("checkout", True, ALICE)
    assert incident.created_at == NOW
    assert incident.roles == {IC: BOB}
    assert incident.commander == BOB
    [declared] = await store.timeline(incident.id)
    assert (declared.kind, declared.actor, declared.text) == (EventKind.DECLARED, ALICE, "Checkout is down")
    assert declared.data["commander"] == BOB
    assert declared.data["severity"] == "SEV2"
    assert declared.occurred_at == NOW


async def test_reporter_commands_when_no_commander_is_named(store: IncidentStore) -> None:
    incident = await _declare(store, commander=None)
    assert incident.roles == {IC: ALICE}
    [declared] = await store.timeline(incident.id)
    assert declared.data["commander"] == ALICE


async def test_concurrent_creates_with_one_key_make_one_incident(
    store: IncidentStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    results = await asyncio.gather(
        *(
            store.create(_request(f"attempt {n}"), "slack-retry-key", "investigating", IC, NOW)
            for n in range(10)
        )
    )
    assert sorted(created for _, created in results) == [False] * 9 + [True]
    assert len({incident.id for incident, _ in results}) == 1
    incident = results[0][0]
    assert await _count(sessions, IncidentRow) == 1
    assert await _count(sessions, RoleAssignmentRow) == 1
    assert [e.kind for e in await store.timeline(incident.id)] == [EventKind.DECLARED]


# --- change ------------------------------------------------------------------------------------------


async def test_change_writes_the_fields_and_the_event(store: IncidentStore) -> None:
    incident = await _declare(store)
    later = NOW + timedelta(minutes=7)
    event = NewEvent(EventKind.STATUS_CHANGED, BOB, "investigating → identified", {"to": "identified"})
    changed = await store.change(incident.id, later, event, status="identified", summary="Bad deploy")
    assert (changed.status, changed.summary) == ("identified", "Bad deploy")
    assert await store.get(incident.id) == changed
    last = (await store.timeline(incident.id))[-1]
    assert (last.kind, last.actor, last.occurred_at) == (EventKind.STATUS_CHANGED, BOB, later)
    assert last.data == {"to": "identified"}


async def test_change_and_event_commit_together_or_not_at_all(store: IncidentStore) -> None:
    incident = await _declare(store)
    event = NewEvent(EventKind.STATUS_CHANGED, BOB, "investigating → identified")
    naive = datetime(2026, 3, 1, 12, 7)  # the event cannot be stored, so the status change must not be either
    with pytest.raises(StatementError, match="naive datetime"):
        await store.change(incident.id, naive, event, status="identified")
    assert (await store.get(incident.id)) == incident
    assert [e.kind for e in await store.timeline(incident.id)] == [EventKind.DECLARED]


async def test_change_of_an_unknown_field_writes_nothing(store: IncidentStore) -> None:
    incident = await _declare(store)
    event = NewEvent(EventKind.SEVERITY_CHANGED, BOB, "SEV2 → SEV1")
    with pytest.raises(ValueError, match="sevrity"):
        await store.change(incident.id, NOW, event, sevrity="SEV1")
    assert await store.get(incident.id) == incident
    assert [e.kind for e in await store.timeline(incident.id)] == [EventKind.DECLARED]


async def test_change_of_a_missing_incident_raises(store: IncidentStore) -> None:
    with pytest.raises(LookupError):
        await store.change(404, NOW, None, status="identified")


# --- roles -------------------------------------------------------------------------------------------


async def test_assign_role_returns_the_previous_holder_and_records_the_handover(store: IncidentStore) -> None:
    incident = await _declare(store)
    later = NOW + timedelta(minutes=3)

    updated, previous = await store.assign_role(incident.id, IC, CAROL, ALICE, later)
    assert previous == BOB
    assert updated.roles == {IC: CAROL}
    handover = (await store.timeline(incident.id))[-1]
    assert (handover.kind, handover.actor) == (EventKind.ROLE_ASSIGNED, ALICE)
    assert handover.data == {"role": IC, "user": CAROL, "previous": BOB, "handover": True}

    updated, previous = await store.assign_role(incident.id, SCRIBE, ALICE, ALICE, later)
    assert previous is None
    assert updated.roles == {IC: CAROL, SCRIBE: ALICE}
    first_holder = (await store.timeline(incident.id))[-1]
    assert first_holder.data == {"role": SCRIBE, "user": ALICE, "previous": None, "handover": False}

    _, previous = await store.assign_role(incident.id, SCRIBE, ALICE, ALICE, later)
    assert previous == ALICE
    assert (await store.timeline(incident.id))[-1].data["handover"] is False


async def test_one_user_can_hold_two_roles(store: IncidentStore) -> None:
    incident = await _declare(store)
    updated, _ = await store.assign_role(incident.id, SCRIBE, BOB, BOB, NOW)
    assert updated.roles == {IC: BOB, SCRIBE: BOB}
    assert sorted(updated.roles_of(BOB)) == [IC, SCRIBE]
    assert (await store.get(incident.id)) == updated


# --- queries -----------------------------------------------------------------------------------------


async def test_list_open_leaves_out_resolved_incidents(store: IncidentStore) -> None:
    first = await _declare(store, "k1", title="First")
    second = await _declare(store, "k2", title="Second")
    third = await _declare(store, "k3", title="Third", commander=CAROL)
    await store.assign_role(first.id, SCRIBE, CAROL, ALICE, NOW)
    await store.change(second.id, NOW, None, status=FINAL, resolved_at=NOW + timedelta(hours=1))
    await store.change(third.id, NOW, None, status="monitoring")
    assert [(i.id, i.status, i.roles) for i in await store.list_open(FINAL)] == [
        (first.id, "investigating", {IC: BOB, SCRIBE: CAROL}),
        (third.id, "monitoring", {IC: CAROL}),
    ]


async def test_listing_holds_the_open_and_the_recently_resolved_latest_first(store: IncidentStore) -> None:
    old, early, late, still_open = [await _declare(store, f"l{n}", title=f"T{n}") for n in range(4)]
    for incident, hours in ((old, -30), (early, 1), (late, 2)):
        await store.change(incident.id, NOW, None, status=FINAL, resolved_at=NOW + timedelta(hours=hours))
    open_incidents, resolved = await store.listing(FINAL, NOW - timedelta(hours=24))
    assert [(i.id, i.roles) for i in open_incidents] == [(still_open.id, {IC: BOB})]
    assert [i.id for i in resolved] == [late.id, early.id]
    assert all(i.resolved_at and i.resolved_at.tzinfo for i in resolved)


async def test_timeline_is_in_time_order(store: IncidentStore) -> None:
    incident = await _declare(store)
    other = await _declare(store, "k-other", title="Unrelated")
    await store.append(incident.id, NewEvent(EventKind.NOTE_ADDED, BOB, "late"), NOW + timedelta(minutes=20))
    await store.append(incident.id, NewEvent(EventKind.NOTE_ADDED, BOB, "early"), NOW + timedelta(minutes=5))
    await store.append(other.id, NewEvent(EventKind.NOTE_ADDED, BOB, "elsewhere"), NOW + timedelta(minutes=9))
    await store.append(
        incident.id, NewEvent(EventKind.NOTE_ADDED, BOB, "early, too"), NOW + timedelta(minutes=5)
    )
    events = await store.timeline(incident.id)
    assert [e.text for e in events] == ["Checkout is down", "early", "early, too", "late"]
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert all(e.occurred_at.utcoffset() == timedelta(0) for e in events)


async def test_by_channel_finds_the_incident_of_a_channel(store: IncidentStore) -> None:
    incident = await _declare(store)
    await _declare(store, "k-other", title="Unrelated")
    assert await store.by_channel("C0INC00001") is None
    await store.change(
        incident.id, NOW, None, channel_id="C0INC00001", channel_name="inc-20260301-1-checkout"
    )
    found = await store.by_channel("C0INC00001")
    assert found is not None
    assert (found.id, found.channel_name) == (incident.id, "inc-20260301-1-checkout")
    assert found.roles == {IC: BOB}
    assert await store.by_channel("C0NOTHERE0") is None
