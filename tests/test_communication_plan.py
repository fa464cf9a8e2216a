"""The rules that turn a timeline into each audience's deadlines (bot/communication/plan.py), on
hand-written timelines: what the summary, the reminders, the report and the post-mortem all rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.communication.plan import audience_plan, cadence
from bot.communication.settings import Audience
from bot.domain import EventKind, Incident, TimelineEvent

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
MANAGEMENT = Audience(first={"SEV1": "15m", "SEV2": "30m", "SEV3": "1d"}, every={"SEV1": "30m"})


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def incident(severity: str = "SEV1") -> Incident:
    return Incident(1, "Checkout down", severity, "investigating", "", None, False, "U0ALICE000", T0)


def event(n: int, kind: EventKind, at: int, **data: Any) -> TimelineEvent:
    return TimelineEvent(n, 1, kind, None, minutes(at), "", data)


def told(n: int, at: int, **data: Any) -> TimelineEvent:
    return event(n, EventKind.AUDIENCE_TOLD, at, audience="management", **data)


def test_first_deadline_then_the_cadence_then_a_promise_sets_the_next_one() -> None:
    plan = audience_plan("management", MANAGEMENT, incident(), [], False)
    assert plan is not None and plan.due == minutes(15) and plan.first_told is None

    plan = audience_plan("management", MANAGEMENT, incident(), [told(1, 3, notice="declared")], False)
    assert plan is not None and plan.met_first is True and plan.due == minutes(33)  # every 30 min

    promised = told(2, 10, notice="update", next_update_minutes=10)
    plan = audience_plan("management", MANAGEMENT, incident(), [told(1, 3), promised], False)
    assert plan is not None and plan.due == minutes(20)

    resolved = audience_plan("management", MANAGEMENT, incident(), [told(1, 3)], True)
    assert resolved is not None and resolved.due is None


def test_a_raise_brings_the_deadline_forward_and_a_lowering_keeps_the_earlier_one() -> None:
    raised = event(1, EventKind.SEVERITY_CHANGED, 5, **{"from": "SEV3", "to": "SEV1", "direction": "up"})
    plan = audience_plan("management", MANAGEMENT, incident("SEV1"), [raised], False)
    assert plan is not None and plan.first_due == minutes(20)  # 5 + 15 min, earlier than SEV3's day

    lowered = event(1, EventKind.SEVERITY_CHANGED, 5, **{"from": "SEV1", "to": "SEV2", "direction": "down"})
    plan = audience_plan("management", MANAGEMENT, incident("SEV2"), [lowered], False)
    assert plan is not None and plan.first_due == minutes(15)


def test_an_audience_the_severity_does_not_concern_has_no_plan() -> None:
    assert audience_plan("management", MANAGEMENT, incident("SEV4"), [], False) is None


def test_a_late_first_notice_is_missed_and_cadence_counts_every_gap() -> None:
    timeline = [told(1, 20), told(2, 45), told(3, 90)]
    plan = audience_plan("management", MANAGEMENT, incident(), timeline, False)
    assert plan is not None and plan.met_first is False
    # gaps 25 (kept), 45 (late), and 90 → 100 at the end (kept)
    result = cadence(plan, "SEV1", minutes(100))
    assert (result.kept, result.missed) == (2, 1)


def test_a_notice_within_the_deadlines_minute_is_on_time() -> None:
    """A 15 min deadline met at 15:30 (deadlines are minutes), missed at 16:00; likewise a 0m audience's
    automatic notice, a second after the declaration, is on time."""
    plan = audience_plan("management", MANAGEMENT, incident(), [told(1, 15.5)], False)
    assert plan is not None and plan.met_first is True
    late = audience_plan("management", MANAGEMENT, incident(), [told(1, 16)], False)
    assert late is not None and late.met_first is False
