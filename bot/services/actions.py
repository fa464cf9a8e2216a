"""Action items (follow-ups): recorded with owner and due date, the owner told by DM, reminded when
overdue until done. The reminders are durable timers, so a restart forgets none."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta

from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident, already_done
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.integrations.trackers import GitHub, Jira, TrackerError
from bot.messages import notice
from bot.postmortem import action_messages as ui
from bot.postmortem.action_text import ActionRequest
from bot.postmortem.store import ActionItem, ActionItemStore
from bot.store import IncidentStore, NewEvent
from bot.timers import Scheduler, Timer

log = logging.getLogger(__name__)

DUE = "action_due"
REMIND_AT = time(9, 0)
"""Overdue reminders go out at this local time, not at midnight."""
REMIND_EVERY = timedelta(days=2)


class ActionItems:
    def __init__(
        self,
        config: AppConfig,
        store: ActionItemStore,
        incidents: IncidentStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        now: Callable[[], datetime],
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.env = env or {}
        self.config = config
        self.store = store
        self.incidents = incidents
        self.scheduler = scheduler
        self.slack = slack
        self.now = now
        scheduler.on(DUE, self.remind)

    def today(self) -> date:
        return self.now().astimezone(self.config.zone).date()

    async def add(self, incident_id: int, request: ActionRequest, actor: str) -> ActionItem:
        incident = await self.incidents.require(incident_id)
        owner = request.owner
        if owner and owner.startswith("@"):
            found = await self.slack.find_user(owner)
            if found is None:
                raise DomainError(f"No one called {owner} in this workspace; mention them (`@name`) instead.")
            owner = found
        item = await self.store.add(incident.id, request.text, owner, request.due, actor, self.now())
        data = {"item_id": item.id, "owner": owner, "due": item.due.isoformat() if item.due else None}
        await self.incidents.append(
            incident.id, NewEvent(EventKind.ACTION_ITEM_ADDED, actor, item.text, data), self.now()
        )
        who = f" for <@{owner}>" if owner else ""
        due = f", due {item.due.isoformat()}" if item.due else ""
        recorded = f":memo: <@{actor}> recorded action item #{item.id}{who}{due}: {ui.escape(item.text)}"
        await self._announce(incident, item, recorded)  # follow-ups are the team's, not only their author's
        if owner:
            await self._dm(owner, ui.assigned(item, incident, actor))
        if item.due:
            await self._schedule(
                item, datetime.combine(item.due + timedelta(days=1), REMIND_AT, self.config.zone)
            )
        return item

    async def complete(self, item_id: int, user: str) -> str:
        item = await self.store.get(item_id)
        if item is None:
            raise DomainError("This action item is unknown (the database may have been reset).")
        if not await self.store.complete(item.id, user, self.now()):
            done = await self.store.get(item.id) or item
            raise already_done(
                f"Action item #{item.id} was already done", done.done_by, done.done_at, self.config.zone
            )
        await self.scheduler.store.cancel_key_prefix(f"action:{item.id}:")
        incident = await self.incidents.require(item.incident_id)
        await self.incidents.append(
            incident.id,
            NewEvent(EventKind.ACTION_ITEM_DONE, user, item.text, {"item_id": item.id}),
            self.now(),
        )
        await self._announce(
            incident, item, f":white_check_mark: <@{user}> did action item #{item.id}: {ui.escape(item.text)}"
        )
        return f"Action item #{item.id} is done."

    async def export(self, item_id: int, target: str, user: str) -> str:
        """Open an issue for the item in GitHub or Jira and keep its link on the item and the timeline."""
        item = await self.store.get(item_id)
        if item is None:
            raise DomainError(f"There is no action item #{item_id}; `/incident actions` lists the open ones.")
        if item.external_url:
            return f"Action item #{item.id} is already tracked at {item.external_url}."
        incident = await self.incidents.require(item.incident_id)
        settings = self.config.postmortems.export
        owner = f"Owner: <@{item.owner}> in Slack.\n" if item.owner else ""
        due = f"Due: {item.due.isoformat()}.\n" if item.due else ""
        body = f"Follow-up of {incident.reference}: {incident.title}\n{owner}{due}Recorded by incidentbot."
        try:
            if target == "github" and settings.github:
                github = settings.github
                token = self._secret(github.token_env)
                url = await GitHub(github.api_url, token).create_issue(
                    github.repo, item.text, body, github.labels
                )
            elif target == "jira" and settings.jira:
                jira = settings.jira
                client = Jira(jira.url, self._secret(jira.email_env), self._secret(jira.token_env))
                url = await client.create_issue(jira.project, jira.issue_type, item.text, body, item.due)
            else:
                configured = [name for name in ("github", "jira") if getattr(settings, name)]
                where = " or ".join(configured) or "nowhere yet (see `postmortems.export` in the config)"
                raise DomainError(f"Action items can be exported to {where}; not to {target!r}.")
        except TrackerError as exc:
            log.warning("action item #%s not exported to %s: %s", item.id, target, exc)
            raise DomainError(
                f"Action item #{item.id} was not exported: {exc}. Nothing was changed."
            ) from exc
        if not await self.store.exported(item.id, url):
            return f"Action item #{item.id} was exported by someone else a moment ago."
        data = {"item_id": item.id, "target": target, "url": url}
        await self.incidents.append(
            incident.id, NewEvent(EventKind.ACTION_ITEM_EXPORTED, user, item.text, data), self.now()
        )
        await self._announce(incident, item, f":link: <@{user}> exported action item #{item.id} to {url}")
        return f"Action item #{item.id} is now tracked at {url}."

    async def _announce(self, incident: Incident, item: ActionItem, text: str) -> None:
        if incident.channel_id:
            await self.slack.post_or_log(incident.channel_id, notice(text), f"action item #{item.id}")

    def _secret(self, name: str) -> str:
        value = self.env.get(name)
        if not value:
            raise DomainError(f"{name} is not set in the bot's environment; export needs it.")
        return value

    async def for_incident(self, incident_id: int) -> list[ActionItem]:
        return await self.store.for_incident(incident_id)

    async def open_items(self) -> list[tuple[ActionItem, Incident | None]]:
        items = await self.store.open_items()
        incidents = {i: await self.incidents.get(i) for i in {item.incident_id for item in items}}
        return [(item, incidents[item.incident_id]) for item in items]

    async def remind(self, timer: Timer) -> None:
        item = await self.store.get(int(timer.payload["item_id"]))
        if item is None or not item.overdue(self.today()):
            return
        incident = await self.incidents.get(item.incident_id)
        if incident is None:
            return
        message = ui.overdue(item, incident, self.today())
        if item.owner:
            await self._dm(item.owner, message)
        if incident.channel_id:
            await self.slack.post_or_log(incident.channel_id, message, f"action item #{item.id}")
        await self._schedule(item, self.now() + REMIND_EVERY)

    async def _schedule(self, item: ActionItem, at: datetime) -> None:
        key = f"action:{item.id}:{at.isoformat()}"
        await self.scheduler.schedule(DUE, at, {"item_id": item.id}, incident_id=item.incident_id, key=key)

    async def _dm(self, user: str, message: ui.Message) -> None:
        try:
            await self.slack.direct_message(user, message)
        except SlackFailure as failure:
            log.warning("could not DM %s about an action item: %s", user, failure)
