"""What the bot did by itself, as the post-mortem's timeline reads it: each kind rendered from its data,
user text escaped, and a kind with odd data still printing a line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import load_config
from bot.domain import EventKind, Incident, TimelineEvent
from bot.postmortem.timeline import Describer
from tests.fixtures_bot import ALICE, EXAMPLE_CONFIG

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def describer() -> Describer:
    config = load_config(EXAMPLE_CONFIG)
    incident = Incident(1, "Checkout down", "SEV1", "investigating", "", "checkout", False, ALICE, AT)
    return Describer(config, incident, {ALICE: "alice"})


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            EventKind.RTO_BREACHED,
            {"service": "api", "rto_seconds": 1800},
            "**RTO breached**: api down longer than its RTO (30 min)",
        ),
        (
            EventKind.SERVICE_TARGETS,
            {"service": "api", "tier": 1, "rto_seconds": 900, "sla": "99.95"},
            "Service targets of api at declare: tier 1, RTO 15 min, SLA 99.95",
        ),
        (
            EventKind.OWNER_TEAM_TOLD,
            {"service": "api", "team": "platform"},
            "Owner team of api told (platform)",
        ),
        (
            EventKind.AT_RISK_ADDED,
            {"components": ["booking", "checkout"]},
            "Components at risk added to the status page draft: booking, checkout",
        ),
        (
            EventKind.DEPLOY_RECORDED,
            {
                "service": "api",
                "version": "v2",
                "previous": "v1",
                "environment": "production",
                "status": "success",
            },
            "Deploy during the incident: **api v2** (from v1) (production, success)",
        ),
        (
            EventKind.CHANGE_SUSPECTED,
            {"service": "api", "version": "v2", "canary_percent": 25},
            "Marked **api v2** at canary 25 % as the **suspected cause**",
        ),
        (
            EventKind.FIELD_SET,
            {"field": "customer_impact", "value": "true"},
            "Field `customer_impact` set to `true`",
        ),
        (
            EventKind.RTO_BREACHED,
            {"service": "*bold*"},
            "**RTO breached**: \\*bold\\* down longer than its RTO (?)",
        ),
    ],
)
def test_each_kind_reads_as_a_sentence(
    describer: Describer, kind: EventKind, data: dict, expected: str
) -> None:  # type: ignore[type-arg]
    entry = describer.entry(TimelineEvent(1, 1, kind, None, AT, "", data))
    assert entry.what == expected
    assert entry.who == "incidentbot"
