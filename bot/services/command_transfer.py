"""Transfer of command: "I'm handing over command to @x", confirmed by @x before anything changes.

A request is a timeline event; its Accept / Decline buttons name it. Only the newest request of an open
incident can be answered, only by the person asked, and only once: the answer is claimed by a unique key
(`first`), and the role change itself is conditional on the IC the request was made to relieve, so a
double click, Slack's retry, or an `/incident assign ic` in between never gives command twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot import channel_messages as ui
from bot.config import COMMANDER_ROLE, AppConfig
from bot.domain import DomainError, EventKind, Incident, TimelineEvent, already_done
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import notice
from bot.services.incidents import IncidentService
from bot.store import IncidentStore, NewEvent, StaleChange

log = logging.getLogger(__name__)


class CommandTransfer:
    def __init__(
        self,
        config: AppConfig,
        store: IncidentStore,
        incidents: IncidentService,
        slack: SlackGateway,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.store = store
        self.incidents = incidents
        self.slack = slack
        self.now = now

    def check(self, incident: Incident, new: str) -> None:
        """The request's rules, checked before the ack so the person typing sees them at once."""
        self.incidents.check_open(incident, "transfer command")
        if incident.commander == new:
            raise DomainError(f"<@{new}> already is the Incident Commander of {incident.reference}.")

    async def request(self, incident_id: int, new: str, actor: str) -> TimelineEvent:
        """Record the request and ask `new` in the incident channel (inviting them if need be)."""
        incident = await self.incidents.get(incident_id)
        self.check(incident, new)
        if not incident.channel_id:
            raise DomainError(f"{incident.reference} has no channel yet to ask <@{new}> in.")
        current = incident.commander
        event = await self.store.append(
            incident.id,
            NewEvent(
                EventKind.COMMAND_TRANSFER_REQUESTED,
                actor,
                f"<@{actor}> asked <@{new}> to take command from <@{current}>",
                {"from": current, "to": new},
            ),
            self.now(),
        )
        assert event is not None
        try:
            await self.slack.invite(incident.channel_id, [new])
        except SlackFailure as failure:  # they may be in it already, or not invitable: the ask still shows
            log.info("%s: could not invite %s: %s", incident.reference, new, failure)
        await self.slack.post(
            incident.channel_id, ui.transfer_request(incident, event.id, current, new, actor)
        )
        return event

    async def answer(self, incident_id: int, request_id: int, user: str, accept: bool) -> str:
        """Accept or decline the request `request_id`; returns what the request message now says."""
        incident = await self.incidents.get(incident_id)
        request = await self._pending(incident, request_id)
        current, new = request.data.get("from"), str(request.data.get("to") or "")
        if user != new:
            raise DomainError(f"Only <@{new}> can answer this request to take command.")
        if self.incidents.is_resolved(incident):
            raise DomainError(f"{incident.reference} is resolved: command can no longer be transferred.")
        if incident.commander != current:
            raise DomainError(
                f"This request is out of date: <@{incident.commander}> holds command now, not <@{current}>."
            )
        first = await self.store.first(f"transfer:{request.id}", user, self.now())
        if first is not None:
            raise already_done("This request was already answered", first[0], first[1], self.config.zone)
        if not accept:
            return await self._declined(incident, request, user)
        said = ui.command_transferred(incident, current, new, str(request.actor or ""))
        try:
            await self.incidents.assign_role(
                incident.id,
                COMMANDER_ROLE,
                new,
                user,
                expect=current,
                extra={"transfer": request.id, "requested_by": request.actor},
                said=said,
            )
        except (StaleChange, DomainError) as exc:
            raise DomainError(f"Command was not transferred: {exc}") from None
        if incident.announcement_channel and incident.announcement_ts:
            await self.slack.post_or_log(
                incident.announcement_channel,
                notice(said),
                f"{incident.reference} transfer of command",
                thread_ts=incident.announcement_ts,
            )
        return f":white_check_mark: <@{new}> accepted command of {incident.reference} from <@{current}>."

    async def _pending(self, incident: Incident, request_id: int) -> TimelineEvent:
        """The request, if it is the incident's newest: an older one was superseded by it."""
        newest = await self.store.last_event(incident.id, EventKind.COMMAND_TRANSFER_REQUESTED)
        if newest is None or newest.id < request_id:
            raise DomainError("This transfer request is unknown (the database may have been reset).")
        if newest.id != request_id:
            raise DomainError(
                f"This request was superseded: <@{newest.actor}> asked <@{newest.data.get('to')}> since."
            )
        return newest

    async def _declined(self, incident: Incident, request: TimelineEvent, user: str) -> str:
        current = request.data.get("from")
        await self.store.append(
            incident.id,
            NewEvent(
                EventKind.COMMAND_TRANSFER_DECLINED,
                user,
                f"<@{user}> declined to take command from <@{current}>",
                {"request": request.id, "from": current, "to": user, "requested_by": request.actor},
            ),
            self.now(),
        )
        said = (
            f":no_entry_sign: <@{request.actor}>, <@{user}> declined to take command; "
            f"<@{current}> remains the Incident Commander of {incident.reference}."
        )
        if incident.channel_id:
            await self.slack.post_or_log(incident.channel_id, notice(said), f"{incident.reference} transfer")
        return f":no_entry_sign: <@{user}> declined to take command from <@{current}>."
