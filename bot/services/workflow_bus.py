"""The workflows' one event bus: each timeline event that is a trigger schedules the workflow runs it
starts, in the transaction that writes the event.

Why the timeline: every change is already a timeline event, whoever made it (Slack, the CLI, Alertmanager,
an auto-resolve), so listening there (`bot.store.listen`) makes all of them fire the same workflows, and a
path added later cannot forget to. Each run is a durable timer keyed by (workflow, incident, event): it
commits with the change, survives a restart, fires in exactly one replica, and a second emission of the
same event (a hook run twice, a retried job) adds nothing. A delay is a timer due later, cancelled by its
`unless` trigger in that trigger's own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.config import AppConfig, config_relative
from bot.store.listen import listen_timeline
from bot.store.models import IncidentRow, TimelineEventRow
from bot.timers import DEFAULT_PRIORITY, NewTimer, add_timer_now, cancel_key_prefix_now
from bot.workflows.files import combined
from bot.workflows.match import ALERT_KINDS, Facts, WorkflowIndex, alert_labels, triggers_of

log = logging.getLogger(__name__)

RUN = "workflow.run"
DECLARE_GRACE = timedelta(seconds=2)
"""A declare's runs are due this long after it: its page, channel and announcement (2–3 Slack round trips)
go first. Due at once, 20 workflows on incident.declared took the declare → channel ready median from
1.35× to 1.70× the 3-round-trip limit at 50 ms per Slack call (bench/declare_latency.py --workflows 20);
2 s later, 1.41×."""
RUN_PRIORITY = DEFAULT_PRIORITY
"""After pages and the set-up of severe incidents (a workflow's invite needs the channel), before
reminders."""


def run_key(workflow: str, incident_id: int, event_id: int) -> str:
    return f"workflow:{workflow}:{incident_id}:{event_id}"


def later_prefix(workflow: str, incident_id: int) -> str:
    return f"workflow-later:{workflow}:{incident_id}:"


def later_key(workflow: str, incident_id: int, event_id: int, delay: int) -> str:
    return f"{later_prefix(workflow, incident_id)}{event_id}:{delay}"


class WorkflowBus:
    """Schedules runs; it does not kick the timer worker, which takes them at its next poll (within a
    second) or with the next kick, pages and set-ups first (priority). Kicked at once, the runs of 20
    workflows on incident.declared filled the worker's slots before the declare's page timer was added,
    and the first page went out 300 ms later (bench/declare_latency.py --workflows 20)."""

    def __init__(self, index: WorkflowIndex, now: Callable[[], datetime]) -> None:
        self.index = index
        self.now = now

    # -- the listener (bot.store.listen) ---------------------------------------------------------------
    def on_new_events(self, session: Session, rows: list[TimelineEventRow]) -> None:
        if not self.index:
            return
        for row in rows:
            for trigger in triggers_of(row.kind, row.data or {}):
                if self.index.interested(trigger):
                    self._emit(session.connection(), trigger, row.incident_id, row.id, row.data or {})

    async def emit(
        self, session: AsyncSession, trigger: str, incident_id: int, event_id: int, data: dict[str, Any]
    ) -> None:
        """For a service whose event is not a timeline kind above: the same scheduling, in its session."""

        await session.run_sync(
            lambda sync: self._emit(sync.connection(), trigger, incident_id, event_id, data)
        )

    # -- scheduling ------------------------------------------------------------------------------------
    def _emit(
        self, connection: Connection, trigger: str, incident_id: int, event_id: int, data: Mapping[str, Any]
    ) -> None:
        """Schedule what `trigger` starts and cancel the delays it ends."""
        now = self.now()
        for workflow in self.index.cancelled(trigger):
            cancel_key_prefix_now(connection, later_prefix(workflow.name, incident_id), incident_id)
        facts = self._facts(connection, incident_id, trigger, data)
        if facts is None:
            return
        for run in self.index.scheduled(trigger, facts):
            payload: dict[str, Any] = {
                "workflow": run.workflow.name,
                "trigger": trigger,
                "event_id": event_id,
            }
            if run.delay is None:
                key = run_key(run.workflow.name, incident_id, event_id)
                due = now + DECLARE_GRACE if trigger == "incident.declared" else now
            else:
                number = run.workflow.delays.index(run.delay)
                key, due = later_key(run.workflow.name, incident_id, event_id, number), now + run.delay.after
                payload["delay"] = number
            timer = NewTimer(RUN, due, payload, incident_id, key, RUN_PRIORITY)
            add_timer_now(connection, timer, now)

    def _facts(
        self, connection: Connection, incident_id: int, trigger: str, data: Mapping[str, Any]
    ) -> Facts | None:
        row = connection.execute(
            select(
                IncidentRow.severity,
                IncidentRow.status,
                IncidentRow.service,
                IncidentRow.private,
                IncidentRow.drill,
                IncidentRow.fields,
            ).where(IncidentRow.id == incident_id)
        ).one_or_none()
        if row is None:
            log.warning("workflows: %s for incident %s, which does not exist", trigger, incident_id)
            return None
        labels = alert_labels(data)
        if not labels and self.index.needs_labels(trigger):
            for event_data in connection.execute(
                select(TimelineEventRow.data)
                .where(TimelineEventRow.incident_id == incident_id, TimelineEventRow.kind.in_(ALERT_KINDS))
                .order_by(TimelineEventRow.id)
            ).scalars():
                labels.update(alert_labels(event_data or {}))
        fields = {str(k): str(v) for k, v in (row.fields or {}).items()}
        return Facts(
            row.severity, row.status, row.service, bool(row.private), labels, bool(row.drill), fields
        )


def configured_index(config: AppConfig, config_path: Path) -> WorkflowIndex:
    """The config's workflows and those of `workflows_dir` (relative to the config file)."""
    folder = config_relative(config_path, config.workflows_dir) if config.workflows_dir else None
    return WorkflowIndex(combined(config.workflows, folder))


def listen_for_workflows(
    sessions: async_sessionmaker[AsyncSession],
    index: WorkflowIndex,
    now: Callable[[], datetime],
) -> WorkflowBus:
    """Put the bus on these sessions: the serving bot's, and a CLI command's that changes incidents (its
    runs are then fired by the serving bot's worker)."""
    bus = WorkflowBus(index, now)
    listen_timeline(sessions, bus.on_new_events)
    return bus
