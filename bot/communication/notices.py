"""What an audience is told, as plain data the templates render: one `Notice` per message of a thread.

Private incidents are redacted here, before any template sees them: a team's own template cannot leak
a private incident's title or details to management by naming `incident.title`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain import Incident

DECLARED, RAISED, UPDATE, FINAL = "declared", "raised", "update", "final"
NOTICES = (DECLARED, RAISED, UPDATE, FINAL)
PRIVATE_TITLE = "Private incident"
PRIVATE_TEXT = "Details of private incidents stay with the responders; ask the Incident Commander."


@dataclass(frozen=True)
class Notice:
    """One message to an audience. `kind`: declared (told at declare), raised (the severity rose into
    the audience's matrix), update (a status update ticked for it), final (the incident is resolved)."""

    kind: str
    incident: Incident
    now: datetime
    status: str
    known: str = ""
    doing: str = ""
    next_update_minutes: int | None = None
    resolution: str = ""
    previous_severity: str | None = None
    redacted: bool = False

    @property
    def headline(self) -> str:
        return {
            DECLARED: "Incident declared",
            RAISED: "Severity raised",
            UPDATE: "Status update",
            FINAL: "Resolved",
        }[self.kind]


def hidden(incident: Incident) -> Incident:
    """A private incident as audiences other than engineering may see it: reference, severity, status and
    times, no title, summary or service."""
    return replace(incident, title=PRIVATE_TITLE, summary=PRIVATE_TEXT, service=None)


def for_audience(notice: Notice, sees_private: bool) -> Notice:
    """The notice as this audience may read it: a private incident's title, summary, service and texts
    replaced for everyone who does not see private incidents (all but engineering)."""
    if not notice.incident.private or sees_private:
        return notice
    return replace(
        notice,
        incident=hidden(notice.incident),
        known=PRIVATE_TEXT if notice.known else "",
        doing="",
        resolution=PRIVATE_TEXT if notice.resolution else "",
        redacted=True,
    )


def subject(notice: Notice) -> str:
    """Severity and reference first, so an inbox sorted by subject groups an incident's thread."""
    incident = notice.incident
    return f"[{incident.severity}] {incident.reference}: {incident.title} — {notice.headline}"
