"""The page at one moment: which components are how, the overall indicator, what is active, upcoming and
past. Computed once per change from the stored records; every renderer (HTML, JSON, feeds, text) reads it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from bot.statuspage import uptime
from bot.statuspage.model import MAINTENANCE, Maintenance, PublicIncident, worst
from bot.statuspage.settings import Component, StatusPageConfig

INDICATOR_OF_STATUS = {
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
INDICATORS = ("none", "minor", "major", "critical")
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
STATUS_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded Performance",
    "partial_outage": "Partial Outage",
    "major_outage": "Major Outage",
    "under_maintenance": "Under Maintenance",
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "postmortem": "Postmortem",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "verifying": "Verifying",
    "completed": "Completed",
}


def label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Group:
    name: str | None
    components: list[Component]


@dataclass
class PageState:
    config: StatusPageConfig
    now: datetime
    incidents: list[PublicIncident]
    """Public incidents, the most recently updated first."""
    maintenances: list[Maintenance]
    revision: int = 0
    changed_at: datetime | None = None
    sli: dict[str, dict[date, float | None]] = field(default_factory=dict)
    """Component -> day -> uptime from its `uptime_slo` (see `SliUptime`)."""
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.time_zone)

    @property
    def page_id(self) -> str:
        """Stable per public URL, as Statuspage's page ids are per page."""
        return hashlib.sha256(self.config.url.encode()).hexdigest()[:12]

    @property
    def updated_at(self) -> datetime:
        return self.changed_at or self.now

    @cached_property
    def unresolved(self) -> list[PublicIncident]:
        return [i for i in self.incidents if not i.resolved]

    @cached_property
    def past(self) -> list[PublicIncident]:
        since = self.now - timedelta(days=self.config.history_days)
        return [i for i in self.incidents if i.resolved and i.updated_at >= since]

    @cached_property
    def visible_maintenances(self) -> list[Maintenance]:
        return [m for m in self.maintenances if m.cancelled_at is None]

    def maintenances_in(self, *statuses: str) -> list[Maintenance]:
        return [m for m in self.visible_maintenances if m.status(self.now) in statuses]

    @cached_property
    def component_statuses(self) -> dict[str, str]:
        held: dict[str, list[str]] = {c.id: [] for c in self.config.components}
        for incident in self.unresolved:
            for component, status in incident.component_statuses().items():
                held.setdefault(component, []).append(status)
        for maintenance in self.maintenances_in("in_progress"):
            for component in maintenance.components:
                held.setdefault(component, []).append(MAINTENANCE)
        return {component: worst(statuses) for component, statuses in held.items()}

    def status_of(self, component: str) -> str:
        return self.component_statuses.get(component, "operational")

    def component_changed_at(self, component: str) -> datetime:
        moments = [
            u.display_at
            for i in self.incidents
            for u in i.updates
            if u.display_at is not None and component in u.components
        ]
        return max(moments, default=self.updated_at)

    @cached_property
    def indicator(self) -> str:
        found = [i.impact for i in self.unresolved]
        found += [INDICATOR_OF_STATUS.get(s, "none") for s in self.component_statuses.values()]
        return max(found, key=INDICATORS.index, default="none")

    @property
    def description(self) -> str:
        if self.indicator == "none" and self.maintenances_in("in_progress"):
            return "Service Under Maintenance"
        return DESCRIPTIONS[self.indicator]

    def groups(self) -> list[Group]:
        """Components in config order, grouped (a group sits where its first component is); a component
        shown only when degraded is left out while it is operational."""
        groups: dict[str | None, list[Component]] = {}
        order: list[str | None] = []
        for component in self.config.components:
            if component.only_show_if_degraded and self.status_of(component.id) == "operational":
                continue
            key = component.group if component.group else f"\0{component.id}"
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(component)
        return [Group(k if k and not k.startswith("\0") else None, groups[k]) for k in order]

    def uptime_days(self, component: str) -> list[uptime.Day]:
        key = f"uptime:{component}"
        if key not in self._cache:
            self._cache[key] = uptime.days(
                self.incidents,
                self.maintenances,
                component,
                self.now,
                self.zone,
                self.config.uptime_days,
                self.sli.get(component),
            )
        return self._cache[key]  # type: ignore[return-value]

    def component_names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.config.components}

    def valid_until(self) -> datetime:
        """When this state goes stale without a change: a maintenance starts or ends, or the day turns
        (the uptime bars move on)."""
        local = self.now.astimezone(self.zone)
        moments = [datetime.combine(local.date() + timedelta(days=1), time(), self.zone)]
        for m in self.visible_maintenances:
            moments += [t for t in (m.scheduled_for, m.scheduled_until) if t > self.now]
        return min(moments)
