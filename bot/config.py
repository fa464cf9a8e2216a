"""Configuration: environment (secrets, URLs) plus one YAML file (people, severities, channels).

Both are validated at start so a typo fails `incidentbot config check` with the field that is wrong,
instead of surfacing at 3 AM halfway through a declare.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.alerts.routing import AlertmanagerConfig
from bot.config_types import ConfigError, Duration, Strict, format_duration, known_zone, parse_duration
from bot.integrations.pagers import PagingConfig
from bot.oncall.config import OnCallConfig
from bot.postmortem.config import PostmortemsConfig
from bot.postmortem.report_config import ReportConfig
from bot.runbooks.config import RunbooksConfig

__all__ = ["ConfigError", "Duration", "Strict", "format_duration", "parse_duration"]


class Settings(BaseSettings):
    """The contract's environment variables (DESIGN.md)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="INCIDENTBOT_", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite+aiosqlite:///./incidentbot.db"
    prometheus_url: str | None = None
    config: Path = Path("./incidentbot.yml")
    webhook_token: SecretStr | None = None
    pagerduty_webhook_secret: SecretStr | None = None
    """Signing secret of the PagerDuty v3 webhook subscription that reports acknowledgements back."""
    host: str = "0.0.0.0"
    port: int = 3000
    auto_migrate: bool = False
    log_level: str = "INFO"

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def missing_slack_settings(self) -> list[str]:
        missing = [] if self.slack_bot_token else ["SLACK_BOT_TOKEN"]
        if not self.socket_mode and not self.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
        return missing


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


class Service(Strict):
    id: str
    name: str
    description: str = ""
    responders: list[str] = []
    """Slack user ids invited to the channel when this service is affected."""


class Channels(Strict):
    announcements: str | None = None
    """Channel id where each incident gets one announcement message, edited in place."""
    management: str | None = None
    """Channel id for the management-summary audience of status updates."""
    name_pattern: str = "inc-{date}-{id}-{slug}"
    """Incident channel name; placeholders: {date} (yyyymmdd), {id}, {slug}, {severity}."""

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


class AppConfig(Strict):
    """The YAML file (`INCIDENTBOT_CONFIG`)."""

    timezone: str = "UTC"
    severities: list[Severity] = Field(default_factory=lambda: list(DEFAULT_SEVERITIES), min_length=1)
    statuses: list[str] = Field(
        default_factory=lambda: ["investigating", "identified", "monitoring", "resolved"], min_length=2
    )
    """Ordered; the last one is final (resolved)."""
    roles: list[Role] = Field(default_factory=lambda: list(DEFAULT_ROLES), min_length=1)
    services: list[Service] = []
    responders: list[str] = []
    """Slack user ids invited to every incident channel."""
    channels: Channels = Channels()
    templates_dir: Path | None = None
    """Directory whose templates override the bundled ones, file by file."""
    update_interval_minutes: int = Field(30, ge=1, le=24 * 60)
    """Default for "next update in N minutes" in the status-update modal."""
    slos: list[Path] = []
    """SLO spec files or directories (Sloth `prometheus/v1`, OpenSLO v1), relative to this file."""
    oncall: OnCallConfig = OnCallConfig()
    paging: PagingConfig = PagingConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    runbooks: RunbooksConfig = RunbooksConfig()
    postmortems: PostmortemsConfig = PostmortemsConfig()
    report: ReportConfig = ReportConfig()

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
    def _unique_ids(self) -> AppConfig:
        for field, items in (
            ("severities", self.severities),
            ("roles", self.roles),
            ("services", self.services),
        ):
            ids = [item.id for item in items]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{field}: duplicate id {', '.join(dupes)}")
        if COMMANDER_ROLE not in {r.id for r in self.roles}:
            raise ValueError(f"roles: the {COMMANDER_ROLE!r} role is required")
        severities = [s.id for s in self.severities]
        problems = self.alertmanager.check_references(severities, self.statuses)
        problems += self.report.problems(severities)
        for severity, steps in self.oncall.escalation.items():
            if severity not in severities:
                problems.append(f"oncall.escalation: unknown severity {severity!r} ({', '.join(severities)})")
            for number, step in enumerate(steps, start=1):
                role = step.notify.role if step.notify else None
                if role and self.role(role) is None:
                    problems.append(f"oncall.escalation.{severity} step {number}: unknown role {role!r}")
        if problems:
            raise ValueError("; ".join(problems))
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


def config_relative(config_path: Path, path: Path) -> Path:
    """Paths in the config file are relative to the file, wherever the bot is started from."""
    return path if path.is_absolute() else config_path.parent / path


def load_config(path: Path) -> AppConfig:
    """Load the YAML file; a missing file means "all defaults" so a first run needs no config."""
    if not path.exists():
        return AppConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s)"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from exc
