"""The communication plan's first slice (issue 17): audiences told at declare, when the severity rises into
their matrix, with each status update ticked for them, and at resolution — in Slack and by e-mail.

Each notice is one transaction: the `audience_told` timeline event, its mail in the outbox and the timer
that sends it. The timer worker sends the mail (`MAIL_SEND`); a server that is down or answers 4xx is
asked again with a growing delay (not counted against the timer's attempts), a 5xx or refused recipients
are shown in the incident channel and on the timeline. Nothing here runs before Slack is acknowledged:
these are incident hooks, run after the ack like every other follow-up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot import messages
from bot.communication.mails import MailTemplates, build_message, new_message_id
from bot.communication.notices import DECLARED, FINAL, RAISED, UPDATE, Notice, for_audience, subject
from bot.communication.outbox import PENDING, Mail, MailDraft, OutboxStore
from bot.communication.settings import Audience
from bot.communication.transport import (
    MailConfigError,
    MailFailure,
    SmtpTransport,
    check_sender,
    parse_smtp_url,
    sender_domain,
)
from bot.config import AppConfig, Settings
from bot.domain import DomainError, EventKind, Incident, TimelineEvent
from bot.formatting import escape_mrkdwn
from bot.integrations.slack import SlackGateway
from bot.services.comm_deadlines import Deadlines
from bot.services.hooks import Change, IncidentHooks
from bot.statuspage.model import Maintenance, Publication
from bot.store import IncidentStore
from bot.timers import DEFAULT_PRIORITY, NewTimer, RetryLater, Scheduler, Timer

log = logging.getLogger(__name__)

MAIL_SEND = "mail.send"
MAIL_PRIORITY = DEFAULT_PRIORITY - 10
"""Before reminders and cosmetics, after pages and the set-up of severe incidents."""
RETRY_FIRST = timedelta(seconds=1)
RETRY_MAX = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(hours=24)
"""A mail the server would not take for a day is news nobody wants any more: reported as failed."""
NO_SMTP = "INCIDENTBOT_SMTP_URL is not set, so the bot sends no e-mail"
GUARD = "communication.guard"
GUARD_AFTER = timedelta(minutes=1)
GUARDED: dict[str, EventKind] = {
    "update_posted": EventKind.UPDATE_POSTED,
    "severity_changed": EventKind.SEVERITY_CHANGED,
    "resolved": EventKind.RESOLVED,
}
"""The changes whose notices must survive a crash right after their commit, and their events."""


def guard_key(change: str, event_id: int) -> str:
    return f"communication.guard:{change}:{event_id}"


def retry_delay(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s … up to 10 min: a relay that restarts is caught at once, one that is down for an hour
    is not hammered."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** max(attempts - 1, 0))


@dataclass(frozen=True)
class Mailer:
    transport: SmtpTransport
    sender: str

    @property
    def domain(self) -> str:
        return sender_domain(self.sender)


def build_mailer(settings: Settings) -> tuple[Mailer | None, str | None]:
    """The mailer from the environment, or why there is none (said wherever an e-mail is not sent)."""
    if settings.smtp_url is None:
        return None, NO_SMTP
    try:
        target = parse_smtp_url(settings.smtp_url.get_secret_value())
        sender = check_sender(settings.mail_from)
    except MailConfigError as exc:
        return None, str(exc)
    return Mailer(SmtpTransport(target, settings.smtp_ca_file), sender), None


class Communication(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {
        "set_up": "tell the audiences of the communication plan",
        "severity_changed": "tell the audiences the new severity concerns",
        "update_posted": "e-mail the update to its audiences",
        "resolved": "send the final notice to the audiences",
        "reopened": "plan the audiences' deadlines again",
        "channel_created": "post the customer call tasks",
    }
    what_to_do = "Tell those audiences by hand."

    def __init__(
        self,
        config: AppConfig,
        incidents: IncidentStore,
        outbox: OutboxStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        mailer: Mailer | None,
        mail_problem: str | None,
        now: Callable[[], datetime],
        refresh_summary: Callable[[int], Awaitable[None]],
    ) -> None:
        self.config = config
        self.section = config.communication
        self.incidents = incidents
        self.outbox = outbox
        self.scheduler = scheduler
        self.slack = slack
        self.mailer = mailer
        self.mail_problem = mail_problem or NO_SMTP
        self.now = now
        self.templates = MailTemplates(config)
        self.deadlines = Deadlines(config, incidents, scheduler, slack, self.templates, now, refresh_summary)
        scheduler.on(MAIL_SEND, self.send)
        scheduler.on(GUARD, self.guard)

    # -- incident changes ------------------------------------------------------------------------------
    async def set_up(self, incident: Incident) -> None:
        """Automatic audiences whose matrix has the incident's severity are told at once (the set-up of a
        declare is itself durable: a crash repeats it, and the notices' keys make the repeat harmless)."""
        notice = Notice(DECLARED, incident, self.now(), incident.status, known=incident.summary)
        for name, audience in self._automatic(incident.severity):
            await self._tell(name, audience, notice, f"comm:{incident.id}:{name}:declared")
        await self.deadlines.post_call_tasks(incident, f"comm:{incident.id}:calls:declared")
        await self.deadlines.replan(incident.id)

    async def summary_lines(self, incident: Incident) -> list[str]:
        return await self.deadlines.summary_lines(incident)

    async def reopened(self, incident: Incident) -> None:
        await self.deadlines.replan(incident.id)

    async def channel_created(self, incident: Incident) -> None:
        """The call task waits for the channel (the set-up found none); the same key as at declare."""
        await self.deadlines.post_call_tasks(incident, f"comm:{incident.id}:calls:declared")

    async def on_published(self, publication: Publication) -> None:
        """A status-page publication tells the `status_page` audience: its deadline moves on."""
        await self.deadlines.replan(publication.update.incident_id)

    async def on_maintenance(self, maintenance: Maintenance) -> None:
        return None

    async def with_change(
        self, session: AsyncSession, change: Change, incident_id: int, event_id: int
    ) -> None:
        """A guard timer, committed with the update, severity change or resolution itself: if the process
        dies before the hook below tells the audiences, the guard does it a minute later."""
        if change in GUARDED and self.section.audiences:
            now = self.now()
            payload = {"change": change, "event_id": event_id}
            key = guard_key(change, event_id)
            await NewTimer(GUARD, now + GUARD_AFTER, payload, incident_id, key, MAIL_PRIORITY).add(
                session, now
            )

    async def update_posted(self, incident: Incident) -> None:
        await self._after_commit(incident, "update_posted")

    async def severity_changed(self, incident: Incident) -> None:
        await self._after_commit(incident, "severity_changed")

    async def resolved(self, incident: Incident) -> None:
        await self._after_commit(incident, "resolved")

    async def _after_commit(self, incident: Incident, change: Change) -> None:
        """Tell the audiences now, then stand the guard down (a later change's hook may see a newer
        event: the older one's guard then tells its audiences itself)."""
        event = await self.incidents.last_event(incident.id, GUARDED[change])
        if event is None:
            return
        await self._act(change, incident, event)
        await self.scheduler.store.cancel_key_prefix(guard_key(change, event.id))

    async def guard(self, timer: Timer) -> None:
        incident = await self.incidents.get(timer.incident_id or 0)
        event_id = int(timer.payload["event_id"])
        if incident is None:
            return
        timeline = await self.incidents.timeline(incident.id)
        event = next((e for e in timeline if e.id == event_id), None)
        if event is not None:
            await self._act(timer.payload["change"], incident, event)

    async def _act(self, change: str, incident: Incident, event: TimelineEvent) -> None:
        if change == "update_posted":
            await self._update(incident, event)
        elif change == "severity_changed":
            await self._raised(incident, event)
        elif change == "resolved":
            await self._final(incident, event)
        if change == "severity_changed" and event.data.get("direction") == "up":
            await self.deadlines.post_call_tasks(incident, f"comm:{incident.id}:calls:raised:{event.id}")
        await self.deadlines.replan(incident.id)

    async def _raised(self, incident: Incident, change: TimelineEvent) -> None:
        """A rise tells the automatic audiences the new severity concerns: a first notice for those the old
        one did not, the next message of the thread for the others. A downgrade keeps what was sent."""
        if change.data.get("direction") != "up" or self._is_resolved(incident):
            return
        severity = str(change.data.get("to") or incident.severity)
        notice = Notice(
            RAISED,
            replace(incident, severity=severity),
            self.now(),
            incident.status,
            previous_severity=change.data.get("from"),
        )
        for name, audience in self._automatic(severity):
            await self._tell(name, audience, notice, f"comm:{incident.id}:{name}:raised:{change.id}")

    async def _update(self, incident: Incident, update: TimelineEvent) -> None:
        """The update goes by e-mail to each audience ticked in the form (its Slack post is the update
        flow's own), as the next message of the audience's thread."""
        data = update.data
        ticked = set(data.get("rendered") or {})
        notice = Notice(
            UPDATE,
            incident,
            self.now(),
            str(data.get("status") or incident.status),
            known=str(data.get("known") or ""),
            doing=str(data.get("doing") or ""),
            next_update_minutes=data.get("next_update_minutes"),
        )
        for name, audience in self.section.audiences.items():
            if name in ticked or self._audience_of_update(audience, ticked):
                once = f"comm:{incident.id}:{name}:update:{update.id}"
                await self._tell(name, audience, notice, once, posted_by_update=True)

    async def _final(self, incident: Incident, resolution: TimelineEvent) -> None:
        """The final notice, to every audience that was told anything about the incident."""
        notice = Notice(FINAL, incident, self.now(), self.config.resolved_status, resolution=resolution.text)
        for name in await self.outbox.told(incident.id):
            audience = self.section.audiences.get(name)
            if audience is not None:
                await self._tell(name, audience, notice, f"comm:{incident.id}:{name}:final:{resolution.id}")

    async def tell_now(self, incident_id: int, name: str, key: str, known: str | None = None) -> None:
        """ "Send now" for an audience the update form does not offer: the last update (or the impact) as
        the audience's next notice, once per `key`; `known`: what to say instead (a breached RTO)."""
        incident = await self.incidents.require(incident_id)
        audience = self.section.audiences.get(name)
        if audience is None:
            raise DomainError(f"There is no audience {name!r} in the communication plan any more.")
        if not self._posts_to(audience) and not audience.email:
            raise DomainError(
                f"The bot has no way to reach *{name}* for {incident.reference} (no Slack channel or "
                "e-mail list; a private incident is never on the status page). Tell them by hand, then "
                "answer the reminder with *Not needed* and say how."
            )
        last = await self.incidents.last_event(incident.id, EventKind.UPDATE_POSTED)
        data = last.data if last else {}
        notice = Notice(
            UPDATE,
            incident,
            self.now(),
            incident.status,
            known=known or str(data.get("known") or incident.summary),
            doing="" if known else str(data.get("doing") or ""),
        )
        await self._tell(name, audience, notice, f"comm:{incident.id}:{name}:now:{key}")
        await self.deadlines.replan(incident.id)

    # -- telling one audience ----------------------------------------------------------------------------
    def _automatic(self, severity: str) -> list[tuple[str, Audience]]:
        return [(n, a) for n, a in self.section.audiences.items() if a.automatic and a.covers(severity)]

    def _is_resolved(self, incident: Incident) -> bool:
        return incident.status == self.config.resolved_status

    def _audience_of_update(self, audience: Audience, ticked: set[str]) -> bool:
        """An update ticked for the announcements reaches the audience whose channel that is."""
        announcements = self.config.channels.announcements
        return "announcements" in ticked and bool(announcements) and audience.slack_channel == announcements

    def _posts_to(self, audience: Audience) -> str | None:
        """The audience's Slack channel, unless it is the announcements channel: the incident's
        announcement there (edited in place, updates in its thread) already tells it."""
        channel = audience.slack_channel
        return channel if channel and channel != self.config.channels.announcements else None

    async def _tell(
        self, name: str, audience: Audience, notice: Notice, once: str, posted_by_update: bool = False
    ) -> None:
        """Tell one audience once per `once`: its e-mail queued with the `audience_told` event, then its
        Slack post (unless the update flow posted it already)."""
        incident = notice.incident
        seen = for_audience(notice, self.section.sees_private(name))
        channel = None if posted_by_update else self._posts_to(audience)
        if incident.drill:  # no real audience hears of a drill: its channel shows what they would get
            channel = None if posted_by_update else incident.channel_id
        draft, skipped = None, None
        mails = bool(audience.email) and not incident.drill
        if mails and self.mailer is None:
            skipped = self.mail_problem
        elif mails and self.mailer is not None:
            text, html = self.templates.email_parts(name, audience, seen)
            message_id = new_message_id(incident.id, name, self.mailer.domain)
            draft = MailDraft(list(audience.email), subject(seen), text, html, message_id)
        slack_text = self.templates.slack_text(name, audience, seen) if channel else None
        announced = (
            bool(audience.slack_channel) and audience.slack_channel == self.config.channels.announcements
        )
        in_slack = channel or posted_by_update or announced
        via = [v for v, used in (("slack", in_slack), ("email", draft)) if used]
        data = {
            "severity": incident.severity,
            "via": via,
            "slack_channel": channel,
            "private": incident.private,
        }
        if draft is not None:
            data["recipients"] = draft.recipients
        if notice.kind == UPDATE and notice.next_update_minutes:
            data["next_update_minutes"] = notice.next_update_minutes
        told = await self.outbox.tell(
            incident.id,
            name,
            notice.kind,
            once,
            f"{name} told ({notice.headline.lower()})" + (f" via {', '.join(via)}" if via else ""),
            data,
            draft,
            self.now(),
            lambda mail_id: NewTimer(
                MAIL_SEND, self.now(), {"mail_id": mail_id}, incident.id, f"mail:{mail_id}", MAIL_PRIORITY
            ),
        )
        if told is None:
            return  # a repeated hook: this notice was given already
        if told.mail is not None:
            self.scheduler.kick()
        if skipped:
            await self._not_emailed(incident, name, audience.email, skipped)
        if channel and slack_text:  # a Slack refusal is reported by the hook's step; the mail stands
            shown = f"(drill preview: {name} is not told) {slack_text}" if incident.drill else slack_text
            await self.slack.post(channel, messages.audience_notice(name, shown, incident))

    async def _not_emailed(self, incident: Incident, name: str, recipients: list[str], why: str) -> None:
        await self.outbox.note_failure(incident.id, name, why, {"recipients": recipients}, self.now())
        await self._say(
            incident,
            f":envelope: Not e-mailed to *{name}* ({', '.join(recipients)}): {why}. Tell them another way.",
        )

    async def _say(self, incident: Incident, text: str) -> None:
        if incident.channel_id:
            await self.slack.post_or_log(
                incident.channel_id, messages.notice(text), f"{incident.reference} mail"
            )

    # -- the outbox worker ---------------------------------------------------------------------------------
    async def send(self, timer: Timer) -> None:
        mail = await self.outbox.get(int(timer.payload["mail_id"]))
        if mail is None or mail.status != PENDING:
            return  # sent or failed already: never twice
        if self.mailer is None:
            await self._failed(mail, self.mail_problem, ())
            return
        if await self.outbox.waits_for_earlier(mail):
            raise RetryLater(RETRY_FIRST, "an earlier mail of the thread is not sent yet")
        message = build_message(
            mail_from=self.mailer.sender,
            recipients=mail.recipients,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            message_id=mail.message_id,
            in_reply_to=mail.in_reply_to,
            references=mail.references,
            written_at=mail.created_at,
            reference=f"INC-{mail.incident_id}",
        )
        try:
            refused = await self.mailer.transport.send(message)
        except MailFailure as failure:
            if failure.temporary and self.now() - mail.created_at < GIVE_UP_AFTER:
                attempts = await self.outbox.attempt_failed(mail.id, failure.error)
                delay = retry_delay(attempts)
                log.warning(
                    "incident %s: e-mail %s to %s not sent (attempt %s), trying again in %s: %s",
                    mail.incident_id,
                    mail.id,
                    mail.audience,
                    attempts,
                    delay,
                    failure.error,
                )
                raise RetryLater(delay, failure.error) from failure
            await self._failed(mail, failure.error, failure.refused)
            return
        await self.outbox.finish(mail, self.now(), None, refused)
        if refused:
            await self._report(mail, f"the server refused {', '.join(refused)}; the others got it")

    async def _failed(self, mail: Mail, error: str, refused: tuple[str, ...]) -> None:
        log.error(
            "incident %s: e-mail %s to %s (%s) failed for good: %s",
            mail.incident_id,
            mail.id,
            mail.audience,
            ", ".join(mail.recipients),
            error,
        )
        if await self.outbox.finish(mail, self.now(), error, refused):
            await self._report(mail, f"{error}. It was not delivered; tell them another way")

    async def _report(self, mail: Mail, what: str) -> None:
        incident = await self.incidents.get(mail.incident_id)
        if incident is not None:
            await self._say(
                incident,
                f":warning: The e-mail to *{mail.audience}* ({', '.join(mail.recipients)}) "
                f"about {incident.reference}: {escape_mrkdwn(what)}.",
            )
