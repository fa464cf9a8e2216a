"""Settings that every part of the bot shares: the building blocks of config sections (durations, zones,
strict models) and the incident's own settings (severities, roles, services, statuses, channels).

A leaf: domain packages type their settings against `IncidentSettings` and their own section models, so
they never import `bot.config`, which composes them all and is the only place that reads files.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """Accept `5m`, `1h`, `24h`, `7d` (what people write in YAML) as well as seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 30s, 5m, 1h, 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from exc
    return value


class Strict(BaseModel):
    """Config sections refuse unknown keys (typos) and are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)


class ConfigError(Exception):
    """A config problem worded for the person who wrote the file."""


class Severity(Strict):
    id: str
    name: str
    description: str
    response_target: Duration
    """Time to acknowledge a page; met or missed is recorded on the timeline."""
    update_every: Duration | None = None
    """Nag the Incident Commander when no status update was posted for this long (None: never)."""

    @property
    def label(self) -> str:
        return f"{self.id} · {self.name}"


class Role(Strict):
    id: str
    name: str
    description: str = ""


_LINK_FIELDS = {"reference": "INC-1", "id": "1", "severity": "sev1", "service": "checkout"}


class Link(Strict):
    """A channel bookmark: the service's dashboard or logs, a video bridge per incident."""

    title: str = Field(min_length=1, max_length=80)
    url: str
    """http(s) URL; `{reference}`, `{id}`, `{severity}` and `{service}` are filled in per incident."""

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s]+$", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        try:
            value.format(**_LINK_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"unknown placeholder {exc}; use {{reference}} {{id}} {{severity}} {{service}}"
            ) from exc
        return value

    def for_incident(self, reference: str, incident_id: int, severity: str, service: str | None) -> str:
        fields = {
            "reference": reference,
            "id": incident_id,
            "severity": severity.lower(),
            "service": service or "",
        }
        return self.url.format(**fields)


class Service(Strict):
    id: str
    name: str
    description: str = ""
    responders: list[str] = []
    """Slack user ids invited to the channel when this service is affected."""
    status_component: str | None = None
    """The public status page component this service is (`status_page.components`): a public update of
    an incident on this service preselects it."""
    links: list[Link] = []
    """Bookmarked in the channel of every incident on this service (dashboard, logs, …)."""


