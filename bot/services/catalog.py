"""The catalog at work (issue 20): at declare the owner team is told and its on-call paged, the summary
shows the service's tier, its RTO counting down and what depends on it; an incident outlasting the RTO is
a timeline event told in the channel and to the management audience; `/incident service` shows a card.

The RTO breach is a durable timer keyed by incident (and reopening), scheduled at set-up and cancelled at
the resolution; when it fires it checks the incident again (a resolution that raced it wins), and its
`rto_breached` event is appended once per incident, so restarts, replicas and a timer left from before a
reopening tell nobody twice. The on-call page goes through `Paging.page_user` with a step key, so a
repeated set-up pages nobody twice, and it is skipped when the severity's escalation policy starts with
that same schedule (the policy pages them at once anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from bot.catalog import Catalog, Component
from bot.catalog import messages as ui
from bot.changes.messages import deploy_line
from bot.changes.store import DeployStore
from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident
from bot.integrations.slack import SlackGateway
from bot.messages import Message, notice
from bot.services.communication import Communication
from bot.services.hooks import Change, IncidentHooks
from bot.services.paging import Paging
from bot.services.slo import SLOService
from bot.slo.engine import evaluate
from bot.store import IncidentStore, NewEvent
from bot.timers import Scheduler, Timer

log = logging.getLogger(__name__)

RTO = "catalog.rto"
RTO_SOON = "catalog.rto_soon"
SOON_BEFORE = timedelta(minutes=10)
"""The channel hears this long before the RTO passes (or at half of a shorter RTO), and the summary's
countdown is brought up to date then."""


class RecentDeploys(Protocol):
    """The change tracking's answer for the card: the deploys to `service_id` in the last `hours`, newest
    first, each shown as `str(deploy)` (a line such as "v1.4.2 to production, 14:02 by ci")."""

    def __call__(self, service_id: str, hours: int) -> Awaitable[Sequence[object]]: ...


async def no_deploys(service_id: str, hours: int) -> Sequence[object]:
    return []


def deploys_from(store: DeployStore, config: AppConfig, now: Callable[[], datetime]) -> RecentDeploys:
    """The card's recent deploys from the change tracking's store: production ones, newest first."""

    async def recent(service_id: str, hours: int) -> Sequence[object]:
        end = now()
        found = await store.between(
            end - timedelta(hours=hours), end, [service_id], config.changes.production, limit=5
        )
        return [deploy_line(deploy, config) for deploy in found]

    return recent


def rto_key(incident_id: int, reopened: int) -> str:
    return f"catalog.rto:{incident_id}:{reopened}"


class ServiceCatalog(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {
        "set_up": "tell the service's owner team and page its on-call",
        "resolved": "stop the RTO countdown",
        "reopened": "restart the RTO countdown",
    }
    what_to_do = "Tell the owning team and page its on-call by hand (`/incident page <schedule>`)."

    def __init__(
        self,
        config: AppConfig,
        incidents: IncidentStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        paging: Paging,
        communication: Communication | None,
        slo: SLOService,
        now: Callable[[], datetime],
        refresh_summary: Callable[[int], Awaitable[None]],
    ) -> None:
        self.config = config
        self.catalog = Catalog(config.catalog, [s.id for s in config.services])
        self.incidents = incidents
        self.scheduler = scheduler
        self.slack = slack
        self.paging = paging
        self.communication = communication
        self.slo = slo
        self.now = now
        self.refresh_summary = refresh_summary
        self.recent_deploys: RecentDeploys = no_deploys
        """Set by the runtime to the deploy store's answer (the change tracking); none by default."""
        self.deploy_hours = 24
        scheduler.on(RTO, self.breach)
        scheduler.on(RTO_SOON, self.soon)

    # -- the API other capabilities use ----------------------------------------------------------------
    def service_ids(self) -> list[str]:
        return self.catalog.service_ids()

    def dependencies(self, service_id: str, transitive: bool = True) -> list[str]:
        return self.catalog.dependencies(service_id, transitive)

    def dependents(self, service_id: str, transitive: bool = True) -> list[str]:
        return self.catalog.dependents(service_id, transitive)

    # -- incident changes ------------------------------------------------------------------------------
    async def summary_lines(self, incident: Incident) -> list[str]:
        component = self.catalog.component(incident.service)
        if component is None:
            return []
        return ui.summary_lines(
            incident,
            component,
            self.dependencies(component.id, transitive=False),
            self.dependents(component.id),
            self.config,
            self.now(),
        )

    async def set_up(self, incident: Incident) -> None:
        component = self.catalog.component(incident.service)
        if component is None:
            return
        await self._schedule_rto(incident, component, reopened=0)
        await self._record_targets(incident, component)
        if incident.drill:  # practice: the real team and its on-call hear nothing (pages go to participants)
            owner = component.owner.team if component.owner else "the owning team"
            await self._say(incident, f"(drill preview: {owner} would be told and its on-call paged)")
        else:
            await self._tell_owners(incident, component)
            await self._page_on_call(incident, component)
        await self._offer_at_risk(incident, component)

    async def resolved(self, incident: Incident) -> None:
        await self.scheduler.store.cancel(incident.id, RTO, RTO_SOON)

    async def reopened(self, incident: Incident) -> None:
        component = self.catalog.component(incident.service)
        if component is not None:
            timeline = await self.incidents.timeline(incident.id)
            reopened = sum(1 for e in timeline if e.kind == EventKind.REOPENED)
            await self._schedule_rto(incident, component, reopened)

    async def _schedule_rto(self, incident: Incident, component: Component, reopened: int) -> None:
        due = ui.rto_deadline(incident, component)
        if due is None:
            return
        key = rto_key(incident.id, reopened)
        payload = {"service": component.id, "due": due.isoformat()}
        await self.scheduler.schedule(RTO, max(due, self.now()), payload, incident_id=incident.id, key=key)
        soon = due - min(SOON_BEFORE, (component.rto or SOON_BEFORE) / 2)
        if soon > self.now():
            await self.scheduler.schedule(RTO_SOON, soon, payload, incident_id=incident.id, key=f"{key}:soon")

    async def _record_targets(self, incident: Incident, component: Component) -> None:
        """The targets as they were at declare, for the post-mortem (the catalog may change later)."""
        data = {
            "service": component.id,
            "name": component.title,
            "tier": component.tier,
            "rto_seconds": component.rto.total_seconds() if component.rto else None,
            "rpo_seconds": component.rpo.total_seconds() if component.rpo else None,
            "sla": component.sla,
        }
        text = f"{component.title}: {ui.targets_text(component)}"
        event = NewEvent(EventKind.SERVICE_TARGETS, None, text, data)
        await self.incidents.append(incident.id, event, self.now(), once=f"catalog.targets:{incident.id}")

    async def _tell_owners(self, incident: Incident, component: Component) -> None:
        owner = component.owner
        if owner is None or not owner.slack_channel:
            return
        data = {"service": component.id, "team": owner.team, "channel": owner.slack_channel}
        text = f"{owner.team} told in <#{owner.slack_channel}> (owner of {component.title})"
        event = await self.incidents.append(
            incident.id,
            NewEvent(EventKind.OWNER_TEAM_TOLD, None, text, data),
            self.now(),
            once=f"catalog.owner:{incident.id}",
        )
        if event is not None:
            await self.slack.post(owner.slack_channel, ui.owner_notice(incident, component, self.config))

    async def _page_on_call(self, incident: Incident, component: Component) -> None:
        schedule = self.config.oncall.schedule(component.oncall) if component.oncall else None
        if schedule is None:
            return
        first = next(iter(self.paging.policy(incident.severity)), None)
        if first is not None and first.notify is not None and first.notify.schedule == schedule.id:
            return  # the escalation policy pages this schedule first anyway
        shift = await self.paging.rota.on_call(schedule, self.now())  # swaps and overrides count
        if shift is None:
            await self._say(incident, f":warning: Nobody is on call for {schedule.name} ({component.title}).")
            return
        reason = f"on call for {schedule.name}, which answers for {component.title}"
        await self.paging.page_user(
            incident, shift.user, reason, step_key=f"catalog:{incident.id}:{shift.user}"
        )

    async def _offer_at_risk(self, incident: Incident, component: Component) -> None:
        """With dependents on the status page, offer to add them to the draft (once per incident)."""
        if not incident.channel_id or not self.config.status_page.enabled:
            return
        names = {c.id: c.name for c in self.config.status_page.components}
        at_risk: dict[str, str] = {}
        for dependent in self.dependents(component.id):
            service = self.config.service(dependent)
            if service and service.status_component in names:
                at_risk.setdefault(service.status_component, names[service.status_component])
        own = self.config.service(component.id)
        at_risk.pop(own.status_component if own and own.status_component else "", None)
        if not at_risk:
            return
        [first] = await self.incidents.claim_many([f"catalog.at_risk:{incident.id}"])
        if first:
            await self.slack.post(incident.channel_id, ui.at_risk_offer(incident, component, at_risk))

    async def add_at_risk(self, incident_id: int, components: list[str], actor: str) -> list[str]:
        """The offer's button: the components join the status page draft as affected (a timeline event
        the draft reads); returns those added now (a second click adds nothing)."""
        incident = await self.incidents.require(incident_id)
        known = {c.id for c in self.config.status_page.components}
        wanted = [c for c in components if c in known]
        added = set(await self.at_risk_components(incident))
        new = [c for c in wanted if c not in added]
        if not new:
            return []
        event = await self.incidents.append(
            incident.id,
            NewEvent(
                EventKind.AT_RISK_ADDED,
                actor,
                f"status page draft: {', '.join(new)} affected",
                {"components": new},
            ),
            self.now(),
            once=f"catalog.at_risk_added:{incident.id}:{','.join(sorted(new))}",  # two clicks at once: one
        )
        return new if event is not None else []

    async def at_risk_components(self, incident: Incident) -> list[str]:
        """The components added to the status page draft from the offer, in the order they were."""
        timelines = await self.incidents.timelines([incident.id], [EventKind.AT_RISK_ADDED])
        found: list[str] = []
        for event in timelines.get(incident.id, []):
            found += [str(c) for c in event.data.get("components", []) if str(c) not in found]
        return found

    # -- the breach ------------------------------------------------------------------------------------
    async def soon(self, timer: Timer) -> None:
        """A heads-up in the channel before the RTO passes, and the countdown brought up to date."""
        incident = await self.incidents.get(timer.incident_id or 0)
        component = self.catalog.component(str(timer.payload.get("service")))
        if incident is None or component is None or incident.status == self.config.resolved_status:
            return
        due = ui.rto_deadline(incident, component)
        if due is None or due <= self.now():
            return  # late (the bot was down): the breach says it
        await self._say(incident, ui.rto_soon(incident, component, self.config, self.now()))
        await self.refresh_summary(incident.id)

    async def breach(self, timer: Timer) -> None:
        incident = await self.incidents.get(timer.incident_id or 0)
        component = self.catalog.component(str(timer.payload.get("service")))
        if incident is None or component is None or incident.status == self.config.resolved_status:
            return
        text = ui.rto_breach(incident, component, self.now())
        data: dict[str, Any] = {
            "service": component.id,
            "tier": component.tier,
            "rto_seconds": int(component.rto.total_seconds()) if component.rto else None,
            "due": timer.payload.get("due"),
        }
        event = await self.incidents.append(
            incident.id,
            NewEvent(EventKind.RTO_BREACHED, None, text, data),
            self.now(),
            once=f"catalog.rto_breached:{incident.id}",
        )
        if event is None:
            return  # told already: a timer repeated after a crash, or one of before a reopening
        await self._say(incident, f":alarm_clock: *RTO passed.* {text}")
        for audience in self.config.catalog.rto_audiences:
            await self._tell_audience(incident, audience, text, event.id)
        await self.refresh_summary(incident.id)

    async def _tell_audience(self, incident: Incident, audience: str, text: str, event_id: int) -> None:
        if self.communication is None or audience not in self.config.communication.audiences:
            return
        try:
            await self.communication.tell_now(incident.id, audience, f"rto:{event_id}", known=text)
        except DomainError as exc:
            await self._say(incident, f":warning: {exc}")

    async def _say(self, incident: Incident, text: str) -> None:
        if incident.channel_id:
            await self.slack.post_or_log(incident.channel_id, notice(text), f"{incident.reference} catalog")

    # -- the card --------------------------------------------------------------------------------------
    def find(self, name: str) -> Component | None:
        """By id or by name, any case (`/incident service public api`)."""
        wanted = name.strip().lower()
        return next(
            (c for c in self.catalog.components.values() if wanted in (c.id.lower(), c.title.lower())), None
        )

    def unknown(self, name: str) -> str:
        return ui.unknown_service(name, sorted(self.catalog.components))

    async def card(self, component: Component, open_incidents: list[Incident]) -> Message:
        card = ui.Card(component)
        schedule = self.config.oncall.schedule(component.oncall) if component.oncall else None
        if schedule is not None:
            shift = await self.paging.rota.on_call(schedule, self.now())
            card.on_call.append(
                ui.on_call_line(
                    schedule.name, shift.user if shift else None, shift.end if shift else None, self.config
                )
            )
        card.slos = await self._budgets(component.slos)
        card.runbooks = list(component.runbooks)
        card.open_incidents = [i for i in open_incidents if i.service == component.id]
        card.dependencies = self.dependencies(component.id, transitive=False)
        card.dependents = self.dependents(component.id, transitive=False)
        card.scenarios = [s for s in self.config.catalog.scenarios if component.id in s.components]
        try:
            card.deploys = [str(d) for d in await self.recent_deploys(component.id, self.deploy_hours)]
        except Exception as exc:  # the card must not fail for one line
            log.warning("recent deploys of %s: %s", component.id, exc)
            card.deploys = [f"could not be read ({exc})"]
        return ui.service_card(card, self.config)

    async def _budgets(self, slo_ids: list[str]) -> list[str]:
        selected = [s for s in self.slo.slos if s.id in slo_ids]
        lines = [
            ui.budget_line(i, None, "not configured") for i in slo_ids if i not in {s.id for s in selected}
        ]
        if not selected:
            return lines
        if self.slo.client is None:
            return [*(ui.budget_line(s.id, None, "Prometheus is not configured") for s in selected), *lines]
        statuses = await evaluate(selected, self.slo.client, self.now(), deadline=self.slo.deadline)
        return [*(ui.budget_line(s.slo.id, s.budget_remaining, s.error) for s in statuses), *lines]
