"""Escalation policies: what the YAML may say, and the walk from any position (pure, no database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bot.config import AppConfig
from bot.oncall.escalation import Position, next_notify, walk
from bot.oncall.settings import OnCallConfig, Step

SCHEDULE = {
    "id": "primary",
    "name": "Primary",
    "timezone": "UTC",
    "layers": [{"name": "all", "users": ["U1"], "rotation": "daily", "start": "2026-01-01"}],
}


def steps(*raw: dict[str, Any]) -> list[Step]:
    return [Step.model_validate(step) for step in raw]


POLICY = steps(
    {"notify": {"schedule": "primary"}},  # 1
    {"wait": "5m"},  # 2
    {"notify": {"users": ["U2", "U3"]}},  # 3
    {"notify": {"role": "incident_commander"}},  # 4
    {"wait": "10m"},  # 5
    {"notify": {"usergroup": "S1"}},  # 6
    {"repeat": {"from_step": 3, "times": 2}},  # 7
)


def targets(plan_notifies: list[tuple[int, Any]]) -> list[int]:
    return [index + 1 for index, _ in plan_notifies]


def test_walk_pages_until_a_wait_and_resumes_after_it() -> None:
    first = walk(POLICY, Position(0, 0))
    assert targets(first.notifies) == [1] and first.resume == Position(0, 2)
    assert first.wait == timedelta(minutes=5)
    second = walk(POLICY, first.resume)
    assert targets(second.notifies) == [3, 4] and second.resume == Position(0, 5)
    assert second.wait == timedelta(minutes=10)


def test_repeat_goes_back_a_bounded_number_of_times() -> None:
    plan = walk(POLICY, Position(0, 5))
    # step 6, then repeat to step 3 (round 1): 3, 4, then the 10 min wait
    assert targets(plan.notifies) == [6, 3, 4] and plan.resume == Position(1, 5)
    plan = walk(POLICY, Position(1, 5))
    assert targets(plan.notifies) == [6, 3, 4] and plan.resume == Position(2, 5)
    plan = walk(POLICY, Position(2, 5))
    assert targets(plan.notifies) == [6] and plan.resume is None  # repeated twice: the policy has run out


def test_a_repeat_without_a_wait_still_ends() -> None:
    policy = steps({"notify": {"users": ["U1"]}}, {"repeat": {"from_step": 1, "times": 3}})
    plan = walk(policy, Position(0, 0))
    assert len(plan.notifies) == 4 and plan.resume is None


def test_escalate_now_jumps_to_the_next_notify_step() -> None:
    assert next_notify(POLICY, Position(0, 1)) == Position(0, 2)
    assert next_notify(POLICY, Position(0, 4)) == Position(0, 5)
    assert next_notify(POLICY, Position(0, 6)) == Position(1, 2)  # through the repeat
    assert next_notify(POLICY, Position(2, 6)) is None


@pytest.mark.parametrize(
    ("escalation", "message"),
    [
        ({"SEV1": [{"notify": {"schedule": "nightshift"}}]}, "unknown schedule 'nightshift'"),
        ({"SEV1": [{"wait": "5m"}]}, "needs at least one notify step"),
        (
            {"SEV1": [{"notify": {"schedule": "primary"}, "wait": "5m"}]},
            "exactly one of notify, wait or repeat",
        ),
        ({"SEV1": [{"notify": {"users": ["U1"], "role": "scribe"}}]}, "exactly one of schedule, users"),
        ({"SEV1": [{"notify": {"users": ["U1"]}}, {"repeat": {"from_step": 2, "times": 1}}]}, "earlier step"),
        ({"SEV1": [{"notify": {"users": ["U1"]}}, {"wait": "soon"}]}, "is not a duration"),
        (
            {"SEV1": [{"notify": {"users": ["U1"]}}, {"repeat": {"from_step": 1, "times": 99}}]},
            "less than or equal",
        ),
    ],
)
def test_invalid_policies_say_where_and_why(escalation: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OnCallConfig.model_validate({"schedules": [SCHEDULE], "escalation": escalation})


def test_policies_must_name_configured_severities_and_roles() -> None:
    oncall = {"schedules": [SCHEDULE], "escalation": {"SEV9": [{"notify": {"role": "wizard"}}]}}
    with pytest.raises(ValidationError) as caught:
        AppConfig.model_validate({"oncall": oncall})
    text = str(caught.value)
    assert "unknown severity 'SEV9'" in text and "unknown role 'wizard'" in text
