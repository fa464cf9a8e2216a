"""The first five minutes in an incident channel: the welcome message (the severity's checklist, the
matching runbooks) and the channel's bookmarks (configured links, the service's dashboards, the status
page, the message or alert the incident came from).

Both run with the set-up (or when a late channel comes) and are repeatable: the bookmarks already in the
channel are not added again, and the welcome message is posted once (its `welcome_posted` event holds
where it is, so the ticks can edit it)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import ClassVar

from bot import messages
from bot import welcome as ui
from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident, TimelineEvent
from bot.integrations.slack import SlackGateway
from bot.services.hooks import Change, IncidentHooks
from bot.store import IncidentStore, NewEvent
from bot.templating import slack_time

log = logging.getLogger(__name__)

Runbooks = Callable[[Incident], Awaitable[list[tuple[str, str]]]]
"""(name, title) of the runbooks matching an incident's service or alerts."""


class Welcome(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {
        "set_up": "post the welcome checklist and add the channel's bookmarks",
        "channel_created": "post the welcome checklist and add the channel's bookmarks",
    }
    what_to_do = "Open the runbook with `/incident runbook` and pin the links by hand."

    def __init__(
        self,
        config: AppConfig,
        incidents: IncidentStore,
        slack: SlackGateway,
        now: Callable[[], datetime],
        open_runbook: str,
    ) -> None:
        self.config = config
        self.incidents = incidents
        self.slack = slack
        self.now = now
        self.open_runbook = open_runbook
        self.runbooks: Runbooks | None = None
        self.public_url: str | None = None
        """The public status page (set when the status page is composed)."""

    async def set_up(self, incident: Incident) -> None:
        if incident.channel_id:
            await self._welcome(incident)

    async def channel_created(self, incident: Incident) -> None:
        await self._welcome(incident)

    async def _welcome(self, incident: Incident) -> None:
        assert incident.channel_id
        timeline = await self.incidents.timeline(incident.id)
        bookmarks = self.bookmarks(incident, timeline)
        await self.slack.add_missing_bookmarks(incident.channel_id, [(b.title, b.url) for b in bookmarks])
        if any(e.kind == EventKind.WELCOME_POSTED for e in timeline):
            return
        ts = await self.slack.post(incident.channel_id, await self._message(incident, timeline, bookmarks))
        await self.incidents.append(
            incident.id,
            NewEvent(EventKind.WELCOME_POSTED, None, "welcome checklist posted", {"ts": ts}),
            self.now(),
            once=f"welcome:{incident.id}",
        )

    def bookmarks(self, incident: Incident, timeline: Sequence[TimelineEvent]) -> list[ui.Bookmark]:
        service = self.config.service(incident.service)
        links = [*self.config.links, *(service.links if service else [])]
        found = [
            ui.Bookmark(
                link.title,
                link.for_incident(incident.reference, incident.id, incident.severity, incident.service),
            )
            for link in links
        ]
        if self.public_url and not incident.private:
            found.append(ui.Bookmark("Status page", self.public_url))
        if incident.source_permalink:
            found.append(ui.Bookmark("Declared from this message", incident.source_permalink))
        alert = next((e for e in timeline if e.kind == EventKind.ALERT_RECEIVED), None)
        source = str((alert.data.get("alert") or {}).get("generator_url") or "") if alert else ""
        if source.startswith(("http://", "https://")):
            found.append(ui.Bookmark("Alert source", source))
        return list({b.url: b for b in found}.values())

    async def _message(
        self, incident: Incident, timeline: Sequence[TimelineEvent], bookmarks: list[ui.Bookmark]
    ) -> messages.Message:
        ticks = {
            int(e.data["index"]): ui.Tick(e.actor, e.occurred_at)
            for e in timeline
            if e.kind == EventKind.CHECKLIST_TICKED and isinstance(e.data.get("index"), int)
        }
        runbooks = await self.runbooks(incident) if self.runbooks else []
        checklist = self.config.checklist(incident.severity)
        return ui.welcome(incident, self.config, checklist, ticks, runbooks, self.open_runbook, bookmarks)

    async def tick(self, incident_id: int, index: int, user: str) -> str:
        """Tick one item, once: a second click (the same person or another) is told who was first."""
        incident = await self.incidents.require(incident_id)
        checklist = self.config.checklist(incident.severity)
        if not 0 <= index < len(checklist):
            raise DomainError("That checklist item is gone (the config changed); nothing was recorded.")
        item = checklist[index]
        now = self.now()
        earlier = await self.incidents.first(f"checklist:{incident.id}:{index}", user, now)
        if earlier is not None:
            who, when = earlier
            at = slack_time(when, self.config)
            raise DomainError(f"“{item}” was already ticked by <@{who}> at {at}.")
        data = {"index": index, "item": item, "severity": incident.severity}
        await self.incidents.append(incident.id, NewEvent(EventKind.CHECKLIST_TICKED, user, item, data), now)
        await self._refresh(incident)
        return f"Ticked “{item}”."

    async def _refresh(self, incident: Incident) -> None:
        timeline = await self.incidents.timeline(incident.id)
        posted = next((e for e in timeline if e.kind == EventKind.WELCOME_POSTED), None)
        if posted is None or not incident.channel_id:
            return
        message = await self._message(incident, timeline, self.bookmarks(incident, timeline))
        await self.slack.update(incident.channel_id, str(posted.data["ts"]), message)

    async def source_notice(self, incident: Incident, channel: str | None, declarer: str) -> None:
        """ "@alice declared INC-7 …" in the channel the declare came from, when the config wants it for
        the severity. A DM, the incident's own channel or a channel the bot may not post to is skipped
        (the declarer still has the ephemeral answer)."""
        if not channel or channel.startswith("D") or channel == incident.channel_id:
            return
        if not self.config.source_notice(incident.severity):
            return
        if await self.incidents.claim_many([f"source_notice:{incident.id}"]) != [True]:
            return
        try:
            await self.slack.post(channel, messages.source_notice(incident, declarer, self.config))
        except Exception as exc:  # the notice is a courtesy: the declare has succeeded
            log.info("%s: no notice in %s: %s", incident.reference, channel, exc)
