"""The public status page's use cases: public updates (with the Incident Commander's approval when someone
else writes them), scheduled maintenance, and what happens after each publication.

Nothing is public at declare: an incident appears on the page with its first published update. A private
incident cannot get one at all. Each publication commits with its timeline event and the page's change
counter; only then is it echoed in the incident channel, the static export rewritten and the listeners
(a push to Atlassian's Statuspage, say) told. Those later steps may fail; the publication stands and the
failure is shown in the channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident, validate_title
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message, notice, section
from bot.messages import problems as problems_message
from bot.slo.model import SLO
from bot.slo.prometheus import PrometheusClient
from bot.statuspage import messages as ui
from bot.statuspage.model import (
    CLI,
    OPERATIONAL,
    RESOLVED,
    SLACK,
    Maintenance,
    Publication,
    PublicDraft,
    PublicUpdate,
)
from bot.statuspage.pages import Pages
from bot.statuspage.settings import COMPONENT_STATUSES, INCIDENT_STATUSES
from bot.statuspage.site import PublicSite, Snapshot, export
from bot.statuspage.sli_uptime import REFRESH_EVERY, SliUptime
from bot.statuspage.store import StatusPageStore
from bot.store import IncidentStore, NewEvent
from bot.templating import slack_time

log = logging.getLogger(__name__)
BODY_MAX = 5000
STATUS_OF_IMPACT = {"critical": "major_outage", "major": "partial_outage", "minor": "degraded_performance"}
"""The component status a declare's service is preselected with, by the incident's impact."""
PUBLIC_STATUS_OF = {"mitigated": "monitoring"}
"""The bot's incident statuses that Statuspage does not have, mapped to the nearest of its own."""


def service_components(config: AppConfig, slos: Sequence[SLO]) -> dict[str, str]:
    """Service id → its status page component: the service's `status_component`, else the
    `status_component` label of an SLO of that service (the first one that names a known component)."""
    found: dict[str, str] = {}
    for slo in slos:
        component = slo.labels.get("status_component")
        if component and config.status_page.component(component):
            found.setdefault(slo.service, component)
    found |= {s.id: s.status_component for s in config.services if s.status_component}
    return found


class StatusPageListener(Protocol):
    """Told after each change the public sees is committed (a push to Atlassian's Statuspage subscribes
    here). An exception is logged and shown in the incident channel; the publication stands."""

    async def on_published(self, publication: Publication) -> None: ...

    async def on_maintenance(self, maintenance: Maintenance) -> None: ...


@dataclass
class Outcome:
    """What a status-page action did, worded for the person who asked, and what failed on the way."""

    said: str
    update: PublicUpdate | None = None
    published: bool = False
    problems: list[str] = field(default_factory=list)


