"""A small, made-up resolved incident for `incidentbot config check`.

Renders an overridden `postmortem.md.j2` against facts with one event of each common kind, so a
broken template is caught before the first real post-mortem; not used when compiling real ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import EventKind, Incident, TimelineEvent
from bot.postmortem.facts import Facts
from bot.postmortem.store import ActionItem
from bot.settings import COMMANDER_ROLE, IncidentSettings


def sample_facts(config: IncidentSettings) -> Facts:
    """A small resolved incident with one event of the common kinds, for checking template overrides."""
    start = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    severity = config.severities[0].id
    service = config.services[0].id if config.services else None
    statuses = config.statuses
    incident = Incident(
        id=42,
        title="Checkout returns 502 for some users",
        severity=severity,
        status=config.resolved_status,
        summary="About 5% of checkout requests fail.",
        service=service,
        private=False,
        reporter="U0REPORTER",
        created_at=start,
        channel_id="C0INCIDENT",
        channel_name="inc-20260115-42-checkout",
        resolved_at=start + timedelta(minutes=65),
        resolution="Rolled back the deploy.",
        roles={COMMANDER_ROLE: "U0COMMANDER", "scribe": "U0SCRIBE"},
    )

    def at(minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    slo = {"id": "checkout/availability", "service": service, "objective": 0.995, "budget_remaining": 0.8}
    events = [
        TimelineEvent(1, 42, EventKind.DECLARED, "U0REPORTER", at(0), incident.title, {"severity": severity}),
        TimelineEvent(2, 42, EventKind.SLO_SNAPSHOT, None, at(1), "", {"moment": "declared", "slos": [slo]}),
        TimelineEvent(
            3,
            42,
            EventKind.PAGE_ACKED,
            "U0COMMANDER",
            at(4),
            "acknowledged",
            {"time_to_acknowledge_seconds": 240},
        ),
        TimelineEvent(4, 42, EventKind.MESSAGE_PINNED, "U0SCRIBE", at(10), "Deploy 1234 went out", {}),
        TimelineEvent(
            5,
            42,
            EventKind.STATUS_CHANGED,
            "U0COMMANDER",
            at(30),
            "",
            {"from": statuses[0], "to": statuses[-2]},
        ),
        TimelineEvent(
            6,
            42,
            EventKind.RUNBOOK_STEP_RUN,
            "U0COMMANDER",
            at(40),
            "",
            {"runbook": "rollback", "step": "undo", "passed": True, "exit_code": 0, "duration_s": 3.2},
        ),
        TimelineEvent(
            7,
            42,
            EventKind.SLO_SNAPSHOT,
            None,
            at(65),
            "",
            {"moment": "resolved", "slos": [{**slo, "budget_remaining": 0.7}]},
        ),
        TimelineEvent(8, 42, EventKind.RESOLVED, "U0COMMANDER", at(65), "Rolled back the deploy.", {}),
    ]
    action = ActionItem(
        1, 42, "Canary deploys for checkout", "U0COMMANDER", None, "open", "U0SCRIBE", at(70), None, None
    )
    narrative = {"summary": "A bad deploy broke checkout for an hour.", "whys": ["The deploy had a bug."]}
    return Facts(incident, events, narrative, [action], config, at(90))
