"""The config's `catalog:` section (and the files of `catalog_dir`): components and failure scenarios.

A component is a service the bot knows more about: who owns it, how critical it is (tier 1–4), what it
promises (SLA, RTO, RPO), who is on call for it, which SLOs and runbooks belong to it, what it depends on.
A component whose id is one of `services` extends that service; any other becomes a service too, so the
declare form's picker and every `settings.service(id)` caller read the catalog without knowing of it.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from bot.settings import Duration, Link, Service, Strict

TIERS = {1: "critical", 2: "important", 3: "supporting", 4: "best effort"}
"""What each tier means to whoever reads the card (tier 1: the business stops without it)."""

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class Owner(Strict):
    """The team that owns a component: told at declare, paged through its schedule."""

    team: str = Field(min_length=1)
    """The team's name (a Backstage `Group`)."""
    slack_channel: str | None = None
    """Channel id told (one message with the incident link) when an incident is declared on the component."""
    usergroup: str | None = None
    """Slack user group id (S…) of the team, shown on the service card."""


class Component(Strict):
    id: str
    name: str = ""
    """Shown in the picker and on the card (default: the id)."""
    description: str = ""
    owner: Owner | None = None
    system: str | None = None
    """The system the component belongs to (Backstage `spec.system`)."""
    lifecycle: str = "production"
    """Backstage's lifecycle: production, experimental, deprecated (shown on the card)."""
    tier: int | None = Field(None, ge=1, le=4)
    sla: float | None = Field(None, gt=0, le=100)
    """Availability target in percent (99.95)."""
    rto: Duration | None = None
    """Recovery time objective: an incident on the component should be resolved within this time of its
    declaration; the summary counts down to it and a breach is told to management."""
    rpo: Duration | None = None
    """Recovery point objective: the most data (as time) a recovery may lose."""
    oncall: str | None = None
    """The on-call schedule (`oncall.schedules`) paged when an incident is declared on the component."""
    slos: list[str] = []
    """SLO ids (`service/name`, as `incidentbot slo list` shows them)."""
    runbooks: list[str] = []
    """Runbook names."""
    status_component: str | None = None
    """The status page component (`status_page.components`)."""
    depends_on: list[str] = []
    """Component or service ids this one needs; an incident here puts its dependents at risk."""
    responders: list[str] = []
    """Slack user ids invited to the channel (as a service's `responders`)."""
    annotations: dict[str, str] = {}
    """Free-form facts (Backstage annotations: `pagerduty.com/service-id`, `github.com/project-slug`…)."""
    links: list[Link] = []
    """Bookmarked in the channel of every incident on the component, and listed on its card."""

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r}: use lowercase letters, digits, '-', '_' and '.'")
        return value

    @property
    def title(self) -> str:
        return self.name or self.id

    def as_service(self, existing: Service | None) -> Service:
        """The service the picker shows: an existing service extended (its own fields win), or a new one."""
        if existing is None:
            return Service(
                id=self.id,
                name=self.title,
                description=self.description,
                responders=self.responders,
                status_component=self.status_component,
                links=self.links,
            )
        known = {link.url for link in existing.links}
        return existing.model_copy(
            update={
                "description": existing.description or self.description,
                "responders": list(dict.fromkeys([*existing.responders, *self.responders])),
                "status_component": existing.status_component or self.status_component,
                "links": [*existing.links, *(link for link in self.links if link.url not in known)],
            }
        )


class Scenario(Strict):
    """A failure scenario and its recovery targets (the seeds' ten: database down, high latency, …)."""

    name: str = Field(min_length=1)
    description: str = ""
    components: list[str] = []
    rto: Duration
    rpo: Duration | None = None
    runbook: str | None = None


class CatalogConfig(Strict):
    components: list[Component] = []
    scenarios: list[Scenario] = []
    rto_audiences: list[str] = ["management"]
    """Communication audiences told when an incident outlasts its service's RTO (besides the channel);
    names that are not in `communication.audiences` are skipped."""

    def component(self, component_id: str | None) -> Component | None:
        return next((c for c in self.components if c.id == component_id), None)

    def merged(self, other: CatalogConfig) -> CatalogConfig:
        """This section with the components and scenarios of `other` (the files of `catalog_dir`)."""
        return self.model_copy(
            update={
                "components": [*self.components, *other.components],
                "scenarios": [*self.scenarios, *other.scenarios],
            }
        )


def catalog_services(services: list[Service], catalog: CatalogConfig) -> list[Service]:
    """`services` with every catalog component folded in: the same order, new ones at the end."""
    by_id = {s.id: s for s in services}
    for component in catalog.components:
        by_id[component.id] = component.as_service(by_id.get(component.id))
    return list(by_id.values())
