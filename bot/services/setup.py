"""An incident's Slack set-up (channel, topic, invites, pinned summary, announcement) as durable work.

Why durable: a declare still running when the process is stopped or killed, or a channel Slack will not
create yet (a 429 in an alert storm, an outage), must not leave the incident half set up. Before any
Slack call the declare adds a set-up timer due a minute later (`incident.setup`, keyed by incident); a
declare that finishes cancels it, one that does not is resumed by it on any replica. Each step checks
the incident row first (channel id, summary ts, announcement ts), so a resumed set-up does only what is
missing.

Why in this order: the page leaves first (the paging hook runs before the channel exists); the
channel follows, and the topic, invites, summary and announcement go out side by side once it exists.
A channel Slack refuses is retried with backoff for `CHANNEL_RETRY_FOR`; meanwhile the announcement and
the declarer say so, and the declarer is told again when it exists. In a storm, the set-up of a
low-severity incident an alert declared waits `SETTLE` in the queue, so a SEV1's channel goes first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot import messages
from bot.config import AppConfig
from bot.domain import EventKind, Incident, channel_name
from bot.integrations.slack import DRILL_PREFIX, RateLimited, SlackFailure, SlackGateway
from bot.store import IncidentStore, NewEvent
from bot.templating import Templates
from bot.timers import Scheduler, Timer, setup_priority

log = logging.getLogger(__name__)
T = TypeVar("T")

SETUP = "incident.setup"
RESUME_AFTER = timedelta(seconds=60)
"""A declare still setting up after this is taken for dead (stopped, killed) and resumed by its timer."""
CHANNEL_RETRY_FOR = timedelta(minutes=30)
SETTLE = timedelta(seconds=3)
"""How long the set-up of an alert-declared incident of the third severity or lower waits in the queue."""
CREATE_CHANNEL = "create the incident channel"
CHANNEL_HINT = "Create a channel by hand and run `/incident note` there; the incident is recorded."


@dataclass
class Outcome:
    """What happened, for the person who asked: the incident and any step that failed."""

    incident: Incident
    created: bool = True
    problems: list[str] = field(default_factory=list)


Progress = Callable[[Outcome], Awaitable[None]]
Step = Callable[[Outcome, str, str, Callable[[Outcome], Awaitable[Any]]], Awaitable[Any]]


def setup_key(incident_id: int) -> str:
    return f"setup:{incident_id}:"


def backoff(attempt: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 5 minutes: a channel that could not be created is tried again."""
    return timedelta(seconds=min(300, 5 * 2 ** max(attempt - 1, 0)))


