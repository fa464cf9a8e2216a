"""Shift changes and the monthly load summary, on the durable timers.

Each schedule has a timer keyed by the instant of its next shift change (`oncall.handoff:<id>:<instant>`):
whoever starts first adds it, a second replica adds nothing, and the claim makes one of them fire it.
Firing posts the hand-off summary to the team's channel and DMs both people, syncs the user group, and
adds the timer of the change after. A swap that moves the next change adds the timer of the new instant;
a timer whose instant is no longer a change finds nothing to hand off and only plans the next. Each post
is claimed by its key before it is sent, so a timer repeated after a crash never posts twice.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from bot.config import AppConfig
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message, notice, truncate
from bot.oncall.handoff import FollowUp, HandoffFacts, handoff_summary
from bot.oncall.load_render import slack_summary
from bot.oncall.load_source import load_report
from bot.oncall.rota_store import RotaStore
from bot.oncall.schedules import Schedule, Shift, next_handoff, on_call, shifts
from bot.postmortem.store import ActionItemStore
from bot.services.rota import Rota
from bot.store import IncidentStore
from bot.timers import LATER_PRIORITY, Scheduler, Timer

log = logging.getLogger(__name__)

HANDOFF = "oncall.handoff"
LOAD_SUMMARY = "oncall.load_summary"
WEEK = timedelta(days=7)
JUST_BEFORE = timedelta(microseconds=1)


class Handoffs:
    def __init__(
        self,
        config: AppConfig,
        rota: Rota,
        store: RotaStore,
        incidents: IncidentStore,
        actions: ActionItemStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.rota = rota
        self.store = store
        self.incidents = incidents
        self.actions = actions
        self.scheduler = scheduler
        self.slack = slack
        self.now = now
        scheduler.on(HANDOFF, self.fire)
        scheduler.on(LOAD_SUMMARY, self.summarize_month)

    async def start(self) -> None:
        """Make sure every schedule's next shift change and the next monthly summary are planned."""
        for schedule in await self.rota.schedules():
            await self.plan(schedule, self.now())
        if self.config.oncall.load.report_channel:
            await self._plan_summary(self.now())

    async def plan(self, schedule: Schedule, after: datetime) -> None:
        change = next_handoff(schedule, after)
        if change is None:
            return
        at = change.start.astimezone(UTC)
        await self.scheduler.schedule(
            HANDOFF,
            at,
            {"schedule": schedule.id, "at": at.isoformat()},
            key=f"{HANDOFF}:{schedule.id}:{at.isoformat()}",
            priority=LATER_PRIORITY,
        )

    async def replan(self, schedule_ids: list[str]) -> None:
        """After a swap or an override: the next change may have moved."""
        for schedule in await self.rota.schedules():
            if schedule.id in schedule_ids:
                await self.plan(schedule, self.now())

    async def fire(self, timer: Timer) -> None:
        schedule_id, at = str(timer.payload["schedule"]), datetime.fromisoformat(timer.payload["at"])
        schedule = next((s for s in await self.rota.schedules(at - WEEK) if s.id == schedule_id), None)
        if schedule is None:
            return  # the schedule left the config
        try:
            outgoing, incoming = on_call(schedule, at - JUST_BEFORE), on_call(schedule, at)
            if (outgoing.user if outgoing else None) != (incoming.user if incoming else None):
                await self._hand_off(schedule, outgoing, incoming, at)
                await self.rota.request_sync([schedule.id], f"handoff:{at.isoformat()}")
        finally:
            await self.plan(schedule, at)

    async def facts(
        self, schedule: Schedule, outgoing: Shift | None, incoming: Shift | None, at: datetime
    ) -> HandoffFacts:
        since = outgoing.start if outgoing else at - WEEK
        declared = await self.incidents.declared_between(since, at)
        still_open = await self.incidents.list_open(self.config.resolved_status)
        incidents = sorted({i.id: i for i in [*declared, *still_open]}.values(), key=lambda i: i.id)
        ids = {i.id for i in incidents}
        follow_ups = [
            FollowUp(a.incident_id, a.text, a.owner, a.due)
            for a in await self.actions.open_items()
            if a.incident_id in ids
        ]
        escalating_ids = set(await self.store.escalating())
        return HandoffFacts(
            schedule=schedule,
            outgoing=outgoing,
            incoming=incoming,
            pages=await self.store.pages_between(since, at),
            incidents=incidents,
            open_actions=follow_ups,
            noisy=await self.store.noisiest_alerts(since, at),
            escalating=[i for i in incidents if i.id in escalating_ids],
            week_ahead=shifts(schedule, at, at + WEEK),
        )

    async def _hand_off(
        self, schedule: Schedule, outgoing: Shift | None, incoming: Shift | None, at: datetime
    ) -> None:
        message = handoff_summary(await self.facts(schedule, outgoing, incoming, at))
        key = f"{HANDOFF}:{schedule.id}:{at.isoformat()}"
        if schedule.channel:
            await self._send(f"{key}:channel", schedule.channel, message)
        people = dict.fromkeys(s.user for s in (outgoing, incoming) if s is not None)
        for user in people:
            await self._send(f"{key}:dm:{user}", None, message, user)

    async def _send(self, key: str, channel: str | None, message: Message, user: str | None = None) -> None:
        if not (await self.incidents.claim_many([key]))[0]:
            return  # sent by an earlier try of this timer
        try:
            if user is not None:
                await self.slack.direct_message(user, message)
            elif channel is not None:
                await self.slack.post(channel, message)
        except SlackFailure as failure:
            log.warning("hand-off %s not delivered: %s", key, failure)

    # -- the monthly load summary -------------------------------------------------------------------------
    async def _plan_summary(self, after: datetime) -> None:
        zone = self.config.zone
        local = after.astimezone(zone)
        first = (local.date().replace(day=1) + timedelta(days=32)).replace(day=1)
        due = datetime.combine(first, self.config.oncall.load.report_time, tzinfo=zone).astimezone(UTC)
        await self.scheduler.schedule(
            LOAD_SUMMARY,
            due,
            {"month": f"{first:%Y-%m}"},
            key=f"{LOAD_SUMMARY}:{first:%Y-%m}",
            priority=LATER_PRIORITY,
        )

    async def summarize_month(self, timer: Timer) -> None:
        """The previous calendar month's load, posted to `oncall.load.report_channel`."""
        zone = self.config.zone
        year, month = (int(part) for part in str(timer.payload["month"]).split("-"))
        end_day = date(year, month, 1)
        start_day = (end_day - timedelta(days=1)).replace(day=1)
        since = datetime.combine(start_day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        until = datetime.combine(end_day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        channel = self.config.oncall.load.report_channel
        try:
            if channel:
                report = await load_report(
                    self.store, self.config.oncall, since, until, zone, self.slack.user_zone
                )
                title = f"On-call load, {calendar.month_name[start_day.month]} {start_day.year}"
                text = truncate(slack_summary(report, title), 3000)
                await self._send(f"{LOAD_SUMMARY}:{timer.payload['month']}", channel, notice(text))
        finally:
            await self._plan_summary(until + timedelta(days=1))