class Channels(Strict):
    announcements: str | None = None
    """Channel id where each incident gets one announcement message, edited in place."""
    management: str | None = None
    """Channel id for the management-summary audience of status updates."""
    source_notice: list[str] | None = None
    """Severities whose declaration is posted visibly in the channel it was declared from (None: every
    severity; []: none). A private incident's title is never shown there."""
    name_pattern: str = "inc-{date}-{id}-{slug}"
    """Incident channel name; placeholders: {date} (yyyymmdd), {id}, {slug}, {severity}."""
    archive_after_days: int = Field(30, ge=0, le=3650)
    """A resolved incident's channel is archived this many days after the resolution (0: never), with a
    notice and a Keep button a day before; the record, the post-mortem and the announcement stay."""

    @field_validator("name_pattern")
    @classmethod
    def _needs_id(cls, value: str) -> str:
        if "{id}" not in value:
            raise ValueError("must contain {id} so every incident gets its own channel")
        try:
            value.format(date="20260101", id=1, slug="x", severity="sev1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"unknown placeholder {exc}; use {{date}} {{id}} {{slug}} {{severity}}") from exc
        return value


DEFAULT_SEVERITIES = [
    Severity(
        id="SEV1",
        name="Critical",
        description="Complete outage or data loss; all customers affected.",
        response_target=timedelta(minutes=5),
        update_every=timedelta(minutes=30),
    ),
    Severity(
        id="SEV2",
        name="Major",
        description="Major feature unavailable or severe degradation for many customers.",
        response_target=timedelta(minutes=15),
        update_every=timedelta(minutes=60),
    ),
    Severity(
        id="SEV3",
        name="Minor",
        description="Partial degradation with a workaround; some customers affected.",
        response_target=timedelta(hours=1),
    ),
    Severity(
        id="SEV4",
        name="Low",
        description="Cosmetic or internal issue; no customer impact.",
        response_target=timedelta(hours=24),
    ),
]

DEFAULT_ROLES = [
    Role(id="incident_commander", name="Incident Commander", description="Owns the incident and decisions."),
    Role(id="communications_lead", name="Communications Lead", description="Keeps stakeholders informed."),
    Role(id="scribe", name="Scribe", description="Keeps the timeline complete."),
    Role(id="operations_lead", name="Operations Lead", description="Leads the technical response."),
]

COMMANDER_ROLE = "incident_commander"


class IncidentSettings(Strict):
    """The top-level keys of the YAML file that describe incidents themselves; `AppConfig` adds the
    sections of each domain package."""

    timezone: str = "UTC"
    severities: list[Severity] = Field(default_factory=lambda: list(DEFAULT_SEVERITIES), min_length=1)
    statuses: list[str] = Field(
        default_factory=lambda: ["investigating", "identified", "mitigated", "monitoring", "resolved"],
        min_length=2,
    )
    """Ordered; the last one is final (resolved)."""
    mitigated_status: str | None = None
    """The status that means "the impact has stopped" (time to mitigate ends at the first change to it or
    to a later status). Default: `mitigated` when the statuses have it, else the one before the final."""
    roles: list[Role] = Field(default_factory=lambda: list(DEFAULT_ROLES), min_length=1)
    services: list[Service] = []
    responders: list[str] = []
    """Slack user ids invited to every incident channel."""
    channels: Channels = Channels()
    templates_dir: Path | None = None
    """Directory whose templates override the bundled ones, file by file."""
    update_interval_minutes: int = Field(30, ge=1, le=24 * 60)
    """Default for "next update in N minutes" in the status-update modal."""
    links: list[Link] = []
    """Bookmarked in every incident channel (a video bridge URL template, the on-call handbook…)."""
    checklists: dict[str, list[str]] = {}
    """Severity id (or `default`) → the first things to do, ticked in the channel's welcome message."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("statuses")
    @classmethod
    def _status_names(cls, value: list[str]) -> list[str]:
        for status in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", status):
                raise ValueError(f"status {status!r} must be lowercase letters, digits or _")
        if len(set(value)) != len(value):
            raise ValueError("statuses must be unique")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> IncidentSettings:
        for field, items in (
            ("severities", self.severities),
            ("roles", self.roles),
            ("services", self.services),
        ):
            ids = [item.id for item in items]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{field}: duplicate id {', '.join(dupes)}")
        known = {s.id for s in self.severities}
        for key in self.checklists:
            if key != "default" and key not in known:
                raise ValueError(f"checklists: unknown severity {key!r} (use a severity id or default)")
        for key in self.channels.source_notice or []:
            if key not in known:
                raise ValueError(f"channels.source_notice: unknown severity {key!r}")
        if COMMANDER_ROLE not in {r.id for r in self.roles}:
            raise ValueError(f"roles: the {COMMANDER_ROLE!r} role is required")
        if self.mitigated_status is not None and self.mitigated_status not in self.statuses[:-1]:
            raise ValueError(
                f"mitigated_status: {self.mitigated_status!r} is not one of the statuses before the final "
                f"one ({', '.join(self.statuses[:-1])})"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_status(self) -> str:
        return self.statuses[-1]

    @property
    def initial_status(self) -> str:
        return self.statuses[0]

    @property
    def mitigated_statuses(self) -> list[str]:
        """The mitigation status and the ones after it, before the final one."""
        if len(self.statuses) < 2:
            return []
        chosen = self.mitigated_status or (
            "mitigated" if "mitigated" in self.statuses[:-1] else self.statuses[-2]
        )
        return self.statuses[self.statuses.index(chosen) : -1]

    def checklist(self, severity_id: str) -> list[str]:
        return self.checklists.get(severity_id) or self.checklists.get("default") or []

    def source_notice(self, severity_id: str) -> bool:
        wanted = self.channels.source_notice
        return wanted is None or severity_id in wanted

    def severity(self, severity_id: str) -> Severity | None:
        wanted = severity_id.strip().upper()
        return next((s for s in self.severities if s.id.upper() == wanted), None)

    def role(self, text: str) -> Role | None:
        """Find a role by id or by name, the way people type it (`ic`, `scribe`, `comms lead`)."""
        wanted = re.sub(r"[\s\-]+", "_", text.strip().lower())
        for role in self.roles:
            initials = "".join(word[0] for word in role.id.split("_"))
            if wanted in {role.id, role.name.lower().replace(" ", "_"), initials}:
                return role
        return None

    def service(self, service_id: str | None) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)
