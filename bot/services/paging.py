"""Paging: the severity's escalation policy, acknowledgements, "Escalate now", and pages by hand.

Each wait of a policy is a durable timer. Slack DMs with Acknowledge / Escalate buttons always go out;
PagerDuty and Opsgenie, when configured, get one alert per incident (dedup key `incidentbot-<id>`),
acknowledged and resolved with it. Opsgenie applies requests later: a durable timer asks whether it did.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident
from bot.drills.scenario import participants_of
from bot.formatting import escape_mrkdwn, human_duration
from bot.integrations.pagers import ConfirmsLater, PageReceipt, PagerFailure, PagerProvider
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import notice
from bot.metrics import Metrics
from bot.oncall.engaged import engaged_line
from bot.oncall.escalation import Position, next_notify, walk
from bot.oncall.messages import is_page, page_answered, page_dm
from bot.oncall.settings import Notify, Step
from bot.oncall.store import ACTIVE, EXHAUSTED, SENDING, TAKEN, Page, PagingStore
from bot.services.hooks import Change, IncidentHooks
from bot.services.rota import Rota
from bot.store import IncidentStore, NewEvent
from bot.templating import slack_time
from bot.timers import PAGE_PRIORITY, NewTimer, Scheduler, Timer

log = logging.getLogger(__name__)

ESCALATE = "escalate"
CONFIRM = "paging.confirm"
CONFIRM_AFTER = timedelta(seconds=5)
CONFIRM_ATTEMPTS = 4
"""Asked after 5, 10, 15 and 20 s: Opsgenie usually applies a request within a second or two."""
HARMLESS = ("already closed", "already acknowledged")
"""Outcomes that mean the alert is where we wanted it anyway (closed or acked in Opsgenie first)."""
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
PROVIDER_SEVERITIES = ("critical", "error", "warning")
"""PagerDuty severity of the first, second, third severity in the config; later ones are "info"."""


def who(by: str) -> str:
    """A Slack user id as a mention; a name a provider gave as text."""
    return f"<@{by}>" if SLACK_USER.fullmatch(by) else escape_mrkdwn(by)


def dedup_key(incident_id: int) -> str:
    return f"incidentbot-{incident_id}"


def incident_of_key(key: str) -> int | None:
    prefix, _, number = key.rpartition("-")
    return int(number) if prefix == "incidentbot" and number.isdigit() else None


class Paging(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {
        "declared": "start the escalation policy",
        "set_up": "tell the paging providers",
        "channel_created": "show the channel in the pages",
        "severity_changed": "start the escalation policy",
        "resolved": "close the pages",
        "reopened": "restart the escalation policy",
    }
    what_to_do = "Page people by hand with `/incident page @user`."
    before_channel: ClassVar[frozenset[Change]] = frozenset({"declared"})

    def __init__(
        self,
        config: AppConfig,
        incidents: IncidentStore,
        store: PagingStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        providers: list[PagerProvider],
        metrics: Metrics,
        now: Callable[[], datetime],
        rota: Rota,
    ) -> None:
        self.config, self.rota = config, rota
        self.incidents = incidents
        self.store = store
        self.scheduler = scheduler
        self.slack = slack
        self.providers = providers
        self.metrics = metrics
        self.now = now
        scheduler.on(ESCALATE, self.fire)
        self.refresh_summary: Callable[[int], Awaitable[None]] | None = None
        """Set once the incident service exists (it is built after its hooks)."""
        scheduler.on(CONFIRM, self.confirm)

    def policy(self, severity: str) -> list[Step]:
        return self.config.oncall.escalation.get(severity, [])

    # -- incident changes ------------------------------------------------------------------------------
    async def declared(self, incident: Incident) -> None:
        """Start the policy as soon as the incident is recorded; its first page does not wait for the
        channel (PagerDuty / Opsgenie are told in `set_up`, where a failure can be shown)."""
        await self._start(incident)

    async def set_up(self, incident: Incident) -> None:
        if self.policy(incident.severity):
            await self._providers(incident, "trigger")

    async def channel_created(self, incident: Incident) -> None:
        """A page sent before the channel existed said "no channel yet": it shows the channel now."""
        for page in await self.store.pages(incident.id):
            if page.status == "sent" and page.provider == "slack" and page.channel and page.ts:
                try:
                    await self.slack.update(
                        page.channel, page.ts, page_dm(incident, page.reason, page.id, self.config)
                    )
                except SlackFailure as failure:
                    log.info("could not show the channel in page %s: %s", page.id, failure)

    async def start_in(self, session: AsyncSession, incident_id: int, severity: str, now: datetime) -> bool:
        """Start the policy in the transaction that records the incident (an alert webhook): its first
        page is due the moment that commits. The caller kicks the scheduler after the commit."""
        if not self.policy(severity):
            return False
        first = self._step_timer(incident_id, Position(0, 0), now)
        return await self.store.start_in(session, incident_id, severity, now, first)

    async def _start(self, incident: Incident) -> bool:
        first = self._step_timer(incident.id, Position(0, 0), self.now())
        if not self.policy(incident.severity) or not await self.store.start(
            incident.id, incident.severity, self.now(), first
        ):
            return False
        self.scheduler.kick()
        return True

    async def severity_changed(self, incident: Incident) -> None:
        """Raising an incident to a severity with a policy starts paging if nothing was paging yet."""
        if await self.store.get(incident.id) is None and await self._start(incident):
            await self._providers(incident, "trigger")

    async def reopened(self, incident: Incident) -> None:
        if not self.policy(incident.severity) or await self.store.get(incident.id) is None:
            await self.severity_changed(incident)
            return
        first = self._step_timer(incident.id, Position(0, 0), self.now())
        await self.store.restart(incident.id, incident.severity, self.now(), first)
        self.scheduler.kick()
        await self._providers(incident, "trigger")

    async def resolved(self, incident: Incident) -> None:
        await self.scheduler.store.cancel(incident.id, ESCALATE)
        if await self.store.close(incident.id):
            await self._providers(incident, "resolve")
        for page in await self.store.pages(incident.id):
            if page.status == "sent":
                await self._answer_dm(incident, page, f":white_check_mark: {incident.reference} is resolved.")
                await self.store.set_status(page.id, "closed")

    # -- the policy, step by step ----------------------------------------------------------------------
    def _step_timer(self, incident_id: int, position: Position, due: datetime) -> NewTimer:
        payload = {"incident_id": incident_id, "round": position.round, "step": position.step}
        return NewTimer(ESCALATE, due, payload, incident_id=incident_id, priority=PAGE_PRIORITY)

    async def fire(self, timer: Timer) -> None:
        """Run the policy from the timer's position to its next wait.

        The escalation moves on, the timer of the next step is added and this timer is marked `taken`, in
        one commit before anyone is paged; the pages follow. A timer repeated because its worker died
        after that commit sees it took the step and finishes the pages it had not sent (unless someone
        acknowledged meanwhile); each page is found again by its step key, so nobody is paged twice and
        the policy always goes on."""
        incident_id = int(timer.payload["incident_id"])
        at = Position(int(timer.payload["round"]), int(timer.payload["step"]))
        escalation = await self.store.get(incident_id)
        if escalation is None or escalation.status not in (ACTIVE, EXHAUSTED):
            return  # acknowledged or closed
        steps = self.policy(escalation.policy)
        plan = walk(steps, at)
        if plan.resume is None and plan.notifies:
            # The policy ends on a page: those paged get the severity's time to acknowledge before the
            # policy is said to have run out (walking from past the end finds nothing left to do).
            plan = replace(
                plan, resume=Position(at.round, len(steps)), wait=self._answer_time(escalation.policy)
            )
        if not timer.payload.get(TAKEN):
            if escalation.status != ACTIVE or escalation.position != at:
                return  # moved on by "Escalate now" or by another process
            then = (
                self._step_timer(incident_id, plan.resume, self.now() + plan.wait)
                if plan.resume is not None
                else None
            )
            taken = (timer.id, timer.payload)
            if not await self.store.advance(
                incident_id, at, plan.resume, self.now(), taken_by=taken, then=then
            ):
                return  # another process took this step
            if then is not None and then.due_at <= self.now():
                self.scheduler.kick()
        incident = await self.incidents.get(incident_id)
        if incident is None:
            return
        paged: list[str] = []
        for index, target in plan.notifies:
            step = f"{timer.id}:{index}"
            paged += await self._notify(
                incident, target, f"step {index + 1} of the {escalation.policy} policy", step
            )
        incident = await self.incidents.get(incident_id) or incident  # its channel may exist by now
        if paged:
            then_text = ""
            if plan.resume is not None:
                wait = human_duration(plan.wait)
                last = plan.resume.step >= len(steps)
                then_text = (
                    f"; {'the policy runs out' if last else 'next step'} in {wait} unless acknowledged"
                )
            await self._tell(incident, f":pager: Paged {', '.join(paged)}{then_text}.")
            await self._refresh_summary(incident_id)
        if plan.resume is None:
            await self.incidents.append(
                incident_id,
                NewEvent(EventKind.ESCALATION_EXHAUSTED, None, f"{escalation.policy} policy exhausted"),
                self.now(),
            )
            await self._tell(
                incident,
                f":rotating_light: The {escalation.policy} escalation policy has run out and nobody has "
                "acknowledged. Page someone with `/incident page @user`.",
            )

    async def summary_lines(self, incident: Incident) -> list[str]:
        escalation = await self.store.get(incident.id)
        pages = await self.store.pages(incident.id)
        if escalation is None and not pages:
            return []
        waiting = await self.scheduler.store.pending(incident.id, ESCALATE)
        next_step = min((t.due_at for t in waiting), default=None)
        line = engaged_line(escalation, pages, next_step, self.config)
        return [line] if line else []

    async def _refresh_summary(self, incident_id: int) -> None:
        if self.refresh_summary is not None:
            try:
                await self.refresh_summary(incident_id)
            except SlackFailure as failure:  # cosmetic: the next change refreshes it again
                log.info("incident %s: summary not refreshed: %s", incident_id, failure.error)

    def _answer_time(self, policy: str) -> timedelta:
        """The severity's response target: how long the last people paged have to acknowledge."""
        severity = self.config.severity(policy)
        return severity.response_target if severity else timedelta(minutes=15)

    async def _notify(self, incident: Incident, target: Notify, why: str, step: str) -> list[str]:
        users, who = await self._targets(incident, target)
        bot = await self.slack.bot_user_id()
        users = [user for user in users if user != bot]  # e.g. the IC of an incident Alertmanager declared
        if not users:
            reason = f"nobody to page ({who}) at {why}"
            await self.incidents.append(
                incident.id, NewEvent(EventKind.PAGE_FAILED, None, reason, {"reason": reason}), self.now()
            )
            await self._tell(incident, f":warning: {reason.capitalize()}.")
            return []
        pages = [
            await self.page_user(incident, user, f"{who}, {why}", step_key=f"{step}:{user}") for user in users
        ]
        return [f"<@{page.target}>" for page in pages if page.status == "sent"]

    async def _targets(self, incident: Incident, target: Notify) -> tuple[list[str], str]:
        if incident.drill:  # a drill pages its participants, whoever the policy names
            return participants_of(incident), "a drill participant"
        if target.schedule:
            schedule = self.config.oncall.schedule(target.schedule)
            shift = await self.rota.on_call(schedule, self.now()) if schedule else None
            name = schedule.name if schedule else target.schedule
            return ([shift.user] if shift else []), f"on call for {name}"
        if target.usergroup:
            return await self.slack.usergroup_members(target.usergroup), f"in <!subteam^{target.usergroup}>"
        if target.role:
            role = self.config.role(target.role)
            holder = incident.roles.get(role.id if role else target.role)
            return ([holder] if holder else []), role.name if role else target.role
        return list(target.users), "named in the escalation policy"

    async def page_user(
        self, incident: Incident, user: str, reason: str, step_key: str | None = None
    ) -> Page:
        """DM one person with Acknowledge / Escalate; the page is recorded whether or not Slack took it.

        With a `step_key` (a policy step) the page row is written before the DM and found again when the
        step is repeated after a crash: a page already delivered is not sent again, and one whose post
        may have reached Slack before the crash is looked for in the DM first."""
        if step_key is None:
            page = await self.store.add_page(incident.id, "slack", user, reason, self.now(), status=SENDING)
        else:
            page = await self.store.step_page(incident.id, step_key, user, reason, self.now())
            if page.status != SENDING:
                return page  # delivered (or refused) before the crash
        channel, ts, error = page.channel, None, None
        try:
            if channel is None:
                channel = await self.slack.open_dm(user)
                await self.store.dm_opened(page.id, channel)
            else:
                ts = await self._posted_before(channel, page.id)
            if ts is None:
                ts = await self.slack.post(channel, page_dm(incident, reason, page.id, self.config))
        except SlackFailure as failure:
            error = failure.error
            log.warning("incident %s: could not page %s: %s", incident.id, user, error)
        await self.store.delivered(page.id, channel, ts if error is None else None, error)
        self.metrics.paged("slack", "failed" if error else "sent")
        kind = EventKind.PAGE_FAILED if error else EventKind.PAGE_SENT
        text = f"could not page <@{user}>: {error}" if error else f"paged <@{user}>"
        data = {"user": user, "reason": reason, "page_id": page.id, "provider": "slack", "error": error}
        await self.incidents.append(incident.id, NewEvent(kind, None, text, data), self.now())
        if error:
            await self._tell(incident, f":warning: Could not page <@{user}> ({error}). Call them.")
        return (await self.store.page(page.id)) or page

    async def _posted_before(self, channel: str, page_id: int) -> str | None:
        """The ts of this page's DM if an interrupted attempt got it to Slack."""
        for message in await self.slack.recent_messages(channel):
            if is_page(message, page_id):
                return str(message.get("ts"))
        return None

    # -- what people do with a page --------------------------------------------------------------------
    async def page_by_hand(
        self, incident_id: int, users: list[str], schedule_id: str | None, actor: str
    ) -> str:
        incident = await self.incidents.require(incident_id)
        if schedule_id:
            schedule = self.config.oncall.schedule(schedule_id)
            if schedule is None:
                known = ", ".join(f"`{s.id}`" for s in self.config.oncall.schedules) or "none configured"
                raise DomainError(f"Unknown schedule {schedule_id!r} (schedules: {known}).")
            shift = await self.rota.on_call(schedule, self.now())
            if shift is None:
                raise DomainError(f"Nobody is on call for {schedule.name} right now.")
            users = [shift.user]
        reason = f"paged by <@{actor}>"
        pages = [await self.page_user(incident, user, reason) for user in dict.fromkeys(users)]
        sent = [f"<@{p.target}>" for p in pages if p.status == "sent"]
        if sent:
            await self._tell(incident, f":pager: <@{actor}> paged {', '.join(sent)}.")
        return f"Paged {', '.join(sent)}." if sent else "Nobody could be paged; see the channel."

    async def acknowledge(self, incident_id: int, user: str, via: str = "slack") -> str:
        """Stop the escalation; the first acknowledgement records the time to acknowledge.

        `user` is a Slack user id, or for `via` "pagerduty" / "opsgenie" the name that provider gave.
        """
        incident = await self.incidents.require(incident_id)
        now = self.now()
        by = user if via == "slack" else f"{user} ({via})"[:80]
        answered = await self.store.ack_pages(incident.id, by, now)
        stopped = await self.store.acknowledge(incident.id, by, now)
        await self.scheduler.store.cancel(incident.id, ESCALATE)
        earlier: tuple[str | None, datetime] | None = None
        if stopped or (answered and not await self._acked_before(incident.id, now)):
            # Two clicks can each change something (one the pages, the other the escalation): the
            # unique key of this incident's acknowledgement (per reopening) decides which one was first.
            reopened = await self.incidents.last_event(incident.id, EventKind.REOPENED)
            key = f"acknowledged:{incident.id}:{reopened.id if reopened else 0}"
            earlier = await self.incidents.first(key, by, now)
            first = earlier is None
        else:
            first = False
        if first:  # the timeline first: whoever sees the answered page can already read the ack there
            await self._record_ack(incident, by, via, now)
        for page in answered:
            await self._answer_dm(
                incident,
                page,
                f":white_check_mark: Acknowledged by {who(earlier[0] if earlier and earlier[0] else by)}.",
            )
        if not first:
            if earlier is None:
                escalation = await self.store.get(incident.id)
                if escalation and escalation.acked_by:
                    earlier = (escalation.acked_by, escalation.acked_at or now)
            by_whom = f" by {who(earlier[0])}" if earlier and earlier[0] else ""
            when = f" at {slack_time(earlier[1], self.config, '%H:%M')}" if earlier else ""
            return f"{incident.reference} was already acknowledged{by_whom}{when}."
        await self._providers(incident, "acknowledge", skip=via)
        await self._refresh_summary(incident.id)
        return f"You acknowledged {incident.reference}." + await self._join_hint(incident, user, via)

    async def _join_hint(self, incident: Incident, user: str, via: str) -> str:
        """ " Join #inc-…" only for someone not in the channel yet (asking costs one call; if it fails,
        the hint is given)."""
        if not incident.channel_id:
            return " The incident channel is not created yet; you will be told when it is."
        if via == "slack":
            try:
                if await self.slack.is_member(incident.channel_id, user):
                    return f" You are in <#{incident.channel_id}>."
            except SlackFailure as failure:
                log.info("%s: membership of %s unknown: %s", incident.reference, user, failure.error)
        return f" Join <#{incident.channel_id}>."

    async def _acked_before(self, incident_id: int, now: datetime) -> bool:
        return any(p.acked_at and p.acked_at < now for p in await self.store.pages(incident_id))

    async def _record_ack(self, incident: Incident, by: str, via: str, now: datetime) -> None:
        took = now - incident.created_at
        severity = self.config.severity(incident.severity)
        target = severity.response_target if severity else None
        met = target is None or took <= target
        data = {
            "user": by,
            "via": via,
            "time_to_acknowledge_seconds": took.total_seconds(),
            "target_seconds": target.total_seconds() if target else None,
            "target_met": met,
        }
        actor = by if via == "slack" else None
        await self.incidents.append(
            incident.id, NewEvent(EventKind.PAGE_ACKED, actor, "acknowledged", data), now
        )
        self.metrics.acknowledged(incident.severity, took)
        outcome = "met" if met else "*missed*"
        verdict = f"{incident.severity} target {human_duration(target)}: {outcome}" if target else ""
        await self._tell(
            incident,
            f":white_check_mark: {who(by)} acknowledged the page; time to acknowledge "
            f"{human_duration(took)}" + (f" ({verdict})." if verdict else "."),
        )

    async def escalate_now(self, incident_id: int, user: str) -> str:
        """Skip the wait: page the next step of the policy at once."""
        incident = await self.incidents.require(incident_id)
        escalation = await self.store.get(incident.id)
        if escalation is None or escalation.status != ACTIVE:
            return f"{incident.reference} is not escalating (acknowledged, run out, or no policy)."
        target = next_notify(self.policy(escalation.policy), escalation.position)
        if target is None:
            return f"The {escalation.policy} policy has no further step; page someone with `/incident page`."
        then = self._step_timer(incident.id, target, self.now())
        if not await self.store.advance(
            incident.id, escalation.position, target, self.now(), then=then, cancel_pending=ESCALATE
        ):
            return "Someone escalated it a moment ago."
        self.scheduler.kick()
        await self.incidents.append(
            incident.id,
            NewEvent(EventKind.ESCALATED, user, "escalated by hand", {"step": target.step + 1}),
            self.now(),
        )
        await self._tell(incident, f":arrow_double_up: <@{user}> escalated to the next step.")
        return f"Escalated {incident.reference} to step {target.step + 1}."

    async def _incident_of_page(self, page_id: int) -> int:
        page = await self.store.page(page_id)
        if page is None:
            raise DomainError("This page is unknown (the database may have been reset).")
        return page.incident_id

    async def acknowledge_page(self, page_id: int, user: str) -> str:
        return await self.acknowledge(await self._incident_of_page(page_id), user)

    async def escalate_page(self, page_id: int, user: str) -> str:
        """A page's Escalate button escalates once (a double click, or two people on one page, would
        otherwise skip two steps); the unique key of the page's escalation decides who was first."""
        incident_id = await self._incident_of_page(page_id)
        earlier = await self.incidents.first(f"escalated-from-page:{page_id}", user, self.now())
        if earlier is not None:
            incident = await self.incidents.require(incident_id)
            by = f" by {who(earlier[0])}" if earlier[0] else ""
            return (
                f"{incident.reference} was already escalated from this page{by} at "
                f"{slack_time(earlier[1], self.config, '%H:%M')}."
            )
        return await self.escalate_now(incident_id, user)

    async def acknowledge_key(self, key: str, user: str, via: str) -> str | None:
        """A provider said someone acknowledged there (PagerDuty / Opsgenie webhook)."""
        incident_id = incident_of_key(key)
        if incident_id is None or await self.incidents.get(incident_id) is None:
            return None
        return await self.acknowledge(incident_id, user, via)

    def first_responder(self, severity: str) -> str | None:
        """Who the severity's policy pages first, when that is one person: a sensible IC for an incident
        nobody declared by hand (Alertmanager)."""
        first = next((step.notify for step in self.policy(severity) if step.notify), None)
        if first is None:
            return None
        if first.schedule:
            schedule = self.config.oncall.schedule(first.schedule)
            shift = self.rota.cached_on_call(schedule, self.now()) if schedule else None
            return shift.user if shift else None
        return first.users[0] if len(first.users) == 1 else None

    # -- plumbing --------------------------------------------------------------------------------------
    async def _answer_dm(self, incident: Incident, page: Page, text: str) -> None:
        if page.channel and page.ts:
            try:
                await self.slack.update(page.channel, page.ts, page_answered(incident, text))
            except SlackFailure as failure:
                log.info("could not update page %s: %s", page.id, failure)

    async def _tell(self, incident: Incident, text: str) -> None:
        if incident.channel_id:
            await self.slack.post_or_log(incident.channel_id, notice(text), f"incident {incident.id} paging")

    def _provider_severity(self, incident: Incident) -> str:
        ids = [s.id for s in self.config.severities]
        index = ids.index(incident.severity) if incident.severity in ids else len(ids)
        return PROVIDER_SEVERITIES[index] if index < len(PROVIDER_SEVERITIES) else "info"

    async def _providers(self, incident: Incident, action: str, skip: str | None = None) -> None:
        """Tell PagerDuty / Opsgenie (not `skip`, which told us; never of a drill); one failing is said."""
        key = dedup_key(incident.id)
        for provider in [] if incident.drill else self.providers:
            if provider.name == skip:
                continue
            try:
                receipt = await self._provider_call(provider, incident, action, key)
            except PagerFailure as failure:
                await self._provider_failed(incident, provider.name, action, f"failed: {failure.error}")
                continue
            self.metrics.paged(provider.name, action)
            if action == "trigger":
                data = {"provider": provider.name, "dedup_key": key}
                event = NewEvent(EventKind.PAGE_SENT, None, f"{provider.name} alert {key}", data)
                await self.incidents.append(incident.id, event, self.now())
            if isinstance(provider, ConfirmsLater) and receipt.reference:
                payload = {"incident_id": incident.id, "provider": provider.name, "action": action}
                await self._confirm_at(1, {**payload, "request_id": receipt.reference})

    async def _confirm_at(self, attempt: int, payload: dict[str, Any]) -> None:
        due, incident_id = self.now() + CONFIRM_AFTER * attempt, int(payload["incident_id"])
        await self.scheduler.schedule(CONFIRM, due, {**payload, "attempt": attempt}, incident_id=incident_id)

    async def confirm(self, timer: Timer) -> None:
        """Ask the provider what became of an accepted request; say so when it was not applied."""
        payload = timer.payload
        name, action, attempt = str(payload["provider"]), str(payload["action"]), int(payload["attempt"])
        provider = next((p for p in self.providers if p.name == name), None)
        incident = await self.incidents.get(int(payload["incident_id"]))
        if not isinstance(provider, ConfirmsLater) or incident is None:
            return
        try:
            outcome = await provider.outcome(str(payload["request_id"]))
        except PagerFailure as failure:
            log.warning("incident %s: could not ask %s about its %s: %s", incident.id, name, action, failure)
            outcome = None
        if outcome is None:
            if attempt < CONFIRM_ATTEMPTS:
                await self._confirm_at(attempt + 1, payload)
            else:
                await self._tell(
                    incident,
                    f":grey_question: {name} accepted the {action} of {incident.reference} but has not said "
                    f"whether it applied it (request {payload['request_id']}); check {name}.",
                )
            return
        if not outcome.applied and not any(h in outcome.status.lower() for h in HARMLESS):
            await self._provider_failed(incident, name, action, f"was not applied: {outcome.status}")

    async def _provider_failed(self, incident: Incident, provider: str, action: str, what: str) -> None:
        self.metrics.paged(provider, "failed")
        text = f"{provider} {action} {what}"
        data = {"provider": provider, "action": action}
        await self.incidents.append(
            incident.id, NewEvent(EventKind.PAGE_FAILED, None, text, data), self.now()
        )
        await self._tell(incident, f":warning: {text}")

    async def _provider_call(
        self, provider: PagerProvider, incident: Incident, action: str, key: str
    ) -> PageReceipt:
        if action == "acknowledge":
            return await provider.acknowledge(key)
        if action == "resolve":
            return await provider.resolve(key)
        channel = incident.channel_id
        link = f"https://slack.com/app_redirect?channel={channel}" if channel else None
        details = {"incident": incident.reference, "status": incident.status, "service": incident.service}
        summary = f"{incident.reference} {incident.severity}: {incident.title}"
        return await provider.trigger(key, summary, self._provider_severity(incident), details, link)
