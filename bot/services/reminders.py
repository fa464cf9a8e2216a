"""Status-update reminders: nag the Incident Commander in the channel when an update is overdue.

The reminder is a durable timer, rescheduled whenever an update is posted, so a restart neither forgets
it nor nags twice. When it fires it checks the incident again: an update that raced the timer wins.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident
from bot.integrations.slack import SlackGateway
from bot.messages import update_reminder
from bot.services.hooks import Change, IncidentHooks
from bot.store import IncidentStore, NewEvent
from bot.timers import Scheduler, Timer

REMINDER = "update_reminder"
SNOOZE = timedelta(minutes=30)


class UpdateReminders(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {
        "declared": "schedule the status-update reminder",
        "update_posted": "reschedule the status-update reminder",
        "severity_changed": "reschedule the status-update reminder",
        "resolved": "cancel the status-update reminder",
        "reopened": "schedule the status-update reminder",
    }
    what_to_do = "Keep an eye on the update cadence yourself."

    def __init__(
        self,
        config: AppConfig,
        store: IncidentStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.store = store
        self.scheduler = scheduler
        self.slack = slack
        self.now = now
        scheduler.on(REMINDER, self.fire)

    def interval(self, incident: Incident) -> timedelta | None:
        severity = self.config.severity(incident.severity)
        return severity.update_every if severity else None

    def due(self, incident: Incident) -> datetime | None:
        """The cadence from the last update (or the declaration), earlier if the IC promised sooner."""
        interval = self.interval(incident)
        if interval is None or incident.status == self.config.resolved_status:
            return None
        due = (incident.last_update_at or incident.created_at) + interval
        if incident.next_update_due and incident.next_update_due < due:
            due = incident.next_update_due
        return due

    async def _reschedule(self, incident: Incident, due: datetime | None = None) -> None:
        await self.scheduler.store.cancel(incident.id, REMINDER)
        due = due or self.due(incident)
        if due is not None:
            await self.scheduler.schedule(
                REMINDER, due, {"incident_id": incident.id}, incident_id=incident.id
            )

    async def declared(self, incident: Incident) -> None:
        await self._reschedule(incident)

    async def update_posted(self, incident: Incident) -> None:
        await self._reschedule(incident)

    async def severity_changed(self, incident: Incident) -> None:
        await self._reschedule(incident)

    async def reopened(self, incident: Incident) -> None:
        await self._reschedule(incident, self.now() + (self.interval(incident) or timedelta(0)))

    async def resolved(self, incident: Incident) -> None:
        await self.scheduler.store.cancel(incident.id, REMINDER)

    async def fire(self, timer: Timer) -> None:
        incident = await self.store.get(int(timer.payload["incident_id"]))
        interval = self.interval(incident) if incident else None
        if incident is None or interval is None or incident.status == self.config.resolved_status:
            return
        now = self.now()
        since = incident.last_update_at or incident.created_at
        due = self.due(incident)
        if due is not None and due > now and timer.payload.get("snoozed") is None:
            await self._reschedule(incident)  # an update arrived after this timer was set
            return
        if incident.channel_id:
            await self.slack.post(incident.channel_id, update_reminder(incident, now - since, interval))
        await self.store.append(
            incident.id,
            NewEvent(
                EventKind.REMINDER_SENT,
                None,
                f"no status update for {int((now - since).total_seconds() // 60)} min",
                {"since": since.isoformat(), "interval_seconds": interval.total_seconds()},
            ),
            now,
        )
        await self._reschedule(incident, now + interval)

    async def snooze(self, incident_id: int, user: str) -> datetime:
        incident = await self.store.require(incident_id)
        if incident.status == self.config.resolved_status:
            raise DomainError(f"{incident.reference} is resolved; there is nothing to remind.")
        until = self.now() + SNOOZE
        await self.scheduler.store.cancel(incident.id, REMINDER)
        await self.scheduler.schedule(
            REMINDER, until, {"incident_id": incident.id, "snoozed": user}, incident_id=incident.id
        )
        await self.store.append(
            incident.id,
            NewEvent(
                EventKind.REMINDER_SNOOZED, user, "update reminder snoozed", {"until": until.isoformat()}
            ),
            self.now(),
        )
        return until
