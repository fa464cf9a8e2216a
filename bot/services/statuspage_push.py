"""The push of our public updates to a hosted Atlassian Statuspage, for teams whose customers already
read one: each publication (and each maintenance) becomes a durable job.

The job pushes everything the hosted incident does not have yet, in order, recording after each accepted
call how far it got; so a job that runs twice, or late, or after a later one, neither repeats nor skips an
update. When Statuspage is down or busy the job waits (its `Retry-After`, else `retry_seconds`) and tries
again for up to `give_up_after`; the channel is told once when it starts failing and once when it works
again. A refusal that trying again cannot fix (a bad key, an unknown component) is said at once. Our own
status page has the update all along.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain import Incident
from bot.integrations.hosted_statuspage import HostedStatuspage, HostedUpdate, PushFailed
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import notice
from bot.statuspage.hosted_links import INCIDENT, MAINTENANCE, HostedLink, HostedLinks
from bot.statuspage.model import Maintenance, Publication, PublicIncident
from bot.statuspage.settings import AtlassianPush
from bot.statuspage.store import StatusPageStore
from bot.store import IncidentStore
from bot.timers import DEFAULT_PRIORITY, RetryLater, Scheduler, Timer

log = logging.getLogger(__name__)
PUSH = "statuspage.push"
OPENED, CANCELLED = 1, 2
"""How far a maintenance got on the hosted page."""
OPENING = timedelta(seconds=5)


class PushQueue:
    """A `StatusPageListener` that only queues a durable job per change; whichever serving bot has the
    API key pushes it (the CLI queues too, and needs no key)."""

    def __init__(self, scheduler: Scheduler, now: Callable[[], datetime]) -> None:
        self.scheduler = scheduler
        self.now = now

    async def on_published(self, publication: Publication) -> None:
        await self._queue(INCIDENT, publication.incident.id, f"update:{publication.update.id}")

    async def on_maintenance(self, maintenance: Maintenance) -> None:
        state = "cancelled" if maintenance.cancelled_at else "scheduled"
        await self._queue(MAINTENANCE, maintenance.id, state)

    async def _queue(self, kind: str, local_id: int, what: str) -> None:
        payload = {"kind": kind, "id": local_id}
        key = f"{PUSH}:{kind}:{local_id}:{what}"
        incident_id = local_id if kind == INCIDENT else None
        await self.scheduler.schedule(
            PUSH, self.now(), payload, incident_id=incident_id, key=key, priority=DEFAULT_PRIORITY
        )


class StatusPagePush:
    """The job: push what the hosted page does not have yet."""

    def __init__(
        self,
        section: AtlassianPush,
        hosted: HostedStatuspage,
        links: HostedLinks,
        public: StatusPageStore,
        incidents: IncidentStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        now: Callable[[], datetime],
    ) -> None:
        self.section = section
        self.hosted = hosted
        self.links = links
        self.public = public
        self.incidents = incidents
        self.slack = slack
        self.now = now
        scheduler.on(PUSH, self._fire, lane=_lane)

    async def _fire(self, timer: Timer) -> None:
        kind, local_id = str(timer.payload["kind"]), int(timer.payload["id"])
        incident = await self.incidents.get(local_id) if kind == INCIDENT else None
        before = await self.links.get(kind, local_id)
        try:
            if kind == INCIDENT:
                await self._push_incident(local_id, before)
            else:
                await self._push_maintenance(local_id, before)
        except PushFailed as failed:
            await self._failed(kind, local_id, incident, failed, timer)
            return
        if before is not None and before.failing_since is not None:
            await self._tell(
                incident, ":white_check_mark: The update is on the hosted Atlassian Statuspage now."
            )

    async def _push_incident(self, incident_id: int, link: HostedLink | None) -> None:
        public = await self.public.incident(incident_id)
        if public is None:
            return
        hosted_id, done = (link.hosted_id, link.pushed) if link and link.hosted_id else (None, 0)
        # Public updates are in publication order and only ever appended, so progress is a count.
        for index in range(done, len(public.updates)):
            sent = self._hosted(public, index)
            if hosted_id is None:
                hosted_id = await self._open(INCIDENT, incident_id, sent)
            else:
                await self.hosted.update_incident(hosted_id, sent)
            await self.links.pushed(INCIDENT, incident_id, hosted_id, index + 1)

    async def _open(self, kind: str, local_id: int, update: HostedUpdate) -> str:
        """Open the hosted incident under a claim, so two workers cannot both open it."""
        if not await self.links.claim(kind, local_id, self.now()):
            raise RetryLater(OPENING, f"another worker is opening the hosted {kind}")
        try:
            return await self.hosted.open_incident(update)
        except PushFailed as failed:
            if failed.status is not None:  # Statuspage answered: nothing was opened
                await self.links.release(kind, local_id)
            raise

    def _hosted(self, public: PublicIncident, index: int) -> HostedUpdate:
        update = public.updates[index]
        statuses = public.component_statuses(index)
        mapped = {self.section.components[c]: s for c, s in statuses.items() if c in self.section.components}
        return HostedUpdate(
            update.title, update.status, update.body, update.impact, mapped, self.section.notify
        )

    async def _push_maintenance(self, maintenance_id: int, link: HostedLink | None) -> None:
        maintenance = await self.public.get_maintenance(maintenance_id)
        if maintenance is None:
            return
        mapped = {
            self.section.components[c]: "under_maintenance"
            for c in maintenance.components
            if c in self.section.components
        }
        if link is None or link.hosted_id is None:
            if maintenance.cancelled_at is not None:
                return  # never reached the hosted page: nothing to take back
            scheduled = HostedUpdate(
                maintenance.title,
                "scheduled",
                maintenance.body or maintenance.title,
                "maintenance",
                mapped,
                self.section.notify,
                maintenance.scheduled_for,
                maintenance.scheduled_until,
            )
            hosted_id = await self._open(MAINTENANCE, maintenance_id, scheduled)
            await self.links.pushed(MAINTENANCE, maintenance_id, hosted_id, OPENED)
            link = await self.links.get(MAINTENANCE, maintenance_id)
        if maintenance.cancelled_at is not None and link is not None and link.pushed != CANCELLED:
            body = "This maintenance has been cancelled."
            done = HostedUpdate(maintenance.title, "completed", body, "maintenance", {}, self.section.notify)
            await self.hosted.update_incident(link.hosted_id or "", done)
            await self.links.pushed(MAINTENANCE, maintenance_id, link.hosted_id or "", CANCELLED)

    async def _failed(
        self, kind: str, local_id: int, incident: Incident | None, failed: PushFailed, timer: Timer
    ) -> None:
        log.warning("Atlassian Statuspage push of %s %s failed: %s", kind, local_id, failed)
        link = await self.links.get(kind, local_id)
        first = link is None or link.failing_since is None
        if link is not None:
            await self.links.failed(kind, local_id, str(failed), self.now())
        waited = self.now() - timer.created_at
        if failed.retry_in is None or waited > timedelta(seconds=self.section.give_up_after):
            why = "trying again cannot fix this" if failed.retry_in is None else f"it has failed for {waited}"
            await self._tell(
                incident,
                f":x: Not pushed to the hosted Atlassian Statuspage ({why}): {failed}. Our own status page "
                "has the update; the next public update tries again.",
            )
            return
        wait = max(failed.retry_in, 1.0) if failed.status == 429 else float(self.section.retry_seconds)
        if first:
            await self._tell(
                incident,
                f":warning: Could not push to the hosted Atlassian Statuspage: {failed}. Trying again every "
                f"{wait:.0f} s; our own status page has the update.",
            )
        raise RetryLater(timedelta(seconds=wait), str(failed))

    async def _tell(self, incident: Incident | None, text: str) -> None:
        if incident is None or not incident.channel_id:
            return
        try:
            await self.slack.post(incident.channel_id, notice(text))
        except SlackFailure as failure:
            log.warning("could not tell %s about the Statuspage push: %s", incident.reference, failure.error)


def _lane(timer: Timer) -> str:
    """The jobs of one incident (or maintenance) run one after the other in a process."""
    return f"statuspage:{timer.payload.get('kind')}:{timer.payload.get('id')}"
