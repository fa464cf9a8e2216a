"""What a deploy notice says, whoever sent it: GitHub's `deployment_status` event, a pipeline's generic
JSON, or `incidentbot deploy record`. All three become one `DeployNotice`; the store keeps one row per
deploy (its `key`) and later notices of the same deploy (a status, a canary stage) update that row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, Field, ValidationError, field_validator

from bot.changes.settings import ChangesConfig
from bot.problems import field_path, reason
from bot.settings import Strict

STATUSES: dict[str, str] = {
    **dict.fromkeys(("success", "succeeded", "successful", "deployed", "healthy", "synced"), "success"),
    **dict.fromkeys(("failure", "failed", "error", "degraded"), "failure"),
    **dict.fromkeys(("pending", "queued", "started", "in_progress", "running", "progressing"), "in_progress"),
    "inactive": "inactive",
    **dict.fromkeys(("rolled_back", "rollback", "reverted"), "rolled_back"),
}
"""The words pipelines use (GitHub's states, Argo CD's health, GitLab's and Jenkins' results) → ours."""
CANARY_STAGES = (10, 25, 50, 100)


class InvalidNotice(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Deploy:
    id: int
    service: str
    environment: str
    version: str
    previous_version: str | None
    commit: str | None
    commit_time: datetime | None
    url: str | None
    status: str
    canary_percent: int | None
    deployed_at: datetime
    stage_at: datetime
    """When the last stage (or status) was reported: a canary's rollback watch runs from here."""
    source: str

    def describe(self) -> str:
        canary = f" at {self.canary_percent} %" if self.canary_percent not in (None, 100) else ""
        return f"{self.service} {self.version}{canary} ({self.environment}, {self.status})"


class DeployNotice(Strict):
    """The generic JSON body (and what the other sources are turned into)."""

    service: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=120)
    environment: str = Field("production", min_length=1, max_length=60)
    commit: str | None = Field(None, max_length=64)
    commit_time: AwareDatetime | None = None
    url: str | None = Field(None, max_length=500)
    status: str = "success"
    deployed_at: AwareDatetime | None = None
    canary_percent: int | None = Field(None, ge=0, le=100)
    id: str | None = Field(None, max_length=120)
    """The pipeline's own id of the deploy: later notices with it update the same deploy. Without it, a
    deploy is (service, environment, version, deployed_at)."""

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        status = STATUSES.get(value.strip().lower())
        if status is None:
            raise ValueError(f"unknown status {value!r} (known: {', '.join(sorted(STATUSES))})")
        return status

    def key(self, source: str) -> str:
        """Without `id` or `deployed_at`, a second deploy of the same version is the same deploy: a
        pipeline that redeploys versions (a rollback to one) sends either."""
        if self.id:
            return f"{source}:{self.service}:{self.id}"[:300]
        at = self.deployed_at.astimezone(UTC).isoformat() if self.deployed_at else "-"
        return f"{source}:{self.service}:{self.environment}:{self.version}:{at}"[:300]


def _worded(exc: ValidationError) -> str:
    """Pydantic's errors in the words the config files' problems use (`bot.problems`)."""
    return "; ".join(f"{field_path(e['loc']) or 'body'}: {reason(e)}" for e in exc.errors())


def generic_notice(body: Any, changes: ChangesConfig) -> DeployNotice:
    if not isinstance(body, dict):
        raise InvalidNotice("the body must be a JSON object with service, version, …")
    try:
        notice = DeployNotice.model_validate(body)
    except ValidationError as exc:
        raise InvalidNotice(_worded(exc)) from None
    return notice.model_copy(update={"service": changes.service_for(notice.service)})


def github_notice(event: Any, changes: ChangesConfig) -> tuple[DeployNotice, str]:
    """A `deployment_status` event → the notice and its key (the repository's deployment id, so every
    status of one deployment updates one row). The service is the deployment payload's `service`, else
    the repository mapped by `changes.repositories`, else the repository's name."""
    try:
        status, deployment, repository = event["deployment_status"], event["deployment"], event["repository"]
        full_name, name = str(repository["full_name"]), str(repository["name"])
        deployment_id = int(deployment["id"])
    except (KeyError, TypeError, ValueError):
        raise InvalidNotice(
            "not a deployment_status event (deployment_status, deployment, repository)"
        ) from None
    extra = deployment.get("payload") if isinstance(deployment.get("payload"), dict) else {}
    service = str(extra.get("service") or changes.service_for(name, full_name))
    fields = {
        "service": changes.service_for(service),
        "version": str(extra.get("version") or deployment.get("ref") or deployment.get("sha") or "?"),
        "environment": str(status.get("environment") or deployment.get("environment") or "production"),
        "commit": deployment.get("sha"),
        "commit_time": extra.get("commit_time"),
        "url": status.get("environment_url") or status.get("target_url") or status.get("log_url") or None,
        "status": str(status.get("state") or ""),
        "deployed_at": status.get("created_at") or deployment.get("created_at"),
        "canary_percent": extra.get("canary_percent"),
    }
    try:
        notice = DeployNotice.model_validate(fields)
    except ValidationError as exc:
        raise InvalidNotice(_worded(exc)) from None
    return notice, f"github:{full_name}:{deployment_id}"[:300]


def parse_time(value: str) -> datetime:
    """A CLI's `--commit-time`: ISO 8601 with an offset (a naive time would be read in the wrong zone)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: add Z or +02:00")
    return parsed
