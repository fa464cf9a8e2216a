"""`/incident catchup`: what someone joining late needs, read off the stored incident and its timeline.

Facts only, no summarising model: the state, the impact as declared, the last status update, who holds
which role, the open action items, what is due next, and the latest timeline events. A reader can check
every line against the timeline, which is what makes it safe to trust mid-incident.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot import channel_messages as ui
from bot.config import AppConfig
from bot.domain import EventKind
from bot.messages import Message
from bot.postmortem.store import OPEN
from bot.services.actions import ActionItems
from bot.services.hooks import IncidentHooks
from bot.store import IncidentStore

log = logging.getLogger(__name__)

CHATTER = frozenset({EventKind.SLO_SNAPSHOT, EventKind.REMINDER_SENT, EventKind.UNKNOWN})
"""Kinds left out of "latest on the timeline": they say nothing a late joiner acts on."""


class Catchups:
    def __init__(
        self,
        config: AppConfig,
        store: IncidentStore,
        actions: ActionItems,
        deadlines: IncidentHooks,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.store = store
        self.actions = actions
        self.deadlines = deadlines
        """The communication plan: its `summary_lines` are the audiences' next deadlines."""
        self.now = now

    async def message(self, incident_id: int) -> Message:
        incident = await self.store.require(incident_id)
        timeline = await self.store.timeline(incident.id)
        updates = [e for e in timeline if e.kind == EventKind.UPDATE_POSTED]
        items = [
            ui.OpenAction(item.id, item.text, item.owner, item.due)
            for item in await self.actions.for_incident(incident.id)
            if item.status == OPEN
        ]
        try:
            due = await self.deadlines.summary_lines(incident)
        except Exception:  # the catch-up must not fail for one extra line
            log.exception("%s: the communication plan's deadlines failed", incident.reference)
            due = []
        facts = ui.Catchup(
            incident=incident,
            now=self.now(),
            last_update=updates[-1] if updates else None,
            recent=[e for e in timeline if e.kind not in CHATTER][-ui.RECENT_EVENTS :],
            actions=items,
            due=due,
        )
        return ui.catchup(facts, self.config)