class StatusPageService:
    def __init__(
        self,
        config: AppConfig,
        store: StatusPageStore,
        incidents: IncidentStore,
        slack: SlackGateway | None,
        now: Callable[[], datetime],
        export_dir: Path | None = None,
        slos: Sequence[SLO] = (),
        prometheus: PrometheusClient | None = None,
    ) -> None:
        self.config = config
        self.section = config.status_page
        self.store = store
        self.incidents = incidents
        self.slack = slack
        self.now = now
        self.export_dir = export_dir
        self.pages = Pages(config.templates_dir)
        self.site = PublicSite(store, self.section, self.pages, now)
        self.listeners: list[StatusPageListener] = []
        self.service_components = service_components(config, slos)
        by_id = {slo.id: slo for slo in slos}
        uptime_slos = {c.id: by_id[c.uptime_slo] for c in self.section.components if c.uptime_slo in by_id}
        if uptime_slos and prometheus is not None:
            zone = ZoneInfo(self.section.time_zone)
            self.site.sli = SliUptime(prometheus, uptime_slos, zone, self.section.uptime_days)
        self._export_lock = asyncio.Lock()
        self._exported: Snapshot | None = None
        self.at_risk: Callable[[Incident], Awaitable[list[str]]] | None = None
        """Components someone added to the incident's first draft (the catalog's dependents at risk)."""

    def add_listener(self, listener: StatusPageListener) -> None:
        self.listeners.append(listener)

    @property
    def enabled(self) -> bool:
        return self.section.enabled

    def names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.section.components}

    def url_of(self, incident_id: int) -> str:
        return f"{self.section.url}/status/incidents/{incident_id}"

    # -- checks and defaults ---------------------------------------------------------------------------
    def check_public(self, incident: Incident) -> None:
        if not self.enabled:
            raise DomainError("The status page is not enabled (`status_page.enabled` in the config).")
        if incident.private:
            raise DomainError(
                f"{incident.reference} is a private incident: it never appears on the public status page. "
                "Post internal updates instead."
            )

    def may_approve(self, incident: Incident, user: str) -> bool:
        roles = incident.roles_of(user)
        return incident.commander == user or any(r in self.section.approver_roles for r in roles)

    def impact(self, incident: Incident) -> str:
        return self.section.impact_of(incident.severity)

    def public_status(self, incident: Incident) -> str:
        status = PUBLIC_STATUS_OF.get(incident.status, incident.status)
        return status if status in INCIDENT_STATUSES else "investigating"

    async def components_of(self, incident: Incident) -> dict[str, str]:
        """The component statuses a new public update starts from: where the last one left them, else the
        incident's service's component at the status its impact suggests."""
        public = await self.store.incident(incident.id)
        if public is not None:
            return {c: s for c, s in public.component_statuses().items() if s != OPERATIONAL}
        component = self.service_components.get(incident.service or "")
        status = STATUS_OF_IMPACT.get(self.impact(incident))
        found = {component: status} if component and status and self.section.component(component) else {}
        for extra in await self.at_risk(incident) if self.at_risk and status else []:
            found.setdefault(extra, status or "")
        return found

    def stage_text(self, status: str, components: dict[str, str] | list[str]) -> str:
        names = self.names()
        shown = [names.get(c, c) for c in components]
        return self.pages.stage_text(status, shown, self.config.update_interval_minutes)

    async def default_draft(self, incident: Incident, status: str | None = None) -> PublicDraft:
        public = await self.store.incident(incident.id)
        status = status or self.public_status(incident)
        components = await self.components_of(incident)
        if status in (RESOLVED, "postmortem"):
            components = dict.fromkeys(public.component_statuses() if public else components, OPERATIONAL)
        title = public.name if public else incident.title
        return PublicDraft(status, title, self.stage_text(status, components), components)

    def validate(self, incident: Incident, draft: PublicDraft) -> PublicDraft:
        """The draft as it will be stored; DomainError names what is wrong (shown next to the field)."""
        self.check_public(incident)
        if draft.status not in INCIDENT_STATUSES:
            raise DomainError(
                f"Unknown status {draft.status!r}; choose one of {', '.join(INCIDENT_STATUSES)}."
            )
        title = validate_title(draft.title)
        body = draft.body.strip()
        if not body:
            raise DomainError("Write what the public will read: the text is empty.")
        if len(body) > BODY_MAX:
            raise DomainError(f"The text has {len(body)} characters; keep it under {BODY_MAX}.")
        for component, status in draft.components.items():
            if self.section.component(component) is None:
                known = ", ".join(c.id for c in self.section.components) or "none configured"
                raise DomainError(f"Unknown component {component!r} ({known}).")
            if status not in COMPONENT_STATUSES:
                raise DomainError(f"Unknown component status {status!r} ({', '.join(COMPONENT_STATUSES)}).")
        components = dict(draft.components)
        if draft.status in (RESOLVED, "postmortem"):
            components = dict.fromkeys(components, OPERATIONAL)
        return PublicDraft(draft.status, title, body, components)

    # -- public updates --------------------------------------------------------------------------------
    def _event(
        self,
        kind: EventKind,
        update: PublicDraft,
        author: str,
        approver: str | None,
        source: str,
        edited: bool = False,
    ) -> tuple[EventKind, str, dict[str, object]]:
        data = {
            "status": update.status,
            "title": update.title,
            "body": update.body,
            "components": dict(update.components),
            "author": author,
            "approver": approver,
            "source": source,
            "edited": edited,
        }
        return kind, update.body, data

    async def submit(
        self, incident_id: int, draft: PublicDraft, actor: str, key: str, may_publish: bool = True
    ) -> Outcome:
        """Publish now when `actor` may approve; otherwise ask the Incident Commander. Once per `key`.
        With `may_publish` False (a workflow's draft), a person approves it whoever asked."""
        incident = await self.incidents.require(incident_id)
        draft = self.validate(incident, draft)
        if incident.drill:
            return await self._drill_preview(incident, draft, actor, key)
        direct = may_publish and self.may_approve(incident, actor)
        kind = EventKind.STATUS_PAGE_PUBLISHED if direct else EventKind.STATUS_PAGE_REQUESTED
        update = await self.store.add(
            incident.id,
            draft,
            self.impact(incident),
            actor,
            SLACK,
            self.now(),
            key,
            actor if direct else None,
            self._event(kind, draft, actor, actor if direct else None, SLACK),
        )
        if update is None:
            return Outcome("That update was already sent.")
        if direct:
            outcome = Outcome("Published on the status page.", update, published=True)
            outcome.problems += await self._after_publish(incident, update)
            return outcome
        commander = f"<@{incident.commander}>" if incident.commander else "the Incident Commander"
        outcome = Outcome(
            f"Sent to {commander} for approval: nothing is public until they approve.",
            update,
        )
        outcome.problems += await self._ask(incident, update)
        return outcome

    async def _drill_preview(self, incident: Incident, draft: PublicDraft, actor: str, key: str) -> Outcome:
        """A drill publishes nothing: the update is shown in its channel and counted as told (once)."""
        kind, text, data = self._event(EventKind.STATUS_PAGE_PUBLISHED, draft, actor, actor, SLACK)
        event = NewEvent(kind, actor, f"(drill preview) {text}", {**data, "drill_preview": True})
        if await self.incidents.append(incident.id, event, self.now(), f"drill-status:{key}") is None:
            return Outcome("That update was already shown.")
        if incident.channel_id and self.slack is not None:
            blocks = ui.preview(draft, self.names(), self.impact(incident), needs_approval=False)
            note = (
                "DRILL: not published. The public page and its subscribers get nothing; this is the preview."
            )
            await self.slack.post_or_log(
                incident.channel_id, Message(note, [section(note), *blocks]), f"{incident.reference} drill"
            )
        return Outcome("DRILL: nothing was published; the preview is in the drill's channel.")

    async def post_trusted(self, incident_id: int, draft: PublicDraft, operator: str, key: str) -> Outcome:
        """The operator's path (`incidentbot statuspage post`): no approval, recorded as from the CLI."""
        incident = await self.incidents.require(incident_id)
        draft = self.validate(incident, draft)
        event = self._event(EventKind.STATUS_PAGE_PUBLISHED, draft, operator, operator, CLI)
        update = await self.store.add(
            incident.id, draft, self.impact(incident), operator, CLI, self.now(), key, operator, event
        )
        if update is None:
            return Outcome("That update was already posted.")
        outcome = Outcome(f"Published on the status page: {self.url_of(incident.id)}", update, published=True)
        outcome.problems += await self._after_publish(incident, update)
        return outcome

    async def pending_for(self, update_id: int, user: str) -> tuple[Incident, PublicUpdate]:
        update = await self.store.get(update_id)
        if update is None:
            raise DomainError("There is no such status page update.")
        incident = await self.incidents.require(update.incident_id)
        if not self.may_approve(incident, user):
            approvers = ", ".join(self.section.approver_roles)
            raise DomainError(
                f"Only the Incident Commander (or {approvers}) can approve status page updates."
            )
        if update.state != "pending":
            raise self._decided_already(update, incident)
        return incident, update

    def _decided_already(self, update: PublicUpdate, incident: Incident) -> DomainError:
        when = slack_time(update.decided_at, self.config) if update.decided_at else "?"
        verb = "published" if update.state == "published" else "rejected"
        return DomainError(f"That status page update was already {verb} by <@{update.approver}> at {when}.")

    async def approve(self, update_id: int, approver: str, draft: PublicDraft | None = None) -> Outcome:
        """Approve (with the approver's edits when `draft`): the first decision wins, once."""
        incident, update = await self.pending_for(update_id, approver)
        if draft is not None:
            draft = self.validate(incident, draft)
        final = draft or update.draft()
        event = self._event(
            EventKind.STATUS_PAGE_PUBLISHED, final, update.author, approver, SLACK, edited=draft is not None
        )
        decided = await self.store.decide(
            update.id, approver, self.now(), True, draft, event, self.impact(incident)
        )
        if decided is None:
            raise self._decided_already(await self.store.get(update.id) or update, incident)
        outcome = Outcome("Published on the status page.", decided, published=True)
        outcome.problems += await self._after_publish(incident, decided)
        return outcome

    async def reject(self, update_id: int, approver: str) -> Outcome:
        incident, update = await self.pending_for(update_id, approver)
        event = self._event(EventKind.STATUS_PAGE_REJECTED, update.draft(), update.author, approver, SLACK)
        decided = await self.store.decide(update.id, approver, self.now(), False, None, event)
        if decided is None:
            raise self._decided_already(await self.store.get(update.id) or update, incident)
        outcome = Outcome("Rejected: nothing was published.", decided)
        if update.request_channel and update.request_ts and self.slack is not None:
            message = ui.decided(decided, incident.reference, self.names(), None)
            outcome.problems += await self._slack(
                "update the approval request",
                self.slack.update(update.request_channel, update.request_ts, message),
            )
        if incident.channel_id and self.slack is not None:
            text = (
                f"<@{update.author}>, <@{approver}> rejected your status page update; nothing was published."
            )
            outcome.problems += await self._slack(
                "tell the author", self.slack.post(incident.channel_id, notice(text))
            )
        return outcome

    async def get_update(self, update_id: int) -> PublicUpdate | None:
        return await self.store.get(update_id)

    async def _ask(self, incident: Incident, update: PublicUpdate) -> list[str]:
        if self.slack is None or not incident.channel_id:
            return ["The incident has no channel to ask the Incident Commander in; ask them directly."]
        message = ui.approval_request(update, incident.reference, incident.commander, self.names())
        try:
            ts = await self.slack.post(incident.channel_id, message)
        except SlackFailure as failure:
            log.warning("incident %s: could not ask for status page approval: %s", incident.id, failure)
            return [
                f"Could not ask the Incident Commander in the channel: {failure.error}. Ask them directly."
            ]
        await self.store.set_request_message(update.id, incident.channel_id, ts)
        return []

    async def _slack(self, step: str, call: object) -> list[str]:
        try:
            await call  # type: ignore[misc]
        except SlackFailure as failure:
            log.warning("status page: could not %s: %s", step, failure.error)
            return [f"Could not {step}: {failure.error}."]
        return []

    async def _after_publish(self, incident: Incident, update: PublicUpdate) -> list[str]:
        """After the commit: the page, the export, the channel, the listeners; each may fail alone."""
        self.site.invalidate()
        problems = await self.write_export()
        url = self.url_of(incident.id)
        public = await self.store.incident(incident.id)
        if self.slack is not None:
            if update.request_channel and update.request_ts:
                message = ui.decided(update, incident.reference, self.names(), url)
                problems += await self._slack(
                    "update the approval request",
                    self.slack.update(update.request_channel, update.request_ts, message),
                )
            if incident.channel_id:
                echo = ui.published(update, url, self.names())
                problems += await self._slack(
                    "echo it in the incident channel", self.slack.post(incident.channel_id, echo)
                )
        if public is not None:
            index = next(i for i, u in enumerate(public.updates) if u.id == update.id)
            publication = Publication(update, public, tuple(public.affected(index, self.names())), url)
            for listener in self.listeners:
                try:
                    await listener.on_published(publication)
                except Exception as exc:  # a listener is an integration: report, never undo
                    log.exception("status page listener %r failed for update %s", listener, update.id)
                    problems.append(f"{type(listener).__name__} failed: {type(exc).__name__}: {exc}")
        if problems and incident.channel_id and self.slack is not None:
            await self._slack(
                "report problems",
                self.slack.post(
                    incident.channel_id,
                    problems_message([*problems, "The update is public on the status page all the same."]),
                ),
            )
        return problems

    async def write_export(self) -> list[str]:
        """Rewrite the static site in `export_dir`, when one is configured."""
        if self.export_dir is None:
            return []
        async with self._export_lock:
            try:
                snapshot = await self.site.snapshot()
                await asyncio.to_thread(export, snapshot, self.export_dir)
                self._exported = snapshot
            except OSError as exc:
                log.error("status page: could not write the export to %s: %s", self.export_dir, exc)
                return [f"Could not write the static status page to {self.export_dir}: {exc}."]
        return []

    async def refresh_export(self) -> bool:
        """Rewrite the export when time alone changed the page (a maintenance began or ended, the day
        turned): a static host cannot notice that itself. True when it was rewritten."""
        if self.export_dir is None or await self.site.snapshot() is self._exported:
            return False
        return not await self.write_export()

    async def refresh_uptime(self) -> bool:
        """Ask Prometheus for the SLI uptime figures missing (and today's); True when the page changed."""
        if self.site.sli is None or not await self.site.sli.refresh(self.now()):
            return False
        self.site.invalidate()
        return True

    async def keep_sli_current(self, every: timedelta = REFRESH_EVERY) -> None:
        """Run by a serving process when a component takes its uptime from an SLI."""
        while True:
            try:
                await self.refresh_uptime()
            except Exception:  # a surprise must not end the refresh for good
                log.warning("status page: could not refresh the uptime from Prometheus", exc_info=True)
            await asyncio.sleep(every.total_seconds())

    async def keep_export_current(self, every_seconds: float = 60.0) -> None:
        """Run by a serving process while `export_dir` is set: `refresh_export` every minute."""
        while True:
            try:
                await self.refresh_export()
            except Exception:  # the database is away: the next round tries again
                log.warning("status page: could not refresh the export", exc_info=True)
            await asyncio.sleep(every_seconds)

    async def is_public(self, incident_id: int) -> bool:
        return await self.store.has_public_updates(incident_id)

    async def resolved_prefill(self, incident: Incident) -> str | None:
        """The resolve form's public text, when the incident is on the status page (else None: nothing
        to say publicly)."""
        if not self.enabled or incident.private or not await self.is_public(incident.id):
            return None
        return (await self.default_draft(incident, RESOLVED)).body

    async def resolve_publicly(self, incident_id: int, body: str, actor: str, key: str) -> Outcome:
        """The public side of resolving: the resolved text, every component operational again."""
        incident = await self.incidents.require(incident_id)
        draft = await self.default_draft(incident, RESOLVED)
        return await self.submit(
            incident_id, PublicDraft(RESOLVED, draft.title, body, draft.components), actor, key
        )

    # -- scheduled maintenance -------------------------------------------------------------------------
    def check_maintenance(
        self, title: str, components: list[str], starts: datetime | None, ends: datetime | None
    ) -> dict[str, str]:
        """Field → problem; empty when the maintenance can be scheduled."""
        errors = {}
        if not self.enabled:
            return {"title": "The status page is not enabled (`status_page.enabled` in the config)."}
        try:
            validate_title(title)
        except DomainError as exc:
            errors["title"] = str(exc)
        unknown = [c for c in components if self.section.component(c) is None]
        if unknown:
            errors["components"] = f"Unknown component {', '.join(unknown)}."
        if starts is None:
            errors["starts"] = "Say when it starts."
        if ends is None:
            errors["ends"] = "Say when it ends."
        elif starts is not None and ends <= starts:
            errors["ends"] = "It must end after it starts."
        elif ends <= self.now():
            errors["ends"] = "That is in the past."
        elif ends - (starts or ends) > timedelta(days=31):
            errors["ends"] = "A maintenance window longer than 31 days is probably a typo."
        return errors

    async def add_maintenance(
        self,
        title: str,
        body: str,
        components: list[str],
        starts: datetime,
        ends: datetime,
        actor: str,
        source: str,
        key: str,
    ) -> Maintenance | None:
        errors = self.check_maintenance(title, components, starts, ends)
        if errors:
            raise DomainError(" ".join(errors.values()))
        added = await self.store.add_maintenance(
            validate_title(title), body.strip(), components, starts, ends, actor, source, self.now(), key
        )
        if added is not None:
            await self._maintenance_changed(added)
        return added

    async def cancel_maintenance(self, maintenance_id: int, actor: str) -> Maintenance:
        cancelled = await self.store.cancel_maintenance(maintenance_id, actor, self.now())
        if cancelled is None:
            found = await self.store.get_maintenance(maintenance_id)
            if found is None:
                raise DomainError(f"There is no maintenance #{maintenance_id}.")
            raise DomainError(f"Maintenance #{maintenance_id} was already cancelled by {found.cancelled_by}.")
        await self._maintenance_changed(cancelled)
        return cancelled

    async def maintenances(self) -> list[Maintenance]:
        return [m for m in await self.store.maintenances(self.now()) if m.cancelled_at is None]

    async def _maintenance_changed(self, maintenance: Maintenance) -> None:
        self.site.invalidate()
        await self.write_export()
        for listener in self.listeners:
            try:
                await listener.on_maintenance(maintenance)
            except Exception:
                log.exception("status page listener %r failed for maintenance %s", listener, maintenance.id)

    def local(self, moment: datetime) -> str:
        return moment.astimezone(self.config.zone).strftime("%Y-%m-%d %H:%M %Z")

    def window(self, maintenance: Maintenance) -> str:
        return f"{self.local(maintenance.scheduled_for)} – {self.local(maintenance.scheduled_until)}"
