"""What other capabilities do when an incident changes (paging, reminders, SLO snapshots, …).

The incident service calls every hook at each change, each call as its own step: a hook that fails is
reported in the channel and on the timeline like any failed Slack step, and never stops the others.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Incident

Change = Literal[
    "declared", "set_up", "channel_created", "update_posted", "severity_changed", "resolved", "reopened"
]


class IncidentHooks:
    """Override the changes a capability cares about; the others do nothing."""

    steps: ClassVar[dict[Change, str]] = {}
    """What each change does, worded for "Could not …" messages."""
    what_to_do = "See the bot's log."
    before_channel: ClassVar[frozenset[Change]] = frozenset()
    """Changes this capability acts on before the incident's channel exists (a page must not wait)."""

    async def with_change(
        self, session: AsyncSession, change: Change, incident_id: int, event_id: int
    ) -> None:
        """Runs inside the transaction of `change` (an update, a severity change, a resolution), before the
        hooks below run after its commit: for work that must survive the process dying in between (add a
        durable timer here that does it, and let the hook after the commit do it sooner)."""
        return None

    async def summary_lines(self, incident: Incident) -> list[str]:
        """Lines this capability adds to the pinned summary (kept short: one context line each)."""
        return []

    async def declared(self, incident: Incident) -> None:
        return None

    async def set_up(self, incident: Incident) -> None:
        """After a declare's channel exists, or once it is known it has to wait (its failures can be
        shown there, if at all)."""
        return None

    async def channel_created(self, incident: Incident) -> None:
        """The channel of an incident came late (Slack refused or rate limited it at first)."""
        return None

    async def update_posted(self, incident: Incident) -> None:
        return None

    async def severity_changed(self, incident: Incident) -> None:
        return None

    async def resolved(self, incident: Incident) -> None:
        return None

    async def reopened(self, incident: Incident) -> None:
        return None
