"""Running workflows: the durable run timers the bus schedules, their actions, Retry, and what ran.

A run fires once per (workflow, incident, triggering event) — its timer's key. Each action's result is a
`workflow_step` timeline event written right after the action, and a repeated run (a crash, an expired
lease) skips the steps already recorded, so a crash repeats at most the one action in flight. A failing
action does not stop the others unless the workflow says `stop_on_error`; a webhook's failure worth
retrying is retried with a growing delay by a timer of its own; a final failure is posted in the
incident's channel with a Retry button, which acts once however often it is clicked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident, TimelineEvent
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message
from bot.services.setup import SETUP
from bot.services.workflow_actions import Context, Result, WorkflowActions, needs_channel
from bot.services.workflow_bus import RUN, RUN_PRIORITY, listen_for_workflows
from bot.store import IncidentStore, NewEvent
from bot.timers import RetryLater, Scheduler, Timer
from bot.workflows.match import WorkflowIndex, facts_of, holds, labels_of, triggers_of
from bot.workflows.messages import Pending, Ran, retried, step_failed, workflows_report
from bot.workflows.settings import Delay, WebhookAction, Workflow

log = logging.getLogger(__name__)

SETUP_WAIT = timedelta(seconds=1)
"""A declare's runs also wait while its set-up is still going (a slow Slack): the critical path first."""
CHANNEL_WAIT = timedelta(seconds=2)
WAIT_MOST = timedelta(seconds=30)
CHANNEL_PATIENCE = timedelta(minutes=10)
"""How long a run waits for the channel of a young incident (its set-up may still be creating it)."""


def retry_delay(attempt: int) -> timedelta:
    """5 s, 20 s, 80 s … up to 10 min: a receiver that restarts is caught quickly, one that is down is
    not hammered."""
    return min(timedelta(minutes=10), timedelta(seconds=5) * 4 ** max(attempt - 1, 0))


def ran_of(events: list[TimelineEvent]) -> list[Ran]:
    return [
        Ran(str(e.data.get("workflow", "")), e.text, bool(e.data.get("ok")), e.occurred_at)
        for e in events
        if e.kind == EventKind.WORKFLOW_STEP
    ]


