"""The config file's `status_page:` section.

In a module of its own, importing nothing but `bot.settings`, so `bot/config/app.py` can compose it.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from bot.settings import Strict, known_zone

IMPACTS = ("none", "minor", "major", "critical")
"""Statuspage's incident `impact` enum, in rising order."""
COMPONENT_STATUSES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)
"""Statuspage's component `status` enum, in rising order of harm (maintenance is planned, so lowest)."""
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
"""Statuspage's incident `status` enum, in order."""


class Component(Strict):
    id: str
    name: str
    description: str = ""
    group: str | None = None
    """Components with the same group are shown together under its name."""
    showcase: bool = False
    """Show its 90-day uptime bar."""
    only_show_if_degraded: bool = False
    uptime_slo: str | None = None
    """An SLO (its id, `service/name`, e.g. `checkout/availability`) whose SLI gives this component's
    daily uptime, from Prometheus, instead of the time the public updates held it down."""

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,59}", value):
            raise ValueError(f"component id {value!r} must be lowercase letters, digits, - or _")
        return value


class AtlassianPush(Strict):
    """Push every public update to a hosted Atlassian Statuspage too (its API key from the environment,
    INCIDENTBOT_STATUSPAGE_API_KEY)."""

    page_id: str
    api_url: str = "https://api.statuspage.io/v1"
    components: dict[str, str] = {}
    """Our component id -> the hosted page's component id; components not named stay off the hosted page."""
    notify: bool = True
    """Let Statuspage e-mail and text its own subscribers on each update (`deliver_notifications`)."""
    retry_seconds: int = Field(60, ge=1, le=3600)
    """Wait before trying again when Statuspage is down or busy (a 429's Retry-After wins)."""
    give_up_after: int = Field(24 * 3600, ge=60)
    """Seconds after which an update Statuspage never took is left there (and said so in the channel)."""


DEFAULT_IMPACT = {"SEV1": "critical", "SEV2": "major", "SEV3": "minor", "SEV4": "none"}


class StatusPageConfig(Strict):
    enabled: bool = False
    title: str = "Status"
    url: str = "http://127.0.0.1:3000"
    """Public base URL of the page (links in Slack, the feeds and the JSON)."""
    time_zone: str = "UTC"
    components: list[Component] = []
    export_dir: Path | None = None
    """Write the static site here after every change (relative to the config file)."""
    impact: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_IMPACT))
    """Severity id → Statuspage impact; a severity not named has impact `minor`."""
    approver_roles: list[str] = ["communications_lead"]
    """Holders of these roles (besides the Incident Commander) publish without asking for approval."""
    history_days: int = Field(14, ge=1, le=90)
    """Past incidents shown on the page."""
    uptime_days: int = Field(90, ge=7, le=365)
    atlassian: AtlassianPush | None = None

    @property
    def page_url(self) -> str:
        """The public page itself (`/status`), as links in mails and bookmarks name it."""
        return f"{self.url}/status"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("impact")
    @classmethod
    def _impacts(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = {k: v for k, v in value.items() if v not in IMPACTS}
        if wrong:
            raise ValueError(f"impact must be one of {', '.join(IMPACTS)}: {wrong}")
        return value

    @model_validator(mode="after")
    def _unique(self) -> StatusPageConfig:
        ids = [c.id for c in self.components]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"components: duplicate id {', '.join(dupes)}")
        return self

    def component(self, component_id: str) -> Component | None:
        return next((c for c in self.components if c.id == component_id), None)

    def impact_of(self, severity: str) -> str:
        return self.impact.get(severity, "minor")

    def problems(self, severities: list[str], roles: list[str], services: dict[str, str | None]) -> list[str]:
        """Names the section uses that the rest of the config does not know. The defaults of `impact` and
        `approver_roles` name the default severities and roles: only names someone wrote are checked."""
        written = self.model_fields_set
        impact = self.impact if "impact" in written else {}
        approvers = self.approver_roles if "approver_roles" in written else []
        found = [f"status_page.impact: unknown severity {s!r}" for s in impact if s not in severities]
        found += [f"status_page.approver_roles: unknown role {r!r}" for r in approvers if r not in roles]
        for service, component in services.items():
            if component is not None and self.component(component) is None:
                found.append(f"services.{service}.status_component: no status_page component {component!r}")
        for component in self.atlassian.components if self.atlassian else {}:
            if self.component(component) is None:
                found.append(f"status_page.atlassian.components: no status_page component {component!r}")
        return found