class IncidentSetup:
    def __init__(
        self,
        config: AppConfig,
        store: IncidentStore,
        slack: SlackGateway,
        templates: Templates,
        now: Callable[[], datetime],
        scheduler: Scheduler | None,
        step: Step,
        channel_ready: Callable[[Outcome, bool, bool], Awaitable[None]],
        set_up: Callable[[Outcome], Awaitable[None]],
        summary: Callable[[Incident], Awaitable[messages.Message]],
    ) -> None:
        self.config = config
        self.store = store
        self.slack = slack
        self.templates = templates
        self.now = now
        self.scheduler = scheduler
        self.step = step
        self.channel_ready = channel_ready
        """Runs once the channel exists (the hooks that need it); in the declare or in the resumed job;
        with True, also the `set_up` hooks (once per declare)."""
        self.set_up = set_up
        self.summary = summary
        if scheduler is not None:
            scheduler.on(SETUP, self.resume)

    def _priority(self, incident: Incident) -> int:
        ids = [s.id for s in self.config.severities]
        return setup_priority(ids.index(incident.severity) if incident.severity in ids else len(ids))

    async def started(self, incident_id: int) -> bool:
        """Whether a declare has begun this incident's set-up (its timer exists)."""
        return self.scheduler is not None and await self.scheduler.store.has_key(setup_key(incident_id))

    # -- in the declare --------------------------------------------------------------------------------
    async def run(self, outcome: Outcome, on_ready: Progress | None) -> None:
        incident = outcome.incident
        if self.scheduler is not None:
            await self.scheduler.schedule(
                SETUP,
                self.now() + RESUME_AFTER,
                {"incident_id": incident.id, "attempt": 0},
                incident_id=incident.id,
                key=setup_key(incident.id),
                priority=self._priority(incident),
            )
        try:
            made = await self._channel_now(outcome)
            steps = [
                self.step(outcome, "announce the incident", "Tell the announcements channel.", self.announce)
            ]
            if made:
                steps += self._fill(outcome)
            await asyncio.gather(*steps)
        except asyncio.CancelledError:  # stopped (SIGTERM, then the grace ran out): resume at once
            if self.scheduler is not None:
                try:
                    await asyncio.shield(self._retry_at(incident.id, self.now(), 0))
                    log.warning("incident %s: set-up interrupted; it resumes at the next start", incident.id)
                except Exception:
                    log.exception("incident %s: set-up interrupted; it resumes in a minute", incident.id)
            raise
        outcome.incident = await self.store.require(incident.id)
        if on_ready is not None:
            await on_ready(outcome)
        if made:
            await self.channel_ready(outcome, True, False)
            await self._done(incident.id)
        else:
            await self.set_up(outcome)

    async def _channel_now(self, outcome: Outcome) -> bool:
        """Create the channel, or hand it to the set-up job (settling, rate limited, refused)."""
        incident = outcome.incident
        if self.scheduler is not None and await self._settles(incident):
            await self._retry_at(incident.id, self.now() + SETTLE, 0)
            return False
        try:
            outcome.incident = await self.create_channel(outcome)
            return True
        except SlackFailure as failure:
            if self.scheduler is None:  # nothing would retry: say so as any failed step
                await self.step(outcome, CREATE_CHANNEL, CHANNEL_HINT, self._raise(failure))
                return False
            wait = timedelta(seconds=failure.retry_after) if isinstance(failure, RateLimited) else backoff(1)
            await self._retry_at(incident.id, self.now() + wait, 1)
            await self._record_refusal(incident, failure.error, first=True)
            outcome.problems.append(
                f"Could not create the incident channel yet ({failure.error}); the bot keeps trying "
                f"for {int(CHANNEL_RETRY_FOR.total_seconds() // 60)} minutes and tells you when it exists."
            )
            return False

    @staticmethod
    def _raise(failure: SlackFailure) -> Callable[[Outcome], Awaitable[None]]:
        async def fail(_: Outcome) -> None:
            raise failure

        return fail

    async def _settles(self, incident: Incident) -> bool:
        ids = [s.id for s in self.config.severities]
        rank = ids.index(incident.severity) if incident.severity in ids else len(ids)
        return rank >= 2 and incident.reporter == await self.slack.bot_user_id()

    def _fill(self, outcome: Outcome) -> list[Awaitable[Any]]:
        return [
            self.step(outcome, "set the channel topic", "Set it by hand.", self.set_topic),
            self.step(outcome, "invite responders", "Invite them by hand with `/invite`.", self.invite),
            self.step(
                outcome,
                "post the incident summary",
                "Use `/incident list` for the state.",
                self.post_summary,
            ),
        ]

    async def _retry_at(self, incident_id: int, due: datetime, attempt: int) -> None:
        assert self.scheduler is not None
        await self.scheduler.store.postpone(
            setup_key(incident_id), due, {"incident_id": incident_id, "attempt": attempt}
        )
        if due <= self.now():
            self.scheduler.kick()

    async def _done(self, incident_id: int) -> None:
        if self.scheduler is not None:
            await self.scheduler.store.cancel_key_prefix(setup_key(incident_id))

    async def _record_refusal(self, incident: Incident, error: str, first: bool) -> None:
        self_text = f"could not {CREATE_CHANNEL}: {error}; retrying"
        if first:
            await self.store.append(
                incident.id,
                NewEvent(
                    EventKind.INTEGRATION_FAILED, None, self_text, {"step": CREATE_CHANNEL, "error": error}
                ),
                self.now(),
            )

    # -- the durable job -------------------------------------------------------------------------------
    async def resume(self, timer: Timer) -> None:
        """Finish what a declare did not: after a stop or a crash, or a channel Slack refused before."""
        incident = await self.store.get(int(timer.payload["incident_id"]))
        if incident is None or incident.status == self.config.resolved_status:
            return
        attempt = int(timer.payload.get("attempt", 0)) + 1
        outcome = Outcome(incident)
        late = incident.channel_id is None
        if late:
            try:
                outcome.incident = await self.create_channel(outcome)
            except RateLimited as limited:
                raise limited.later() from limited
            except SlackFailure as failure:
                await self._channel_refused(incident, failure.error, attempt)
                return
        steps: list[Awaitable[Any]] = self._fill(outcome)  # each is harmless to repeat
        if outcome.incident.announcement_ts is None or late:
            steps.append(self.step(outcome, "announce the incident", "Tell it by hand.", self.announce))
        await asyncio.gather(*steps)
        outcome.incident = await self.store.require(incident.id)
        await self.channel_ready(outcome, False, late)
        if late:
            await self._tell_declarer(
                outcome.incident,
                f":white_check_mark: The channel of {incident.reference} exists now: "
                f"<#{outcome.incident.channel_id}>.",
            )
        await self._report(outcome)

    async def _channel_refused(self, incident: Incident, error: str, attempt: int) -> None:
        assert self.scheduler is not None
        if self.now() - incident.created_at < CHANNEL_RETRY_FOR:
            log.warning(
                "incident %s: channel not created (%s); attempt %s, retrying", incident.id, error, attempt
            )
            await self.scheduler.schedule(
                SETUP,
                self.now() + backoff(attempt),
                {"incident_id": incident.id, "attempt": attempt},
                incident_id=incident.id,
                priority=self._priority(incident),
            )
            if attempt == 1:
                await self._record_refusal(incident, error, first=True)
                await self._tell_declarer(
                    incident,
                    f":warning: Slack did not create the channel of {incident.reference} ({error}); the bot "
                    "keeps trying and tells you when it exists.",
                )
            return
        text = f"gave up creating the incident channel after {CHANNEL_RETRY_FOR}: {error}"
        await self.store.append(
            incident.id,
            NewEvent(EventKind.INTEGRATION_FAILED, None, text, {"step": CREATE_CHANNEL, "error": error}),
            self.now(),
        )
        await self._tell_declarer(incident, f":x: {incident.reference}: {text}. {CHANNEL_HINT}")

    async def _tell_declarer(self, incident: Incident, text: str) -> None:
        """The person who declared, by DM; for an incident an alert declared, nobody here (its page DM
        shows the channel once there is one)."""
        if incident.reporter and incident.reporter != await self.slack.bot_user_id():
            try:
                await self.slack.direct_message(incident.reporter, messages.notice(text))
            except SlackFailure as failure:
                log.warning("incident %s: could not tell %s: %s", incident.id, incident.reporter, failure)

    async def _report(self, outcome: Outcome) -> None:
        if outcome.problems and outcome.incident.channel_id:
            await self.slack.post_or_log(
                outcome.incident.channel_id,
                messages.problems(outcome.problems),
                f"incident {outcome.incident.id}",
            )

    # -- the steps -------------------------------------------------------------------------------------
    async def create_channel(self, outcome: Outcome) -> Incident:
        incident = outcome.incident
        name = channel_name(
            self.config.channels.name_pattern,
            incident.id,
            incident.title.removeprefix("Drill: ") if incident.drill else incident.title,
            incident.severity,
            incident.created_at.astimezone(self.config.zone),
        )
        if incident.drill:
            name = f"{DRILL_PREFIX}{name}"[:80].rstrip("-_")
        channel = await self.slack.create_channel(name, incident.private)
        return await self.store.change(
            incident.id,
            self.now(),
            NewEvent(
                EventKind.CHANNEL_CREATED,
                None,
                channel.name,
                {"channel_id": channel.id, "name": channel.name},
            ),
            channel_id=channel.id,
            channel_name=channel.name,
        )

    async def set_topic(self, outcome: Outcome) -> None:
        incident = outcome.incident
        assert incident.channel_id
        await self.slack.set_topic(incident.channel_id, messages.topic(incident, self.config))

    async def invite(self, outcome: Outcome) -> None:
        incident = outcome.incident
        assert incident.channel_id
        service = self.config.service(incident.service)
        users = [
            incident.reporter,
            *incident.roles.values(),
            *self.config.responders,
            *(service.responders if service else []),
        ]
        failed = await self.slack.invite(incident.channel_id, users)
        if failed:
            listing = ", ".join(f"<@{user}> ({error})" for user, error in failed.items())
            raise SlackFailure("conversations.invite", f"could not invite {listing}")

    async def post_summary(self, outcome: Outcome) -> None:
        """Post the summary once (its ts is stored at once) and pin it (again, harmlessly, on a resume)."""
        incident = outcome.incident
        assert incident.channel_id
        ts = incident.summary_ts
        if ts is None:
            ts = await self.slack.post(incident.channel_id, await self.summary(incident))
            await self.store.change(incident.id, self.now(), summary_ts=ts)
        await self.slack.pin(incident.channel_id, ts)

    async def announce(self, outcome: Outcome) -> None:
        """Post the announcement, or edit it once the channel exists; while it does not, it says so."""
        channel = self.config.channels.announcements
        if not channel or outcome.incident.drill:  # a drill is announced nowhere but its own channel
            return
        incident = outcome.incident
        message = messages.announcement(incident, self.config, self.templates)
        if incident.channel_id is None:
            message = messages.Message(
                message.text,
                [
                    *message.blocks,
                    messages.context(
                        ":hourglass_flowing_sand: Slack has not created the incident channel yet; "
                        "the bot keeps trying."
                    ),
                ],
            )
        if incident.announcement_ts and incident.announcement_channel:
            await self.slack.update(incident.announcement_channel, incident.announcement_ts, message)
            return
        ts = await self.slack.post(channel, message)
        await self.store.change(incident.id, self.now(), announcement_channel=channel, announcement_ts=ts)