class Workflows:
    def __init__(
        self,
        config: AppConfig,
        index: WorkflowIndex,
        store: IncidentStore,
        scheduler: Scheduler,
        slack: SlackGateway,
        actions: WorkflowActions,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.index = index
        self.store = store
        self.scheduler = scheduler
        self.slack = slack
        self.actions = actions
        self.now = now
        self.bus = listen_for_workflows(store.sessions, index, now)
        scheduler.on(RUN, self.fire)

    # -- a run -----------------------------------------------------------------------------------------
    async def fire(self, timer: Timer) -> None:
        payload = timer.payload
        workflow = self.index.get(str(payload.get("workflow")))
        incident = await self.store.get(timer.incident_id or 0)
        if workflow is None or incident is None:
            log.warning("workflow run %s: workflow or incident gone (%s)", timer.key, payload)
            return
        if payload.get("trigger") == "incident.declared" and await self.scheduler.store.pending(
            incident.id, SETUP
        ):
            raise RetryLater(self._wait(incident, SETUP_WAIT), f"{incident.reference} is still being set up")
        timeline = await self.store.timeline(incident.id)
        event_id = int(payload["event_id"])
        number = payload.get("delay")
        if number is not None and int(number) >= len(workflow.delays):
            log.warning("workflow run %s: %s has no delay %s any more", timer.key, workflow.name, number)
            return
        delay = workflow.delays[int(number)] if number is not None else None
        if (
            delay is not None
            and not payload.get("retry_of")
            and not self._still_due(workflow, delay, incident, timeline, event_id)
        ):
            return
        steps = range(len(workflow.do)) if payload.get("only") is None else [int(payload["only"])]
        start = int(payload.get("start") or 0)
        channel_coming = (
            not incident.channel_id
            and self.now() - incident.created_at < CHANNEL_PATIENCE
            and incident.status != self.config.resolved_status
        )
        if channel_coming and any(needs_channel(workflow.do[i]) for i in steps if i >= start):
            raise RetryLater(self._wait(incident, CHANNEL_WAIT), f"{incident.reference} has no channel yet")
        run = str(payload.get("run") or timer.key or f"{workflow.name}:{event_id}")
        done = self._recorded(timeline, run, payload.get("retry_of"))
        for index in steps:
            if index < start or index in done:
                continue
            ctx = Context(workflow.name, run, index, str(payload.get("trigger", "")), event_id, self.now())
            result = await self.actions.run(workflow.do[index], incident, ctx)
            attempt = (
                int(payload.get("attempt") or 1) if index == start or payload.get("only") is not None else 1
            )
            again = self._retry_at(workflow, index, result, attempt)
            await self._record(incident, workflow, run, index, result, attempt, again, payload)
            incident = await self.store.get(incident.id) or incident  # an action may have changed it
            if again is not None:
                rest = {"start": index, "only": None} if workflow.stop_on_error else {"only": index}
                await self._continue(timer, run, index, attempt + 1, again, rest)
                if workflow.stop_on_error:
                    return
            elif not result.ok and workflow.stop_on_error:
                return

    def _wait(self, incident: Incident, least: timedelta) -> timedelta:
        """Asked again soon at first, then less often (a quarter of the incident's age, at most 30 s): a
        Slack outage that holds up the channel must not turn every waiting run into a write a second."""
        return min(WAIT_MOST, max(least, (self.now() - incident.created_at) / 4))

    def _still_due(
        self,
        workflow: Workflow,
        delay: Delay,
        incident: Incident,
        timeline: list[TimelineEvent],
        event_id: int,
    ) -> bool:
        """A delay fires unless an `unless` event came after its `of` event, and if its conditions hold
        for the incident as it is now."""
        for event in timeline:
            if event.id > event_id and set(triggers_of(event.kind.value, event.data)) & set(delay.unless):
                log.info("%s: %s cancelled by %s", incident.reference, workflow.name, event.kind.value)
                return False
        return holds(workflow.if_, facts_of(incident, labels_of(timeline)))

    def _recorded(self, timeline: list[TimelineEvent], run: str, retry_of: Any) -> set[int]:
        """The steps of `run` already done for good (a repeated timer skips them)."""
        done = set()
        for event in timeline:
            data = event.data
            if event.kind != EventKind.WORKFLOW_STEP or data.get("run") != run:
                continue
            if retry_of is not None and data.get("retry_of") != retry_of:
                continue
            if data.get("final") or data.get("ok"):
                done.add(int(data.get("step", -1)))
        return done

    def _retry_at(self, workflow: Workflow, index: int, result: Result, attempt: int) -> datetime | None:
        step = workflow.do[index]
        if result.ok or not result.retryable or not isinstance(step.spec, WebhookAction):
            return None
        if attempt > step.spec.retries:
            return None
        return self.now() + retry_delay(attempt)

    async def _continue(
        self, timer: Timer, run: str, index: int, attempt: int, due: datetime, rest: dict[str, Any]
    ) -> None:
        payload = {**timer.payload, **rest, "run": run, "attempt": attempt}
        key = f"workflow-again:{run}:{index}:{attempt}:{timer.payload.get('retry_of') or ''}"
        await self.scheduler.schedule(
            RUN, due, payload, incident_id=timer.incident_id, key=key, priority=RUN_PRIORITY
        )

    async def _record(
        self,
        incident: Incident,
        workflow: Workflow,
        run: str,
        index: int,
        result: Result,
        attempt: int,
        again: datetime | None,
        payload: dict[str, Any],
    ) -> None:
        step = workflow.do[index]
        if result.ok:
            text = f"workflow {workflow.name}: {result.text} ✓"
        else:
            later = f"; retrying at {again:%H:%M:%S}" if again else ""
            text = f"workflow {workflow.name}: could not {result.text}: {result.error}{later}"
        data = {
            "workflow": workflow.name,
            "run": run,
            "step": index,
            "action": step.action,
            "ok": result.ok,
            "final": again is None,
            "attempt": attempt,
            "error": result.error,
            "trigger": payload.get("trigger"),
            "retry_of": payload.get("retry_of"),
        }
        event = await self.store.append(
            incident.id,
            NewEvent(EventKind.WORKFLOW_STEP, None, text, data),
            self.now(),
            once=f"workflow-step:{run}:{index}:{attempt}:{payload.get('retry_of') or ''}",
        )
        if event is None or result.ok or again is not None or not incident.channel_id:
            return
        message = step_failed(workflow.name, result.text, result.error or "failed", event.id)
        try:
            await self.slack.post(incident.channel_id, message)
        except SlackFailure as failure:
            log.warning("%s: could not show the failed workflow step: %s", incident.reference, failure)

    # -- Retry -----------------------------------------------------------------------------------------
    async def retry(self, incident_id: int, failure_event_id: int, user: str) -> bool:
        """The Retry button: runs the failed action again, once per failure whatever the clicks (the
        timer's key is the failure's id); False when it was already retried."""
        timeline = await self.store.timeline(incident_id)
        failure = next((e for e in timeline if e.id == failure_event_id), None)
        if failure is None or failure.kind != EventKind.WORKFLOW_STEP or failure.data.get("ok"):
            raise DomainError("There is no failed workflow action to retry here.")
        data = failure.data
        workflow = self.index.get(str(data.get("workflow")))
        if workflow is None:
            raise DomainError(f"The workflow {data.get('workflow')!r} is no longer configured.")
        run = str(data["run"])
        payload = {
            "workflow": workflow.name,
            "trigger": data.get("trigger"),
            "event_id": self._event_of(run),
            "run": run,
            **self._from_step(workflow, int(data["step"])),
            "retry_of": failure_event_id,
            "attempt": 1,
        }
        first = await self.scheduler.schedule(
            RUN,
            self.now(),
            payload,
            incident_id=incident_id,
            key=f"workflow-retry:{failure_event_id}",
            priority=RUN_PRIORITY,
        )
        if first:
            incident = await self.store.require(incident_id)
            if incident.channel_id:
                what = workflow.do[int(data["step"])].action
                await self.slack.post(incident.channel_id, retried(user, workflow.name, what))
        return first

    @staticmethod
    def _from_step(workflow: Workflow, step: int) -> dict[str, Any]:
        """A retry runs the failed action; with `stop_on_error`, also the actions its failure stopped."""
        return {"start": step, "only": None} if workflow.stop_on_error else {"only": step}

    @staticmethod
    def _event_of(run: str) -> int:
        """The triggering event's id: the last number of the run key (`workflow:NAME:INCIDENT:EVENT`, or a
        delay's `workflow-later:NAME:INCIDENT:EVENT:N`)."""
        parts = run.split(":")
        return int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 0

    # -- what ran --------------------------------------------------------------------------------------
    async def report(self, incident_id: int) -> Message:
        incident = await self.store.require(incident_id)
        ran = ran_of(await self.store.timeline(incident_id))
        pending = []
        for timer in await self.scheduler.store.pending(incident_id, RUN):
            payload = timer.payload
            if payload.get("retry_of"):
                what = "retry of a failed action"
            elif payload.get("attempt"):
                step = int(payload.get("only") or payload.get("start") or 0) + 1
                what = f"attempt {payload['attempt']} of step {step}"
            elif payload.get("delay") is not None:
                what = f"after {payload.get('trigger')}"
            else:
                what = f"on {payload.get('trigger')}"
            pending.append(Pending(str(payload.get("workflow")), timer.due_at, what))
        return workflows_report(incident, ran, pending, self.config)
