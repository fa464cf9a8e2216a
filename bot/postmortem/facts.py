"""What a post-mortem is compiled from: the `Facts`, the narrative sections people write, and the
normalising every output starts with (aware times, events in order).

Shared by the Markdown document (`compile`), the Slack summary (`summary`) and the figures
(`figures`), so each of those reads the same facts the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.domain import AudienceRecord, Incident, TimelineEvent, slugify
from bot.postmortem.store import DRAFT, ActionItem
from bot.postmortem.timeline import aware
from bot.settings import IncidentSettings

WHYS = 5


@dataclass(frozen=True)
class NarrativeField:
    heading: str
    prompt: str
    kind: Literal["text", "list", "datetime"] = "text"


NARRATIVE: dict[str, NarrativeField] = {
    "summary": NarrativeField(
        "Summary", "what happened, its impact and how it ended, in a few sentences a newcomer understands."
    ),
    "impact_users": NarrativeField("Impact on users", "who was affected, how, and how many?"),
    "impact_business": NarrativeField(
        "Business impact", "what did it cost: revenue, SLA credits, support load, reputation?"
    ),
    "impact_technical": NarrativeField(
        "Technical impact", "which systems degraded or failed, and was any data lost or delayed?"
    ),
    "impact_started_at": NarrativeField(
        "Impact started at",
        "when users were first affected (ISO time with offset, e.g. 2026-11-24T09:58:00+01:00).",
        "datetime",
    ),
    "root_cause": NarrativeField(
        "Root cause", "which condition in the system let this happen? Systems and processes, not people."
    ),
    "whys": NarrativeField(
        "Five whys", "why did it happen? Ask why of each answer, up to five times.", "list"
    ),
    "contributing_factors": NarrativeField(
        "Contributing factors", "what made it more likely, worse, longer, or harder to detect?"
    ),
    "lessons_went_well": NarrativeField("What went well", "what helped: tools, people, practices to keep?"),
    "lessons_went_wrong": NarrativeField("What went wrong", "what slowed detection, response or recovery?"),
    "lessons_lucky": NarrativeField(
        "Where we got lucky", "what kept it from being worse that we cannot count on next time?"
    ),
    "prevention": NarrativeField(
        "Prevention", "what will stop this from happening again, or make it smaller and shorter?"
    ),
}
"""The sections people write (in the modal), in document order: key -> heading and the prompt shown while
it is empty."""


def unwritten(narrative: dict[str, Any]) -> list[str]:
    """Headings of the sections people have not written yet (the impact start is a time, not a section)."""
    empty = []
    for key, spec in NARRATIVE.items():
        value = narrative.get(key)
        if spec.kind == "list":
            if not any(str(item).strip() for item in value or []):
                empty.append(spec.heading)
        elif spec.kind == "text" and not str(value or "").strip():
            empty.append(spec.heading)
    return empty


WHY_PROMPTS = (
    "why did the incident happen?",
    "why did that happen?",
    "and why did that happen?",
    "why was that possible?",
    "why was that not prevented or caught earlier?",
)


@dataclass(frozen=True)
class Facts:
    incident: Incident
    events: list[TimelineEvent]
    narrative: dict[str, Any]
    actions: list[ActionItem]
    config: IncidentSettings
    now: datetime
    status: str = DRAFT
    """The post-mortem's own status: draft, reviewed, published."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Slack user id -> display name, when the caller looked them up; ids are shown as `@U…` otherwise."""
    communication: tuple[AudienceRecord, ...] = ()
    """The communication plan's audiences: who was told when (derived by the caller from the timeline)."""


def file_name(incident: Incident, zone: ZoneInfo | Any) -> str:
    """`2026-11-24-inc-12-checkout-is-down.md`: the local date of the declaration, the reference and the
    title's slug, so every recompile of an incident writes the same file (until its title changes)."""
    day = aware(incident.created_at).astimezone(zone).date().isoformat()
    return f"{day}-{incident.reference.lower()}-{slugify(incident.title)}.md"


def ordered_events(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    fixed = [
        e if e.occurred_at.tzinfo else dataclasses.replace(e, occurred_at=aware(e.occurred_at))
        for e in events
    ]
    return sorted(fixed, key=lambda e: (e.occurred_at, e.id))


def normalized_incident(incident: Incident) -> Incident:
    changes = {
        name: aware(value)
        for name in ("created_at", "resolved_at")
        if (value := getattr(incident, name)) is not None and value.tzinfo is None
    }
    return dataclasses.replace(incident, **changes) if changes else incident
