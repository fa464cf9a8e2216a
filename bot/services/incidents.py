"""Incident use cases. Driven by Slack handlers, the CLI, webhooks or tests alike.

Each use case writes its timeline event first and then tells Slack; a Slack failure is logged, put on
the timeline and shown in the channel, and never undoes the incident.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot import messages
from bot.communication.notices import PRIVATE_TEXT, hidden
from bot.config import COMMANDER_ROLE, AppConfig
from bot.domain import (
    AUDIENCES,
    AlreadySo,
    DeclareRequest,
    DomainError,
    EventKind,
    Incident,
    UpdateDraft,
    already_done,
    validate_title,
)
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.metrics import Metrics
from bot.services.batching import Batched, SharedRead
from bot.services.hooks import Change, IncidentHooks
from bot.services.incident_checks import IncidentChecks
from bot.services.setup import IncidentSetup, Outcome, Progress
from bot.store import IncidentStore, InTransaction, NewEvent, StaleChange
from bot.templating import Templates
from bot.timers import Scheduler

log = logging.getLogger(__name__)
T = TypeVar("T", Incident, Incident | None)
T = TypeVar("T")
RESPONDER_AUDIENCES = ("channel", "announcements")
"""Update audiences that are the responders' own (engineering): they see private incidents in full."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class IncidentService(IncidentChecks):
    def __init__(
        self,
        config: AppConfig,
        store: IncidentStore,
        slack: SlackGateway,
        templates: Templates,
        metrics: Metrics,
        now: Callable[[], datetime] = utcnow,
        hooks: list[IncidentHooks] | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.slack = slack
        self.templates = templates
        self.metrics = metrics
        self.now = now
        self.hooks = hooks if hooks is not None else []
        self.setup = IncidentSetup(
            config,
            store,
            slack,
            templates,
            now,
            scheduler,
            self._step,
            self._channel_ready,
            self._set_up,
            self.summary,
        )
        self.claim = Batched(store.claim_many)
        """`await claim(key)`: True the first time any replica sees `key`, False for Slack's retries of it."""
        self.listing = SharedRead(self._listing)
        """`/incident list`: read and rendered once per burst of requests."""

    # -- queries -------------------------------------------------------------------------------------
    async def in_channel(self, channel_id: str) -> Incident | None:
        return self._seen(await self.store.by_channel(channel_id))

    async def get(self, incident_id: int) -> Incident:
        return self._seen(await self.store.require(incident_id))

    async def list_open(self) -> list[Incident]:
        return [self._seen(i) for i in await self.store.list_open(self.config.resolved_status)]

    def _seen(self, incident: T) -> T:
        """A drill's channel read here (another replica may have created it) gets the banner too."""
        if isinstance(incident, Incident) and incident.drill and incident.channel_id:
            self.slack.drill_channels.add(incident.channel_id)
        return incident

    async def _listing(self) -> messages.Message:
        """Resolved ones too: someone asking may have missed the resolution."""
        now = self.now()
        since = now - timedelta(hours=24)
        open_incidents, resolved = await self.store.listing(self.config.resolved_status, since)
        return messages.incident_list(open_incidents, self.config, now, resolved=resolved)

    # -- declare -------------------------------------------------------------------------------------
    def validate_declare(self, request: DeclareRequest) -> DeclareRequest:
        title = validate_title(request.title)
        severity = self.config.severity(request.severity)
        if severity is None:
            known = ", ".join(s.id for s in self.config.severities)
            raise DomainError(f"Unknown severity {request.severity!r}; choose one of {known}.")
        if request.service and self.config.service(request.service) is None:
            raise DomainError(f"Unknown service {request.service!r}.")
        if len(request.summary) > messages.TEXT_LIMIT:
            raise DomainError(f"The summary is too long ({len(request.summary)} characters, max 3000).")
        return DeclareRequest(**{**request.__dict__, "title": title, "severity": severity.id})

    async def declare(self, request: DeclareRequest, key: str, on_ready: Progress | None = None) -> Outcome:
        """Record the incident once per `key`, then set up Slack; `on_ready` runs once the channel and the
        announcement exist, so the person declaring is not kept waiting for slower extras (Prometheus)."""
        request = self.validate_declare(request)
        incident, created = await self.store.create(
            request, key, self.config.initial_status, COMMANDER_ROLE, self.now()
        )
        if not created:
            return Outcome(incident, created=False)
        if not incident.drill:  # practice stays out of the counters
            self.metrics.declared(incident.severity)
        outcome = Outcome(incident)
        await self._run_hooks(outcome, "declared", before_channel=True)  # the page leaves first
        await self.setup.run(outcome, on_ready)
        await self._report_problems(outcome)
        return outcome

    async def declare_recorded(self, incident: Incident) -> Outcome:
        """Set up an incident an alert webhook recorded (and started paging for) in its own commit; once:
        a repeated job finds the set-up begun and does nothing."""
        if await self.setup.started(incident.id):
            return Outcome(incident, created=False)
        if not incident.drill:  # practice stays out of the counters
            self.metrics.declared(incident.severity)
        outcome = Outcome(incident)
        await self._run_hooks(outcome, "declared", before_channel=True)
        await self.setup.run(outcome, None)
        await self._report_problems(outcome)
        return outcome

    async def _channel_ready(self, outcome: Outcome, with_set_up: bool, late: bool = False) -> None:
        await self._run_hooks(outcome, "declared", before_channel=False)
        if with_set_up:
            await self._set_up(outcome)
        if late:
            await self._run_hooks(outcome, "channel_created")

    async def _set_up(self, outcome: Outcome) -> None:
        await self._run_hooks(outcome, "set_up")

    def _with_change(self, change: Change, incident_id: int) -> InTransaction:
        """The hooks' work that commits with the change itself (their durable jobs)."""

        async def within(session: AsyncSession, event_id: int) -> None:
            for hook in self.hooks:
                await hook.with_change(session, change, incident_id, event_id)

        return within

    async def _run_hooks(self, outcome: Outcome, change: Change, before_channel: bool | None = None) -> None:
        """The hooks that act on `change`; with `before_channel`, only those that do (or do not) act
        before the incident's channel exists (paging does: a page never waits for a channel)."""
        for hook in self.hooks:
            step = hook.steps.get(change)
            if before_channel is not None and (change in hook.before_channel) != before_channel:
                continue
            if step:
                await self._step(
                    outcome, step, hook.what_to_do, lambda o, h=hook: getattr(h, change)(o.incident)
                )

    # -- changes -------------------------------------------------------------------------------------
    async def set_status(self, incident_id: int, status: str, actor: str) -> Outcome:
        incident = await self.get(incident_id)
        async with self._first(f"The status of {incident.reference}", incident, EventKind.STATUS_CHANGED):
            status = self.check_status(incident, status)
            incident = await self.store.change(
                incident_id,
                self.now(),
                NewEvent(
                    EventKind.STATUS_CHANGED,
                    actor,
                    f"{incident.status} → {status}",
                    {"from": incident.status, "to": status},
                ),
                expect={"status": incident.status},
                status=status,
            )
        outcome = await self._refresh(incident, f"<@{actor}> changed the status to *{status}*.")
        await self._report_problems(outcome)
        return outcome

    async def set_severity(
        self, incident_id: int, severity_id: str, actor: str, reclassify: bool = False
    ) -> Outcome:
        """`reclassify` confirms a change to a resolved incident; it is recorded as such."""
        incident = await self.get(incident_id)
        async with self._first(f"The severity of {incident.reference}", incident, EventKind.SEVERITY_CHANGED):
            severity = self.check_severity(incident, severity_id, reclassify)
            reclassified, previous = self.is_resolved(incident), incident.severity
            order = [s.id for s in self.config.severities]
            direction = "up" if order.index(severity.id) < order.index(incident.severity) else "down"
            incident = await self.store.change(
                incident_id,
                self.now(),
                NewEvent(
                    EventKind.SEVERITY_CHANGED,
                    actor,
                    f"{incident.severity} → {severity.id}",
                    {
                        "from": incident.severity,
                        "to": severity.id,
                        "direction": direction,
                        **({"reclassified": True} if reclassified else {}),
                    },
                ),
                expect={"severity": incident.severity},
                also=self._with_change("severity_changed", incident_id),
                severity=severity.id,
            )
        verb = "raised" if direction == "up" else "lowered"
        said = f"<@{actor}> {verb} the severity to *{severity.label}*."
        if reclassified:
            said = (
                f"<@{actor}> reclassified this resolved incident from {previous} to *{severity.label}*; "
                f"reports count it as {severity.id} from now on."
            )
        outcome = await self._refresh(incident, said)
        await self._run_hooks(outcome, "severity_changed")
        await self._report_problems(outcome)
        return outcome

    async def assign_role(
        self,
        incident_id: int,
        role_text: str,
        user_id: str,
        actor: str,
        expect: str | object | None = None,
        extra: dict[str, Any] | None = None,
        said: str | None = None,
    ) -> Outcome:
        """With `expect`, the holder the change is conditional on (a transfer of command asked of the IC
        then in command); `said` replaces the channel notice, `extra` joins the event's data."""
        incident = await self.get(incident_id)
        named = self.config.role(role_text)
        what = f"The {named.name if named else role_text} of {incident.reference}"
        async with self._first(what, incident, EventKind.ROLE_ASSIGNED):
            role = self.check_role(incident, role_text, user_id)
            holder = incident.roles.get(role.id) if expect is None else expect
            incident, previous = await self.store.assign_role(
                incident_id, role.id, user_id, actor, self.now(), expect=holder, extra=extra
            )
        handover = f" (taking over from <@{previous}>)" if previous else ""
        outcome = Outcome(incident)
        if incident.channel_id:
            await self._step(
                outcome,
                "invite the new role holder",
                "Invite them by hand.",
                lambda o: self.slack.invite(o.incident.channel_id or "", [user_id]),
            )
        notice = said or f"<@{user_id}> is now *{role.name}*{handover}."
        outcome = await self._refresh(incident, notice, outcome)
        await self._report_problems(outcome)
        return outcome

    def render_update(self, incident: Incident, draft: UpdateDraft, actor: str) -> dict[str, str]:
        """The update as each audience reads it. A private incident's title and texts reach only the
        responders' own audiences (the channel, the internal announcements), never management."""
        private = incident.private
        return {
            audience: self.templates.render(
                f"update_{audience}.md.j2",
                incident=hidden(incident) if private and audience not in RESPONDER_AUDIENCES else incident,
                draft=replace(draft, known=PRIVATE_TEXT, doing="")
                if private and audience not in RESPONDER_AUDIENCES
                else draft,
                config=self.config,
                actor=actor,
                now=self.now(),
                severity=self.config.severity(incident.severity),
            )
            for audience in draft.audiences
        }

    def validate_update(self, draft: UpdateDraft) -> UpdateDraft:
        if draft.status not in self.config.statuses[:-1]:
            raise DomainError(f"Unknown status {draft.status!r}.")
        unknown = set(draft.audiences) - set(AUDIENCES)
        if unknown or not draft.audiences:
            raise DomainError("Choose at least one audience.")
        if not draft.known.strip():
            raise DomainError("Say what we know, even if it is little.")
        return draft

    async def post_update(self, incident_id: int, draft: UpdateDraft, actor: str) -> Outcome:
        draft = self.validate_update(draft)
        incident = await self.get(incident_id)
        if incident.status == self.config.resolved_status:
            raise DomainError(f"{incident.reference} is resolved; reopen it to post updates.")
        if draft.status != incident.status:
            incident = (await self.set_status(incident_id, draft.status, actor)).incident
        rendered = self.render_update(incident, draft, actor)
        now = self.now()
        due = now + timedelta(minutes=draft.next_update_minutes) if draft.next_update_minutes else None
        incident = await self.store.change(
            incident_id,
            now,
            NewEvent(
                EventKind.UPDATE_POSTED,
                actor,
                draft.known,
                {
                    "status": draft.status,
                    "known": draft.known,
                    "doing": draft.doing,
                    "next_update_minutes": draft.next_update_minutes,
                    "rendered": rendered,
                },
            ),
            also=self._with_change("update_posted", incident_id),
            last_update_at=now,
            next_update_due=due,
        )
        outcome = Outcome(incident)
        await self._publish(outcome, rendered)
        await self._run_hooks(outcome, "update_posted")
        await self._report_problems(outcome)
        return outcome

    async def _publish(self, outcome: Outcome, rendered: dict[str, str]) -> None:
        incident = outcome.incident
        targets = {
            "channel": (incident.channel_id, None),
            "announcements": (incident.announcement_channel, incident.announcement_ts),
            "management": (self.config.channels.management, None),
        }
        if incident.drill:  # a drill's updates stay in its channel (the gateway marks them)
            targets = dict.fromkeys(targets, (incident.channel_id, None))
        for audience, text in rendered.items():
            channel, thread = targets[audience]
            if not channel:
                outcome.problems.append(
                    f"No channel configured for the {audience} audience; not posted there."
                )
                continue
            message = messages.status_update(audience, text, incident)
            await self._step(
                outcome,
                f"post the update to {audience}",
                "Copy the text there by hand.",
                lambda o, c=channel, t=thread, m=message: self.slack.post(c, m, thread_ts=t),
            )

    async def add_note(
        self,
        incident_id: int,
        text: str,
        actor: str,
        permalink: str | None = None,
        kind: EventKind = EventKind.NOTE_ADDED,
        author: str | None = None,
    ) -> Incident:
        text = text.strip()
        if not text:
            raise DomainError("The note is empty: `/incident note <what happened>`.")
        await self.get(incident_id)
        await self.store.append(
            incident_id,
            NewEvent(
                kind,
                actor,
                text[:10_000],
                {
                    "permalink": permalink,
                    "author": author or actor,
                },
            ),
            self.now(),
        )
        return await self.get(incident_id)

    async def resolve(self, incident_id: int, resolution: str, actor: str) -> Outcome:
        incident = await self.get(incident_id)
        now = self.now()
        ttr = now - incident.created_at
        async with self._first(incident.reference, incident, EventKind.RESOLVED, verb="resolved"):
            resolution = self.check_resolve(incident, resolution)
            incident = await self.store.change(
                incident_id,
                now,
                NewEvent(
                    EventKind.RESOLVED,
                    actor,
                    resolution,
                    {"from": incident.status, "time_to_resolve_seconds": ttr.total_seconds()},
                ),
                expect={"status": incident.status},
                also=self._with_change("resolved", incident_id),
                status=self.config.resolved_status,
                resolved_at=now,
                resolution=resolution,
                next_update_due=None,
            )
        if not incident.drill:
            self.metrics.resolved(incident.severity, ttr)
        final = self.templates.render(
            "resolved_channel.md.j2",
            incident=incident,
            resolution=resolution,
            time_to_resolve=ttr,
            config=self.config,
            actor=actor,
            now=now,
            severity=self.config.severity(incident.severity),
        )
        draft = UpdateDraft(self.config.resolved_status, resolution, "", None, ("announcements",))
        public = self.render_update(incident, draft, actor) if incident.announcement_ts else {}
        outcome = await self._refresh(incident, None)
        await self._publish(outcome, {"channel": final, **public})
        await self._run_hooks(outcome, "resolved")
        await self._report_problems(outcome)
        return outcome

    async def reopen(self, incident_id: int, actor: str) -> Outcome:
        incident = await self.get(incident_id)
        async with self._first(incident.reference, incident, EventKind.REOPENED, verb="reopened"):
            if incident.status != self.config.resolved_status:
                raise AlreadySo(f"{incident.reference} is not resolved.")
            incident = await self.store.change(
                incident_id,
                self.now(),
                NewEvent(EventKind.REOPENED, actor, "reopened", {}),
                expect={"status": incident.status},
                status=self.config.initial_status,
                resolved_at=None,
                resolution=None,
            )
        outcome = await self._refresh(incident, f"<@{actor}> reopened the incident.")
        await self._run_hooks(outcome, "reopened")
        await self._report_problems(outcome)
        return outcome

    # -- plumbing ------------------------------------------------------------------------------------
    @asynccontextmanager
    async def _first(
        self, what: str, incident: Incident, *kinds: EventKind, verb: str = "changed"
    ) -> AsyncIterator[None]:
        """Turn a lost compare-and-set (or a change that is already so) into the answer the slower person
        sees: who did it, and when."""
        try:
            yield
        except (StaleChange, AlreadySo) as exc:
            last = await self.store.last_event(incident.id, *kinds)
            if isinstance(exc, AlreadySo) and last is None:
                raise
            raise already_done(
                f"{what} was already {verb}",
                last.actor if last else None,
                last.occurred_at if last else None,
                self.config.zone,
            ) from None

    async def summary(self, incident: Incident) -> messages.Message:
        """The pinned summary with the hooks' lines; a hook that cannot say its line leaves it out."""
        lines: list[str] = []
        for hook in self.hooks:
            try:
                lines += await hook.summary_lines(incident)
            except Exception:  # the summary must not fail for an extra line
                log.exception("%s: summary line of %s failed", incident.reference, type(hook).__name__)
        return messages.incident_summary(incident, self.config, lines)

    async def _update_summary(self, incident: Incident) -> None:
        if incident.channel_id and incident.summary_ts:
            await self.slack.update(incident.channel_id, incident.summary_ts, await self.summary(incident))

    async def refresh_summary(self, incident_id: int) -> None:
        """For a capability whose state shows in the summary (read again: the caller's copy may be old)."""
        incident = await self.store.get(incident_id)
        if incident is not None:
            await self._update_summary(incident)

    async def _refresh(
        self, incident: Incident, notice: str | None, outcome: Outcome | None = None
    ) -> Outcome:
        """Bring the pinned summary, topic and announcement in line with the stored incident."""
        outcome = outcome or Outcome(incident)
        outcome.incident = incident
        if incident.channel_id and incident.summary_ts:
            await self._step(
                outcome,
                "update the pinned summary",
                "The summary may be stale.",
                lambda o: self._update_summary(incident),
            )
            await self._step(outcome, "set the channel topic", "Set it by hand.", self.setup.set_topic)
        if incident.announcement_channel and incident.announcement_ts:
            await self._step(
                outcome,
                "update the announcement",
                "Edit it by hand.",
                lambda o: self.slack.update(
                    incident.announcement_channel or "",
                    incident.announcement_ts or "",
                    messages.announcement(incident, self.config, self.templates),
                ),
            )
        if notice and incident.channel_id:
            await self._step(
                outcome,
                "post to the incident channel",
                "",
                lambda o: self.slack.post(incident.channel_id or "", messages.notice(notice)),
            )
        return outcome

    async def _step(
        self, outcome: Outcome, step: str, what_to_do: str, action: Callable[[Outcome], Awaitable[T]]
    ) -> T | None:
        try:
            return await action(outcome)
        except SlackFailure as failure:
            error = failure.error
        except Exception as exc:  # an integration bug must not end the incident flow
            log.exception("step %r failed for incident %s", step, outcome.incident.id)
            error = f"{type(exc).__name__}: {exc}"
        log.warning("incident %s: could not %s: %s", outcome.incident.id, step, error)
        self.metrics.integration_error("slack", step)
        outcome.problems.append(f"Could not {step}: {error}. {what_to_do}".strip())
        await self.store.append(
            outcome.incident.id,
            NewEvent(
                EventKind.INTEGRATION_FAILED,
                None,
                f"could not {step}: {error}",
                {"step": step, "error": error},
            ),
            self.now(),
        )
        return None

    async def _report_problems(self, outcome: Outcome) -> None:
        """Show failures where responders look: the incident channel, best effort."""
        channel = outcome.incident.channel_id
        if not outcome.problems or not channel:
            return
        try:
            await self.slack.post(channel, messages.problems(outcome.problems))
        except SlackFailure as failure:
            log.error(
                "incident %s: could not report problems %s: %s",
                outcome.incident.id,
                outcome.problems,
                failure,
            )
