"""Post-mortems: offered at resolution, compiled from the timeline whenever asked, written by people in a
form (their text survives every recompile), published to the channels and to a directory of files, and
chased when late (draft, review, publish) with durable timers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from bot.communication.plan import records
from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident
from bot.formatting import status_label
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import notice
from bot.postmortem.compile import compile_postmortem
from bot.postmortem.facts import Facts, file_name, unwritten
from bot.postmortem.git_publish import GitPublisher, GitPublishError
from bot.postmortem.nudges import offer, overdue_stage
from bot.postmortem.store import (
    DRAFT,
    IN_REVIEW,
    OUT,
    PUBLISHED,
    REVIEWED,
    ActionItemStore,
    Postmortem,
    PostmortemStore,
)
from bot.postmortem.summary import summary_message
from bot.services.hooks import Change, IncidentHooks
from bot.services.paging import SLACK_USER
from bot.store import IncidentStore, NewEvent
from bot.templating import Templates
from bot.timers import Scheduler, Timer

log = logging.getLogger(__name__)

DUE = "postmortem_due"
STAGES = ("draft", "review", "publish")


class Postmortems(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {"resolved": "offer the post-mortem"}
    what_to_do = "Run `/incident postmortem` in the channel."

    def __init__(
        self,
        config: AppConfig,
        store: PostmortemStore,
        actions: ActionItemStore,
        incidents: IncidentStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        templates: Templates,
        directory: Path,
        now: Callable[[], datetime],
        publisher: GitPublisher | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.actions = actions
        self.incidents = incidents
        self.scheduler = scheduler
        self.slack = slack
        self.templates = templates
        self.directory = directory
        self.now = now
        self.publisher = publisher
        scheduler.on(DUE, self.remind)

    # -- at resolution ---------------------------------------------------------------------------------
    async def resolved(self, incident: Incident) -> None:
        await self.store.ensure(incident.id, self.now())
        if incident.channel_id:
            await self.slack.post(incident.channel_id, offer(incident))
        resolved_at = incident.resolved_at or self.now()
        limits = self.config.postmortems
        for stage, within in zip(
            STAGES, (limits.draft_within, limits.review_within, limits.publish_within), strict=True
        ):
            await self.scheduler.schedule(
                DUE,
                resolved_at + within,
                {"incident_id": incident.id, "stage": stage},
                incident_id=incident.id,
                key=f"postmortem:{incident.id}:{stage}:{resolved_at.isoformat()}",
            )

    # -- compiling ---------------------------------------------------------------------------------------
    async def facts(self, incident_id: int) -> tuple[Facts, Postmortem]:
        incident = await self.incidents.require(incident_id)
        postmortem = await self.store.ensure(incident.id, self.now())
        events = await self.incidents.timeline(incident.id)
        actions = await self.actions.for_incident(incident.id)
        people = {incident.reporter, *incident.roles.values(), *(a.owner for a in actions if a.owner)}
        people |= {e.actor for e in events if e.actor} | {
            str(e.data[key]) for e in events for key in ("user", "author", "owner") if e.data.get(key)
        }
        facts = Facts(
            incident=incident,
            events=events,
            narrative=postmortem.narrative,
            actions=actions,
            config=self.config,
            now=self.now(),
            status=postmortem.status,
            names=await self._names(postmortem, {p for p in people if SLACK_USER.fullmatch(p)}),
            communication=records(
                self.config.communication,
                incident,
                events,
                incident.status == self.config.resolved_status,
                self.now(),
            ),
        )
        return facts, postmortem

    async def _names(self, postmortem: Postmortem, users: set[str]) -> dict[str, str]:
        """Names from Slack, remembered for the CLI; the remembered ones where Slack does not answer."""
        names = {**postmortem.names, **await self.slack.display_names(users)}
        await self.store.remember_names(postmortem.incident_id, names)
        return names

    async def markdown(self, incident_id: int) -> str:
        facts, _ = await self.facts(incident_id)
        return compile_postmortem(facts, self.templates)

    async def show_draft(self, incident_id: int) -> str:
        """Compile now and show it in the channel: the summary, and the whole document as a file."""
        facts, _ = await self.facts(incident_id)
        incident = facts.incident
        if not incident.channel_id:
            raise DomainError(f"{incident.reference} has no channel to show the post-mortem in.")
        document = compile_postmortem(facts, self.templates)
        await self.slack.post(incident.channel_id, summary_message(facts))
        name = file_name(incident, self.config.zone)
        await self.slack.upload_text(
            incident.channel_id, name, document, f"Post-mortem draft of {incident.reference}"
        )
        return f"The post-mortem draft of {incident.reference} is in <#{incident.channel_id}>."

    # -- what people do ----------------------------------------------------------------------------------
    async def narrative(self, incident_id: int) -> tuple[Incident, dict[str, Any]]:
        facts, postmortem = await self.facts(incident_id)
        return facts.incident, postmortem.narrative

    async def write(self, incident_id: int, sections: dict[str, Any], user: str) -> str:
        incident = await self.incidents.require(incident_id)
        await self.store.write(incident.id, sections, user, self.now())
        return f"Saved; `/incident postmortem` shows the updated draft of {incident.reference}."

    async def request_review(self, incident_id: int, user: str) -> str:
        """Draft → In review: the writers are done and ask the team to review before it is published."""
        incident = await self.incidents.require(incident_id)
        postmortem = await self.store.ensure(incident.id, self.now())
        if postmortem.status != DRAFT:
            return f"The post-mortem of {incident.reference} is already {status_label(postmortem.status)}."
        await self.store.mark(incident.id, IN_REVIEW, self.now())
        await self._event(incident, EventKind.POSTMORTEM_IN_REVIEW, user, "post-mortem ready for review", {})
        commander = f" <@{incident.commander}>," if incident.commander else ""
        await self._tell(
            incident, f":busts_in_silhouette:{commander} <@{user}> says the post-mortem is ready for review."
        )
        return "Marked ready for review."

    async def record_impact(self, incident_id: int, started: datetime | None, ended: datetime | None) -> None:
        """Impact times given at resolve, for the post-mortem (they do not count as its draft)."""
        sections = {
            key: moment.isoformat()
            for key, moment in (("impact_started_at", started), ("impact_ended_at", ended))
            if moment is not None
        }
        if sections:
            await self.store.write(incident_id, sections, None, self.now())

    async def mark_reviewed(self, incident_id: int, user: str) -> str:
        """Published → Reviewed: the review meeting was held; the last step of the lifecycle."""
        incident = await self.incidents.require(incident_id)
        postmortem = await self.store.ensure(incident.id, self.now())
        if postmortem.status == REVIEWED:
            return f"The post-mortem of {incident.reference} is already reviewed."
        if postmortem.status != PUBLISHED:
            return (
                f"The post-mortem of {incident.reference} is {status_label(postmortem.status)}: "
                "publish it first; Reviewed comes after the review meeting on the published document."
            )
        await self.store.mark(incident.id, REVIEWED, self.now())
        await self._event(incident, EventKind.POSTMORTEM_REVIEWED, user, "post-mortem reviewed", {})
        await self._tell(incident, f":busts_in_silhouette: <@{user}> marked the post-mortem reviewed.")
        return "Marked reviewed."

    async def unwritten(self, incident_id: int) -> list[str]:
        """The sections still empty, which Publish names before it publishes."""
        _, postmortem = await self.facts(incident_id)
        return unwritten(postmortem.narrative)

    async def publish(self, incident_id: int, user: str) -> str:
        """Write the file (same name every time: a re-publish updates it), upload it, post the summary.

        The document and the summary say "Published": they are compiled as what they become.
        """
        facts, postmortem = await self.facts(incident_id)
        status = REVIEWED if postmortem.status == REVIEWED else PUBLISHED  # a re-publish keeps its review
        facts = replace(facts, status=status)
        incident = facts.incident
        document = compile_postmortem(facts, self.templates)
        name = file_name(incident, self.config.zone)
        path = self.directory / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{name}.partial")
            partial.write_text(document, encoding="utf-8")
            partial.replace(path)  # readers see the old file or the new one, never half of one
        except OSError as exc:
            raise DomainError(f"Could not write {path}: {exc.strerror or exc}.") from exc
        await self.store.mark(incident.id, status, self.now(), str(path))
        await self._event(
            incident,
            EventKind.POSTMORTEM_PUBLISHED,
            user,
            f"post-mortem published as {name}",
            {"path": str(path)},
        )
        summary = summary_message(facts)
        about = f"post-mortem of incident {incident.id}"
        not_uploaded = ""
        if incident.channel_id:
            try:
                await self.slack.upload_text(
                    incident.channel_id, name, document, f"Post-mortem of {incident.reference}"
                )
            except SlackFailure as failure:  # published all the same: the file is written, the event recorded
                log.warning("%s: could not upload %s: %s", about, name, failure)
                not_uploaded = f" Slack refused the file upload ({failure.error}); the document is at {path}."
            await self.slack.post_or_log(incident.channel_id, summary, about)
        if incident.announcement_channel:
            await self.slack.post_or_log(
                incident.announcement_channel, summary, about, incident.announcement_ts
            )
        committed = await self._commit(incident, name, document, user)
        return f"Published the post-mortem of {incident.reference} ({name}).{not_uploaded}{committed}"

    async def _commit(self, incident: Incident, name: str, document: str, user: str) -> str:
        """Commit to the configured repository; a refusal is said, the publication stands."""
        if self.publisher is None:
            return ""
        title = f"Post-mortem of {incident.reference}: {incident.title}"
        body = f"Published from Slack by incidentbot for {incident.reference} ({incident.severity})."
        try:
            done = await self.publisher.publish(name, document, title, body)
        except GitPublishError as exc:
            log.warning("post-mortem of incident %s: %s", incident.id, exc)
            return f" It was not committed to git: {exc}."
        if done.commit is None:
            return f" The copy in git ({done.branch}) was already this one."
        data = {"branch": done.branch, "commit": done.commit, "pull_request": done.pull_request}
        where = (
            f"pull request {done.pull_request}"
            if done.pull_request
            else f"{done.branch} at {done.commit[:12]}"
        )
        await self._event(
            incident, EventKind.POSTMORTEM_COMMITTED, user, f"post-mortem committed: {where}", data
        )
        if done.pull_request and incident.channel_id:
            await self._bookmark(incident.channel_id, done.pull_request)
        return f" Committed to git: {where}."

    async def _bookmark(self, channel: str, url: str) -> None:
        """The post-mortem joins the channel's bookmarks (once: a re-publish reuses the pull request)."""
        try:
            await self.slack.add_missing_bookmarks(channel, [("Post-mortem", url)])
        except SlackFailure as failure:  # a courtesy: the publication stands
            log.info("post-mortem bookmark in %s: %s", channel, failure.error)

    async def remind(self, timer: Timer) -> None:
        incident = await self.incidents.get(int(timer.payload["incident_id"]))
        stage = str(timer.payload["stage"])
        if incident is None or incident.status != self.config.resolved_status:
            return  # reopened: the reminders of its next resolution take over
        postmortem = await self.store.ensure(incident.id, self.now())
        late = {
            "draft": postmortem.updated_by is None and postmortem.status == DRAFT,
            "review": postmortem.status == DRAFT,
            "publish": postmortem.status not in OUT,
        }.get(stage, False)
        if late and incident.channel_id:
            await self.slack.post_or_log(
                incident.channel_id, overdue_stage(incident, stage), f"post-mortem of incident {incident.id}"
            )

    # -- plumbing --------------------------------------------------------------------------------------
    async def _event(
        self, incident: Incident, kind: EventKind, actor: str, text: str, data: dict[str, Any]
    ) -> None:
        await self.incidents.append(incident.id, NewEvent(kind, actor, text, data), self.now())

    async def _tell(self, incident: Incident, text: str) -> None:
        if incident.channel_id:
            await self.slack.post_or_log(
                incident.channel_id, notice(text), f"post-mortem of incident {incident.id}"
            )
