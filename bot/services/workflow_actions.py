"""What each workflow action does, through the services that already do it (paging, the communication
plan, action items, roles, Slack), so a workflow's page or e-mail is the same as a person's.

`WorkflowActions.handlers` is the registry (action name → handler), next to `bot.workflows.settings.ACTIONS`
(action name → parameters): a new action (say, `rollback`) is one entry in each.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.communication.notices import hidden
from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message, text_sections
from bot.oncall.schedules import on_call
from bot.postmortem.action_text import ActionRequest
from bot.services.actions import ActionItems
from bot.services.communication import Communication
from bot.services.incidents import IncidentService
from bot.services.paging import Paging
from bot.services.runbooks import RunbookService
from bot.services.statuspage import StatusPageService
from bot.store import NewEvent
from bot.templating import Templates
from bot.timers import RetryLater
from bot.workflows import settings as spec
from bot.workflows.webhook import deliver

log = logging.getLogger(__name__)

CHANNEL_ACTIONS = frozenset({"invite", "bookmark", "runbook"})
"""Actions that need the incident's channel (as does `post` without a channel of its own)."""


@dataclass(frozen=True)
class Result:
    ok: bool
    text: str
    """What happened, for the timeline ("invited <@U…>", "webhook 200 in 85 ms")."""
    error: str | None = None
    retryable: bool = False
    """Worth asking again by itself (a webhook's 5xx or timeout), before a person is asked to Retry."""


@dataclass(frozen=True)
class Context:
    workflow: str
    run: str
    """The run's key: (workflow, incident, triggering event)."""
    step: int
    trigger: str
    event_id: int
    now: datetime


Handler = Callable[[Incident, Any, Context], Awaitable[Result]]


def needs_channel(step: spec.Step) -> bool:
    return step.action in CHANNEL_ACTIONS or (
        step.action == "post" and isinstance(step.spec, spec.PostAction) and step.spec.channel is None
    )


def render_post(
    templates: Templates, config: AppConfig, template: str, incident: Incident, **extra: Any
) -> str:
    return templates.render(
        f"{template}.md.j2",
        incident=incident,
        config=config,
        severity=config.severity(incident.severity),
        **extra,
    )


def webhook_payload(incident: Incident, ctx: Context) -> dict[str, Any]:
    """The incident as the receiver sees it; a private incident's title, summary and service are left
    out, as for every audience outside its responders."""
    incident = hidden(incident) if incident.private else incident
    return {
        "workflow": ctx.workflow,
        "trigger": ctx.trigger,
        "event_id": ctx.event_id,
        "sent_at": ctx.now.isoformat(),
        "incident": {
            "id": incident.id,
            "reference": incident.reference,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "service": incident.service,
            "private": incident.private,
            "summary": incident.summary,
            "channel_id": incident.channel_id,
            "created_at": incident.created_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            "roles": incident.roles,
        },
    }


