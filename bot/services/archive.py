"""Auto-archive: a resolved incident's channel is archived `channels.archive_after_days` after the
resolution, with a notice and a Keep button a day before.

Both steps are durable timers committed with the resolution itself (`with_change`), keyed by the
resolution's event, so a crash, a retry or a second replica acts once. Reopening cancels them, and each
timer checks again when it fires that the incident is still resolved by that same resolution (a reopen
whose cancel was lost must not archive a live channel). Keep postpones the archive by another N days
from the click, as often as people need; it does not keep the channel forever, because a channel that
should outlive its incident is better re-homed than left in the incident list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot import channel_messages as ui
from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident, already_done
from bot.integrations.slack import RateLimited, SlackFailure, SlackGateway
from bot.services.hooks import Change, IncidentHooks
from bot.store import IncidentStore, NewEvent
from bot.timers import NewTimer, Scheduler, Timer

log = logging.getLogger(__name__)

NOTICE = "archive_notice"
ARCHIVE = "archive_channel"
NOTICE_BEFORE = timedelta(days=1)


def key_prefix(incident_id: int) -> str:
    return f"archive:{incident_id}:"


class ChannelArchiver(IncidentHooks):
    steps: ClassVar[dict[Change, str]] = {"reopened": "cancel the channel's archive"}
    what_to_do = "Archive or keep the channel by hand."

    def __init__(
        self,
        config: AppConfig,
        store: IncidentStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.store = store
        self.scheduler = scheduler
        self.slack = slack
        self.now = now
        scheduler.on(NOTICE, self.notice)
        scheduler.on(ARCHIVE, self.archive)

    @property
    def days(self) -> int:
        return self.config.channels.archive_after_days

    def _timers(self, incident_id: int, resolution: int, tag: str, at: datetime) -> list[NewTimer]:
        payload = {"incident_id": incident_id, "resolution": resolution, "at": at.isoformat()}
        prefix = f"{key_prefix(incident_id)}{tag}:"
        notice_at = max(self.now(), at - NOTICE_BEFORE)
        return [
            NewTimer(NOTICE, notice_at, payload, incident_id, prefix + "notice"),
            NewTimer(ARCHIVE, at, payload, incident_id, prefix + "archive"),
        ]

    async def with_change(
        self, session: AsyncSession, change: Change, incident_id: int, event_id: int
    ) -> None:
        """Both timers commit with the resolution: a crash right after it still archives in N days."""
        if change != "resolved" or self.days == 0:
            return
        at = self.now() + timedelta(days=self.days)
        for timer in self._timers(incident_id, event_id, f"r{event_id}", at):
            await timer.add(session, self.now())

    async def reopened(self, incident: Incident) -> None:
        await self.scheduler.store.cancel_key_prefix(key_prefix(incident.id))

    async def _current(self, timer: Timer) -> Incident | None:
        """The incident, while still resolved by the resolution that set `timer` and with a channel."""
        incident = await self.store.get(int(timer.payload["incident_id"]))
        if incident is None or incident.status != self.config.resolved_status or not incident.channel_id:
            return None
        resolved = await self.store.last_event(incident.id, EventKind.RESOLVED)
        if resolved is None or resolved.id != timer.payload.get("resolution"):
            return None
        return incident

    async def notice(self, timer: Timer) -> None:
        incident = await self._current(timer)
        if incident is None or not incident.channel_id:
            return
        at = datetime.fromisoformat(str(timer.payload["at"]))
        message = ui.archive_notice(incident, at, timer.id, self.days, self.config)
        await self.slack.post(incident.channel_id, message)
        await self.store.append(
            incident.id,
            NewEvent(
                EventKind.ARCHIVE_NOTICE_SENT,
                None,
                f"channel to be archived at {at.isoformat()}",
                {"at": at.isoformat()},
            ),
            self.now(),
        )

    async def archive(self, timer: Timer) -> None:
        incident = await self._current(timer)
        if incident is None or not incident.channel_id:
            return
        channel = incident.channel_id
        try:
            await self.slack.archive(channel)
        except RateLimited:
            raise  # the scheduler tries again later
        except SlackFailure as failure:
            if failure.error != "already_archived":
                log.warning("%s: could not archive %s: %s", incident.reference, channel, failure)
                await self.store.append(
                    incident.id,
                    NewEvent(
                        EventKind.INTEGRATION_FAILED,
                        None,
                        f"could not archive the channel: {failure.error}",
                        {"step": "archive the channel", "error": failure.error},
                    ),
                    self.now(),
                )
                return
        await self.store.append(
            incident.id,
            NewEvent(
                EventKind.CHANNEL_ARCHIVED,
                None,
                f"#{incident.channel_name or channel} archived",
                {"channel": channel, "name": incident.channel_name, "after_days": self.days},
            ),
            self.now(),
            once=f"archived:{channel}:{timer.payload.get('resolution')}",
        )

    async def keep(self, incident_id: int, notice_id: int, user: str) -> tuple[Incident, datetime]:
        """Keep the channel another N days from now; once per notice, whoever clicks first."""
        incident = await self.store.require(incident_id)
        if incident.status != self.config.resolved_status:
            raise DomainError(f"{incident.reference} is open again: its channel is not going to be archived.")
        if self.days == 0:
            raise DomainError(
                "Channels are no longer archived automatically (`channels.archive_after_days`)."
            )
        first = await self.store.first(f"archive-keep:{notice_id}", user, self.now())
        if first is not None:
            raise already_done("This channel was already kept", first[0], first[1], self.config.zone)
        resolved = await self.store.last_event(incident.id, EventKind.RESOLVED)
        until = self.now() + timedelta(days=self.days)
        await self.scheduler.store.cancel_key_prefix(key_prefix(incident.id))
        kept = await self.store.append(
            incident.id,
            NewEvent(
                EventKind.ARCHIVE_POSTPONED,
                user,
                f"channel kept until {until.isoformat()}",
                {"until": until.isoformat(), "days": self.days},
            ),
            self.now(),
        )
        assert kept is not None
        for timer in self._timers(incident.id, resolved.id if resolved else 0, f"k{kept.id}", until):
            await self.scheduler.schedule(
                timer.kind, timer.due_at, timer.payload, incident_id=incident.id, key=timer.key
            )
        return incident, until
