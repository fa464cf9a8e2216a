"""The communication plan's deadlines (issue 17): countdowns in the pinned summary, the owner reminded
before each deadline and at it, "Not needed" and the enterprise calls recorded on the timeline.

Nothing is stored but timeline events and timers: every deadline is derived again from the timeline
(`bot.communication.plan`) whenever something may have moved it. A reminder timer carries the deadline it
was set for; when it fires, a deadline that moved (the audience was told, waived, the severity changed)
makes it a no-op, so timers are never cancelled and two replicas planning at once schedule the same keys.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.communication import messages as ui
from bot.communication.mails import MailTemplates
from bot.communication.notices import UPDATE, Notice
from bot.communication.plan import AudiencePlan, incident_plan
from bot.config import AppConfig
from bot.domain import CALL_OUTCOMES, DomainError, EventKind, Incident, TimelineEvent
from bot.integrations.slack import SlackGateway
from bot.messages import Message, notice
from bot.store import IncidentStore, NewEvent
from bot.timers import Scheduler, Timer

log = logging.getLogger(__name__)

REMIND = "communication.remind"
SOON_BEFORE = timedelta(minutes=5)
"""The first reminder comes this long before a deadline (when the deadline is further away than that)."""


def remind_key(incident_id: int, audience: str, due: datetime, phase: str, reopened: int = 0) -> str:
    """One reminder per deadline and phase; a reopened incident plans afresh (its earlier reminders were
    cancelled at the resolution)."""
    return f"comm.remind:{incident_id}:{reopened}:{audience}:{int(due.timestamp())}:{phase}"


class Deadlines:
    def __init__(
        self,
        config: AppConfig,
        incidents: IncidentStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        templates: MailTemplates,
        now: Callable[[], datetime],
        refresh_summary: Callable[[int], Awaitable[None]],
    ) -> None:
        self.config = config
        self.section = config.communication
        self.incidents = incidents
        self.scheduler = scheduler
        self.slack = slack
        self.templates = templates
        self.now = now
        self.refresh_summary = refresh_summary
        scheduler.on(REMIND, self.remind)

    async def plans(self, incident: Incident) -> list[AudiencePlan]:
        if not self.section.audiences:
            return []
        return self._plans(incident, await self.incidents.timeline(incident.id))

    def _plans(self, incident: Incident, timeline: list[TimelineEvent]) -> list[AudiencePlan]:
        return incident_plan(self.section, incident, timeline, incident.status == self.config.resolved_status)

    async def plan(self, incident: Incident, audience: str) -> AudiencePlan:
        found = next((p for p in await self.plans(incident) if p.name == audience), None)
        if found is None:
            raise DomainError(f"{incident.reference} does not concern the audience {audience!r}.")
        return found

    async def summary_lines(self, incident: Incident) -> list[str]:
        line = ui.summary_line(await self.plans(incident), self.config, self.now())
        return [line] if line else []

    def owner(self, incident: Incident, plan: AudiencePlan) -> str | None:
        """The holder of the audience's owner role, else the Incident Commander."""
        role = plan.audience.owner
        return (incident.roles.get(role) if role else None) or incident.commander

    # -- planning -------------------------------------------------------------------------------------------
    async def replan(self, incident_id: int) -> None:
        """Schedule the reminders of every pending deadline and show them in the pinned summary."""
        incident = await self.incidents.get(incident_id)
        if incident is None or not self.section.audiences:
            return
        if incident.status == self.config.resolved_status:
            await self.scheduler.store.cancel(incident.id, REMIND)
        now = self.now()
        timeline = await self.incidents.timeline(incident.id)
        reopened = sum(1 for e in timeline if e.kind == EventKind.REOPENED)
        for plan in self._plans(incident, timeline):
            if plan.due is None:
                continue
            soon = plan.due - SOON_BEFORE
            for phase, at in ((ui.SOON, soon), (ui.DUE, plan.due)):
                if phase == ui.SOON and soon <= now:
                    continue
                payload = {"audience": plan.name, "due": int(plan.due.timestamp()), "phase": phase}
                await self.scheduler.schedule(
                    REMIND,
                    at,
                    payload,
                    incident_id=incident.id,
                    key=remind_key(incident.id, plan.name, plan.due, phase, reopened),
                )
        await self.refresh_summary(incident.id)

    async def remind(self, timer: Timer) -> None:
        incident = await self.incidents.get(timer.incident_id or 0)
        if incident is None:
            return
        audience, phase = str(timer.payload["audience"]), str(timer.payload["phase"])
        plan = next((p for p in await self.plans(incident) if p.name == audience), None)
        if plan is None or plan.due is None or int(plan.due.timestamp()) != timer.payload["due"]:
            return  # told, waived, resolved or moved since: the replan set the timers that matter now
        owner = self.owner(incident, plan)
        if incident.channel_id:
            message = ui.reminder(incident, plan, owner, phase, self.config, self.now())
            await self.slack.post(incident.channel_id, message)
        what = "due soon" if phase == ui.SOON else "due now"
        await self.incidents.append(
            incident.id,
            NewEvent(
                EventKind.COMMUNICATION_DUE,
                None,
                f"{ui.label(plan)}: notice {what}, reminded {'<@' + owner + '>' if owner else 'nobody'}",
                {"audience": audience, "phase": phase, "due": plan.due.isoformat(), "owner": owner},
            ),
            self.now(),
            once=timer.key or remind_key(incident.id, audience, plan.due, phase),
        )
        await self.refresh_summary(incident.id)

    # -- the owner's answers --------------------------------------------------------------------------------
    async def not_needed(self, incident_id: int, audience: str, reason: str, actor: str, key: str) -> bool:
        """Record "Not needed" once per `key` (a form submitted twice is recorded once)."""
        reason = reason.strip()
        if not reason:
            raise DomainError("Say why this audience need not be told: it goes into the post-mortem.")
        incident = await self.incidents.require(incident_id)
        plan = await self.plan(incident, audience)
        event = await self.incidents.append(
            incident.id,
            NewEvent(
                EventKind.AUDIENCE_NOT_NEEDED,
                actor,
                f"{ui.label(plan)} not told: {reason}",
                {"audience": audience, "reason": reason, "severity": incident.severity},
            ),
            self.now(),
            once=key,
        )
        if event is None:
            return False
        if incident.channel_id:
            text = f":no_bell: <@{actor}>: *{ui.label(plan)}* need not be told ({reason})."
            await self.slack.post_or_log(incident.channel_id, notice(text), f"{incident.reference} waiver")
        await self.replan(incident.id)
        return True

    def call_task(self, incident: Incident, plan: AudiencePlan) -> Message:
        notice = Notice(UPDATE, incident, self.now(), incident.status, known=incident.summary)
        script = self.templates.slack_text(plan.name, plan.audience, notice)
        return ui.call_task(incident, plan, script, self.owner(incident, plan), self.config)

    async def post_call_tasks(self, incident: Incident, once: str) -> None:
        """The Customer Liaison's call task for each call-list audience now due, once per `once`."""
        if not incident.channel_id:
            return
        for plan in await self.plans(incident):
            if not plan.audience.call_list or plan.due is None or plan.told:
                continue
            [first] = await self.incidents.claim_many([f"{once}:{plan.name}"])
            if first:
                await self.slack.post(incident.channel_id, self.call_task(incident, plan))

    async def record_call(
        self, incident_id: int, audience: str, index: int, outcome: str, actor: str, key: str
    ) -> tuple[Incident, AudiencePlan]:
        """One click on a call button: a timeline event once per `key`; returns the plan it leaves."""
        if outcome not in CALL_OUTCOMES:
            raise DomainError(f"Unknown call outcome {outcome!r}.")
        incident = await self.incidents.require(incident_id)
        plan = await self.plan(incident, audience)
        if not 0 <= index < len(plan.audience.call_list):
            raise DomainError("That customer is no longer in the call list; the config changed.")
        contact = plan.audience.call_list[index]
        await self.incidents.append(
            incident.id,
            NewEvent(
                EventKind.CUSTOMER_CALL,
                actor,
                f"{contact.name}: {CALL_OUTCOMES[outcome]}",
                {"audience": audience, "contact": contact.name, "outcome": outcome},
            ),
            self.now(),
            once=key,
        )
        await self.replan(incident.id)
        return incident, await self.plan(incident, audience)
