"""A plausible page (one incident with two updates, one maintenance) to render the templates with in
`incidentbot config check`: a misspelt variable in an override fails there, not during an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.statuspage.model import PUBLISHED, SLACK, Maintenance, PublicIncident, PublicUpdate
from bot.statuspage.settings import StatusPageConfig
from bot.statuspage.state import PageState


def sample_state(section: StatusPageConfig) -> tuple[PageState, PublicIncident]:
    now = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
    component = section.components[0].id if section.components else "api"
    updates = tuple(
        PublicUpdate(
            id=number,
            incident_id=42,
            state=PUBLISHED,
            status=status,
            title="Checkout errors",
            body=f"{status} text",
            components={component: "partial_outage"},
            impact="major",
            author="U0COMMANDER",
            approver="U0COMMANDER",
            source=SLACK,
            created_at=now - timedelta(minutes=60 - 20 * number),
            display_at=now - timedelta(minutes=60 - 20 * number),
        )
        for number, status in enumerate(("investigating", "identified"), start=1)
    )
    incident = PublicIncident(42, updates)
    maintenance = Maintenance(
        1, "Database upgrade", "Read-only for ten minutes.", (component,), now + timedelta(days=1),
        now + timedelta(days=1, hours=1), "U0OPS", now, SLACK,
    )  # fmt: skip
    return PageState(section, now, [incident], [maintenance], 1, now), incident
