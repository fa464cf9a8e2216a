"""Change tracking as the incident sees it: record a deploy (and what follows from it), post what changed
before a declaration, mark a suspected cause and offer its rollback.

A deploy notice has three effects besides its row: a production deploy of a watched service arms its
rollback watch (each canary stage re-gates it: the watch reads the stage from the row); an open incident
on the service, or on one depending on it, gets a `deploy_recorded` event (the workflows' `deploy.recorded`
trigger) and a line in its channel; nothing else. The what-changed post and the marks are timeline events,
which the post-mortem and DORA's change failure rate read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from bot.changes import messages
from bot.changes.deploys import Deploy, DeployNotice
from bot.changes.store import RECORDED, DeployStore, Recorded
from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message, section
from bot.services.hooks import Change, IncidentHooks
from bot.services.incidents import IncidentService
from bot.services.rollback import Rollbacks
from bot.store import NewEvent
from bot.timers import Scheduler, Timer

log = logging.getLogger(__name__)


def deploy_data(deploy: Deploy) -> dict[str, Any]:
    """A deploy as timeline events keep it: the post-mortem reads it there, years later."""
    return {
        "deploy_id": deploy.id,
        "service": deploy.service,
        "version": deploy.version,
        "previous": deploy.previous_version,
        "environment": deploy.environment,
        "status": deploy.status,
        "canary_percent": deploy.canary_percent,
        "deployed_at": deploy.deployed_at.isoformat(),
        "commit": deploy.commit,
        "url": deploy.url,
    }


class ChangeTracking(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {"set_up": "post what changed before the incident"}

    def __init__(
        self,
        config: AppConfig,
        store: DeployStore,
        incidents: IncidentService,
        slack: SlackGateway,
        rollbacks: Rollbacks,
        scheduler: Scheduler,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.scheduler = scheduler
        scheduler.on(RECORDED, self.recorded)
        self.store = store
        self.incidents = incidents
        self.slack = slack
        self.rollbacks = rollbacks
        self.now = now
        self.dependencies: Callable[[str], list[str]] = lambda service: []
        """What a service depends on (the catalog's): their deploys are changes to it too."""
        self.dependents: Callable[[str], list[str]] = lambda service: []

    # -- recording -------------------------------------------------------------------------------------
    async def record(self, notice: DeployNotice, key: str, source: str) -> Recorded:
        recorded = await self.store.record(notice, key, source, self.now())
        if recorded.outcome != "duplicate":
            log.info("deploy %s: %s (%s, %s)", recorded.outcome, recorded.deploy.describe(), source, key)
            self.scheduler.kick()
        return recorded

    async def recorded(self, timer: Timer) -> None:
        """The job of a new or changed deploy (from the webhook or the CLI)."""
        deploy = await self.store.get(int(timer.payload["deploy_id"]))
        if deploy is None:
            return
        if deploy.environment in self.config.changes.production:
            await self._arm(deploy)
        await self._tell_open_incidents(deploy)

    async def _arm(self, deploy: Deploy) -> None:
        """Each canary stage is armed again: a no-op for a running watch, which reads the stage itself."""
        watched = deploy.service in self.config.rollback.services
        live = deploy.status == "success" or (deploy.status == "in_progress" and deploy.canary_percent)
        recent = deploy.deployed_at > self.now() - self.config.rollback.window  # not a late report
        if not (self.config.changes.arm_rollback and watched and live and recent):
            return
        try:
            await self.rollbacks.arm(deploy.service, deploy.version, deploy.previous_version, "deploy")
        except DomainError as exc:  # no Prometheus, no previous version: the deploy is recorded anyway
            log.warning("deploy %s: rollback watch not armed: %s", deploy.describe(), exc)

    async def _tell_open_incidents(self, deploy: Deploy) -> None:
        concerned = {deploy.service, *self.dependents(deploy.service)}
        for incident in await self.incidents.list_open():
            if incident.service not in concerned:
                continue
            once = f"deploy:{deploy.id}:{incident.id}:{deploy.status}:{deploy.canary_percent}"
            text = f"deploy recorded: {deploy.describe()}"
            event = NewEvent(EventKind.DEPLOY_RECORDED, None, text, deploy_data(deploy))
            if await self.incidents.store.append(incident.id, event, self.now(), once) is None:
                continue
            line = f":rocket: Deploy during this incident: {messages.deploy_line(deploy, self.config)}"
            await self._say(
                incident, Message(f"Deploy during the incident: {deploy.describe()}", [section(line)])
            )

    # -- what changed ----------------------------------------------------------------------------------
    def scope(self, incident: Incident) -> list[str]:
        """The incident's service and what it depends on; every service when it names none."""
        if not incident.service:
            return []
        return [incident.service, *self.dependencies(incident.service)]

    async def what_changed(self, incident: Incident, window: timedelta | None = None) -> Message:
        """`/incident changes [hours]`: the deploys from `window` before the declaration until now."""
        until = incident.resolved_at or max(incident.created_at, self.now())
        deploys, more, since = await self._changes(incident, window or self.config.changes.window, until)
        suspected = frozenset(await self._suspected(incident.id))
        return messages.what_changed(deploys, more, since, self.scope(incident), self.config, suspected)

    async def _changes(
        self, incident: Incident, window: timedelta, until: datetime
    ) -> tuple[list[Deploy], int, datetime]:
        """Newest first, at most `changes.shown`, and how many more there were."""
        since, services = incident.created_at - window, self.scope(incident) or None
        shown, production = self.config.changes.shown, self.config.changes.production
        found = await self.store.between(since, until, services, production, limit=shown + 1)
        if len(found) <= shown:
            return found, 0, since
        total = await self.store.count_between(since, until, services, production)
        return found[:shown], total - shown, since

    async def _suspected(self, incident_id: int) -> list[int]:
        return [
            int(e.data["deploy_id"])
            for e in await self.incidents.store.timeline(incident_id)
            if e.kind == EventKind.CHANGE_SUSPECTED and "deploy_id" in e.data
        ]

    async def set_up(self, incident: Incident) -> None:
        """Posted once, with the channel: "what changed?" is the first question of most incidents."""
        if not incident.channel_id:
            return
        if await self.incidents.store.last_event(incident.id, EventKind.CHANGES_POSTED):
            return
        window = self.config.changes.window
        deploys, more, since = await self._changes(incident, window, incident.created_at)
        if not deploys:
            return
        message = messages.what_changed(deploys, more, since, self.scope(incident), self.config)
        await self.slack.post(incident.channel_id, message)
        data = {"deploys": [deploy_data(d) for d in deploys]}
        text = f"what changed: {len(deploys)} deploys before the declaration"
        await self.incidents.store.append(
            incident.id,
            NewEvent(EventKind.CHANGES_POSTED, None, text, data),
            self.now(),
            f"changes:{incident.id}",
        )

    # -- the suspected cause ---------------------------------------------------------------------------
    async def suspect(self, incident_id: int, deploy_id: int, actor: str) -> None:
        """Recorded once per incident and deploy; the rollback is offered (not run): a person clicks."""
        incident = await self.incidents.get(incident_id)
        deploy = await self.store.get(deploy_id)
        if deploy is None:
            raise DomainError("That deploy is no longer recorded.")
        text = f"suspected cause: {deploy.describe()}"
        event = NewEvent(EventKind.CHANGE_SUSPECTED, actor, text, deploy_data(deploy))
        once = f"suspect:{incident_id}:{deploy_id}"
        if await self.incidents.store.append(incident_id, event, self.now(), once) is None:
            return
        await self._say(incident, messages.suspected(actor, deploy))
        watch = self.config.rollback.services.get(deploy.service)
        step = f"`{watch.step}` of runbook `{watch.runbook}`" if watch else None
        await self._say(incident, messages.rollback_offer(deploy, step))

    async def roll_back(self, incident_id: int, deploy_id: int, actor: str) -> str:
        """The offer's button: the rollback runbook posted and its step requested with the previous
        version, whatever the severity (a person asked for it; dangerous steps keep their approval)."""
        incident = await self.incidents.get(incident_id)
        deploy = await self.store.get(deploy_id)
        if deploy is None or deploy.previous_version is None:
            raise DomainError("No earlier version of that deploy is recorded: roll back by hand.")
        earlier = await self.incidents.store.first(
            f"change-rollback:{incident_id}:{deploy_id}", actor, self.now()
        )
        if earlier is not None:
            raise DomainError(f"<@{earlier[0]}> already asked for this rollback.")
        return await self.rollbacks.request_rollback(
            incident, deploy.service, deploy.previous_version, actor, deploy.version
        )

    async def _say(self, incident: Incident, message: Message) -> None:
        if not incident.channel_id:
            return
        try:
            await self.slack.post(incident.channel_id, message)
        except SlackFailure as failure:
            log.warning("changes: could not post in %s: %s", incident.channel_id, failure)
