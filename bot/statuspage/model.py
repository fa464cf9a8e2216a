"""What the status page is made of: public updates, scheduled maintenance, and each incident's public
history. Plain data; the store reads it, the renderers read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.statuspage.settings import COMPONENT_STATUSES

PENDING, PUBLISHED, REJECTED = "pending", "published", "rejected"
"""States of a public update: asked for approval, public, refused by the approver."""
SLACK, CLI = "slack", "cli"
OPERATIONAL, MAINTENANCE = "operational", "under_maintenance"
RESOLVED = "resolved"


def worst(statuses: list[str]) -> str:
    """The most harmful component status of several (operational when there are none)."""
    known = [s for s in statuses if s in COMPONENT_STATUSES]
    return max(known, key=COMPONENT_STATUSES.index, default=OPERATIONAL)


@dataclass(frozen=True)
class PublicDraft:
    """What a person wants the public to read: the Statuspage status, a title, the text, and the
    components this update sets (component id → status)."""

    status: str
    title: str
    body: str
    components: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PublicUpdate:
    id: int
    incident_id: int
    state: str
    status: str
    title: str
    body: str
    components: dict[str, str]
    impact: str
    author: str
    approver: str | None
    source: str
    created_at: datetime
    display_at: datetime | None
    decided_at: datetime | None = None
    edited: bool = False
    request_channel: str | None = None
    request_ts: str | None = None

    def draft(self) -> PublicDraft:
        return PublicDraft(self.status, self.title, self.body, dict(self.components))


@dataclass(frozen=True)
class AffectedComponent:
    """A component an update changed, as Statuspage's `affected_components` spell it."""

    code: str
    name: str
    old_status: str
    new_status: str


@dataclass(frozen=True)
class PublicIncident:
    """One incident as the public knows it: only its published updates, oldest first."""

    id: int
    updates: tuple[PublicUpdate, ...]

    @property
    def latest(self) -> PublicUpdate:
        return self.updates[-1]

    @property
    def name(self) -> str:
        return self.latest.title

    @property
    def status(self) -> str:
        return self.latest.status

    @property
    def impact(self) -> str:
        return self.latest.impact

    @property
    def resolved(self) -> bool:
        return self.status in (RESOLVED, "postmortem")

    @property
    def created_at(self) -> datetime:
        return self.updates[0].display_at or self.updates[0].created_at

    @property
    def updated_at(self) -> datetime:
        return self.latest.display_at or self.latest.created_at

    @property
    def resolved_at(self) -> datetime | None:
        resolved = [u for u in self.updates if u.status == RESOLVED]
        return (resolved[-1].display_at if resolved else None) if self.resolved else None

    @property
    def monitoring_at(self) -> datetime | None:
        return next((u.display_at for u in self.updates if u.status == "monitoring"), None)

    def component_statuses(self, upto: int | None = None) -> dict[str, str]:
        """Component id → status this incident holds it in after its update `upto` (index; default the
        last); a resolved incident holds every component operational again."""
        statuses: dict[str, str] = {}
        chosen = self.updates if upto is None else self.updates[: upto + 1]
        for update in chosen:
            statuses.update(update.components)
            if update.status in (RESOLVED, "postmortem"):
                statuses = dict.fromkeys(statuses, OPERATIONAL)
        return statuses

    def affected(self, index: int, names: dict[str, str]) -> list[AffectedComponent]:
        """What update `index` changed, with the status each component had in this incident before."""
        before = self.component_statuses(index - 1) if index > 0 else {}
        after = self.component_statuses(index)
        return [
            AffectedComponent(code, names.get(code, code), before.get(code, OPERATIONAL), status)
            for code, status in after.items()
            if code in self.updates[index].components or before.get(code, OPERATIONAL) != status
        ]


@dataclass(frozen=True)
class Maintenance:
    id: int
    title: str
    body: str
    components: tuple[str, ...]
    scheduled_for: datetime
    scheduled_until: datetime
    created_by: str
    created_at: datetime
    source: str
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None

    def status(self, now: datetime) -> str:
        """Statuspage's maintenance status at `now` (a cancelled one is `completed` in the JSON and left off
        the page)."""
        if self.cancelled_at is not None or now >= self.scheduled_until:
            return "completed"
        return "in_progress" if now >= self.scheduled_for else "scheduled"

    def active(self, now: datetime) -> bool:
        return self.status(now) == "in_progress"


@dataclass(frozen=True)
class Publication:
    """One public update just made public, for the echo in Slack and for listeners (a push to Atlassian's
    Statuspage): the update, what it changed, and where the public reads it."""

    update: PublicUpdate
    incident: PublicIncident
    affected: tuple[AffectedComponent, ...]
    url: str