class WorkflowActions:
    def __init__(
        self,
        config: AppConfig,
        incidents: IncidentService,
        slack: SlackGateway,
        templates: Templates,
        paging: Paging,
        communication: Communication,
        actions: ActionItems,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.incidents = incidents
        self.slack = slack
        self.templates = templates
        self.paging = paging
        self.communication = communication
        self.actions = actions
        self.env = env if env is not None else os.environ
        self.runbooks: RunbookService | None = None
        self.statuspage: StatusPageService | None = None
        """Set when composed (both are built after the incident service these actions use)."""
        self.handlers: dict[str, Handler] = {
            "invite": self.invite,
            "page": self.page,
            "post": self.post,
            "email": self.email,
            "assign_role": self.assign_role,
            "bookmark": self.bookmark,
            "action_item": self.action_item,
            "webhook": self.webhook,
            "runbook": self.runbook,
            "status_page": self.status_page,
            "set_field": self.set_field,
        }

    def register(self, action: str, handler: Handler) -> None:
        """Add an action's handler (its parameter model goes in `bot.workflows.settings.ACTIONS`)."""
        self.handlers[action] = handler

    async def run(self, step: spec.Step, incident: Incident, ctx: Context) -> Result:
        handler = self.handlers.get(step.action)
        if handler is None:
            return Result(False, step.action, f"no handler for action {step.action!r}")
        try:
            return await handler(incident, step.spec, ctx)
        except SlackFailure as failure:
            return Result(False, step.action, f"Slack said {failure.error}", retryable=False)
        except DomainError as exc:
            return Result(False, step.action, str(exc))
        except RetryLater:
            raise  # a rate limit: the run is asked again when it allows, its recorded steps skipped
        except Exception as exc:  # a template or integration bug: shown with Retry, never a silent loop
            log.exception("workflow %s: step %s (%s) failed", ctx.workflow, ctx.step, step.action)
            return Result(False, step.action, f"{type(exc).__name__}: {exc}")

    # -- the actions -----------------------------------------------------------------------------------
    async def invite(self, incident: Incident, action: spec.InviteAction, ctx: Context) -> Result:
        users = list(action.users)
        if action.usergroup:
            users += await self.slack.usergroup_members(action.usergroup)
        users = list(dict.fromkeys(users))
        if not incident.channel_id:
            return Result(False, "invite", f"{incident.reference} has no channel")
        if not users:
            return Result(False, "invite", f"nobody to invite (usergroup {action.usergroup} is empty)")
        await self.slack.invite(incident.channel_id, users)
        return Result(True, "invited " + ", ".join(f"<@{u}>" for u in users))

    async def page(self, incident: Incident, action: spec.PageAction, ctx: Context) -> Result:
        user = action.user
        if action.schedule:
            schedule = self.config.oncall.schedule(action.schedule)
            if schedule is None:
                return Result(False, "page", f"unknown schedule {action.schedule!r}")
            shift = on_call(schedule, ctx.now)
            if shift is None:
                return Result(False, "page", f"nobody is on call for {schedule.name}")
            user = shift.user
        assert user is not None
        page = await self.paging.page_user(
            incident, user, f"workflow {ctx.workflow}", step_key=f"{ctx.run}:{ctx.step}:{user}"
        )
        if page.status != "sent":
            return Result(False, f"page <@{user}>", page.error or page.status)
        return Result(True, f"paged <@{user}>")

    async def post(self, incident: Incident, action: spec.PostAction, ctx: Context) -> Result:
        channel = action.channel or incident.channel_id
        if not channel:
            return Result(False, f"post {action.template}", f"{incident.reference} has no channel")
        if incident.private and channel != incident.channel_id:
            incident = hidden(incident)  # a private incident's title stays with its responders
        text = render_post(
            self.templates, self.config, action.template, incident, now=ctx.now, workflow=ctx.workflow
        )
        await self.slack.post(channel, Message(text[:2900], text_sections(text, 10)))
        return Result(True, f"posted {action.template} to <#{channel}>")

    async def email(self, incident: Incident, action: spec.EmailAction, ctx: Context) -> Result:
        await self.communication.tell_now(incident.id, action.audience, f"workflow:{ctx.run}:{ctx.step}")
        return Result(True, f"told {action.audience}")

    async def assign_role(self, incident: Incident, action: spec.AssignRoleAction, ctx: Context) -> Result:
        role = self.config.role(action.role)
        if role is not None and incident.roles.get(role.id) == action.user:
            return Result(True, f"<@{action.user}> already {role.name}")
        actor = await self.slack.bot_user_id()
        await self.incidents.assign_role(incident.id, action.role, action.user, actor)
        return Result(True, f"made <@{action.user}> {role.name if role else action.role}")

    async def bookmark(self, incident: Incident, action: spec.BookmarkAction, ctx: Context) -> Result:
        if not incident.channel_id:
            return Result(False, "bookmark", f"{incident.reference} has no channel")
        link = action.link.format(
            reference=incident.reference,
            id=incident.id,
            severity=incident.severity,
            service=incident.service or "",
        )
        await self.slack.bookmark(incident.channel_id, action.title, link, action.emoji)
        return Result(True, f"bookmarked {action.title}")

    async def action_item(self, incident: Incident, action: spec.ActionItemAction, ctx: Context) -> Result:
        due = (
            (ctx.now + timedelta(days=action.due_in_days)).date() if action.due_in_days is not None else None
        )
        actor = await self.slack.bot_user_id()
        item = await self.actions.add(incident.id, ActionRequest(action.text, action.owner, due), actor)
        return Result(True, f"added action item #{item.id}")

    async def runbook(self, incident: Incident, action: spec.RunbookAction, ctx: Context) -> Result:
        if self.runbooks is None:
            return Result(False, f"post runbook {action.name}", "runbooks are not set up in this process")
        actor = await self.slack.bot_user_id()
        await self.runbooks.post(incident.id, action.name, actor)
        return Result(True, f"posted runbook {action.name}")

    async def status_page(self, incident: Incident, action: spec.StatusPageAction, ctx: Context) -> Result:
        if self.statuspage is None:
            return Result(False, "draft a status page update", "the status page is not set up")
        actor = await self.slack.bot_user_id()
        draft = await self.statuspage.default_draft(incident, action.status)
        key = f"workflow:{ctx.run}:{ctx.step}"
        outcome = await self.statuspage.submit(incident.id, draft, actor, key, may_publish=False)
        if outcome.update is None:
            return Result(True, "status page draft already asked for")
        asked = f"status page draft ({draft.status}) sent for approval"
        return Result(not outcome.problems, asked, "; ".join(outcome.problems) or None)

    async def set_field(self, incident: Incident, action: spec.SetFieldAction, ctx: Context) -> Result:
        said = f"set {action.field} to {action.value}"
        actor = await self.slack.bot_user_id()
        event = NewEvent(EventKind.FIELD_SET, actor, said, {"field": action.field, "value": action.value})
        changed = await self.incidents.store.set_field(
            incident.id, action.field, action.value, event, ctx.now
        )
        return Result(True, said if changed else f"{action.field} already {action.value}")

    async def webhook(self, incident: Incident, action: spec.WebhookAction, ctx: Context) -> Result:
        secret = None
        if action.secret_env:
            secret = self.env.get(action.secret_env)
            if not secret:
                return Result(
                    False, "webhook", f"{action.secret_env} is not set, so the webhook is not signed"
                )
        delivery = await deliver(
            action.url, webhook_payload(incident, ctx), secret, action.timeout, ctx.now.timestamp()
        )
        if delivery.ok:
            return Result(True, f"webhook {delivery.status} in {delivery.millis} ms")
        return Result(False, "call the webhook", delivery.error, retryable=delivery.retryable)
