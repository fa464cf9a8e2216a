"""The checks of an incident change that need no I/O: run before Slack is acknowledged, so their errors
can show inline in the form that asked (`response_action: errors`) or as an ephemeral answer.

Apart from `IncidentService` (which is one of these) so the use cases there read in one screen each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.config import AppConfig, Role, Severity
from bot.domain import AlreadySo, DomainError, Incident


class IncidentChecks:
    config: AppConfig
    now: Callable[[], datetime]

    def check_status(self, incident: Incident, status: str) -> str:
        status = status.strip().lower()
        if status not in self.config.statuses:
            raise DomainError(f"Unknown status {status!r}; choose one of {', '.join(self.config.statuses)}.")
        if status == self.config.resolved_status:
            raise DomainError("Use `/incident resolve` to resolve: it asks for the resolution summary.")
        if incident.status == self.config.resolved_status:
            raise DomainError(f"{incident.reference} is resolved; reopen it first.")
        if status == incident.status:
            raise AlreadySo(f"{incident.reference} is already {status}.")
        return status

    def check_severity(self, incident: Incident, severity_id: str, reclassify: bool = False) -> Severity:
        severity = self.config.severity(severity_id)
        if severity is None:
            known = ", ".join(s.id for s in self.config.severities)
            raise DomainError(f"Unknown severity {severity_id!r}; choose one of {known}.")
        if severity.id == incident.severity:
            raise AlreadySo(f"{incident.reference} is already {severity.id}.")
        if self.is_resolved(incident) and not reclassify:
            raise DomainError(
                f"{incident.reference} is resolved. Changing its severity reclassifies it: reports will "
                f"count it as {severity.id} instead of {incident.severity}. Reopen it first, or confirm "
                f"with `/incident severity {severity.id} reclassify`."
            )
        return severity

    def is_resolved(self, incident: Incident) -> bool:
        return incident.status == self.config.resolved_status

    def check_open(self, incident: Incident, doing: str) -> None:
        """Resolved means resolved: a change to it needs Reopen first."""
        if self.is_resolved(incident):
            raise DomainError(f"{incident.reference} is resolved; reopen it (`/incident reopen`) to {doing}.")

    def check_role(self, incident: Incident, role_text: str, user_id: str) -> Role:
        role = self.config.role(role_text)
        if role is None:
            known = ", ".join(f"`{r.id}`" for r in self.config.roles)
            raise DomainError(f"Unknown role {role_text!r}; roles are {known}.")
        if incident.roles.get(role.id) == user_id:
            raise AlreadySo(f"<@{user_id}> already is {role.name}.")
        self.check_open(incident, "change its roles")
        return role

    def check_resolve(self, incident: Incident, resolution: str) -> str:
        resolution = resolution.strip()
        if not resolution:
            raise DomainError("Say how it was resolved: the summary goes into the final update.")
        if incident.status == self.config.resolved_status:
            raise AlreadySo(f"{incident.reference} is already resolved.")
        return resolution

    def check_impact(
        self, incident: Incident, started: datetime | None, ended: datetime | None = None
    ) -> dict[str, str]:
        """Impact times people enter, refused when impossible; field -> reason, naming the zone.

        Slack's date-time picker shows the person's own Slack time zone; the bot speaks the config's, so
        every message says both the config's time and UTC.
        """
        now, errors = self.now(), {}

        def shown(moment: datetime) -> str:
            local = moment.astimezone(self.config.zone)
            return f"{local:%Y-%m-%d %H:%M} {self.config.timezone} = {moment.astimezone(UTC):%H:%M} UTC"

        if started is not None:
            if started > incident.created_at:
                errors["impact_started_at"] = (
                    f"Impact cannot start after the incident was declared ({shown(incident.created_at)}); "
                    f"you picked {shown(started)}."
                )
            elif started > now:
                errors["impact_started_at"] = f"That is in the future ({shown(started)})."
        if ended is not None:
            if ended > now:
                errors["impact_ended_at"] = f"Impact cannot end in the future: you picked {shown(ended)}."
            elif started is not None and ended < started:
                errors["impact_ended_at"] = (
                    f"Impact cannot end ({shown(ended)}) before it started ({shown(started)})."
                )
            elif ended < incident.created_at - timedelta(days=30):
                errors["impact_ended_at"] = f"That is long before the incident was declared ({shown(ended)})."
        return errors
