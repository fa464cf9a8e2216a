"""Runbooks in an incident: post one as a checklist, run its steps, approve dangerous ones.

A step's run is recorded twice: its state in `runbook_steps` (what stops a second concurrent run) and an
event on the timeline (who, which step, parameters, result, duration) for the post-mortem. What a step
prints is redacted before it is shown or stored anywhere.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.config import AppConfig
from bot.domain import DomainError, EventKind, Incident, already_done
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message
from bot.runbooks import messages as ui
from bot.runbooks.execute import Redactor, run_command, secret_values, step_env
from bot.runbooks.params import argv, preview, resolve_params
from bot.runbooks.probes import run_check, run_http
from bot.runbooks.schema import SECTIONS, Runbook, Step
from bot.runbooks.store import (
    AWAITING_APPROVAL,
    DONE,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    RunbookStore,
    RunRecord,
    StepRecord,
)
from bot.services.incidents import IncidentService
from bot.slo.prometheus import PrometheusClient
from bot.store import NewEvent

log = logging.getLogger(__name__)

APPROVER_ROLES = ("incident_commander", "operations_lead")
STALE_GRACE = timedelta(minutes=2)
"""A step still "running" this long after its timeout died with its process; it may run again."""


DrillResult = Callable[[Incident, Step, str], Awaitable[dict[str, Any]]]


class RunbookService:
    def __init__(
        self,
        config: AppConfig,
        runbooks: dict[str, Runbook],
        store: RunbookStore,
        incidents: IncidentService,
        slack: SlackGateway,
        prometheus: PrometheusClient | None,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.runbooks = runbooks
        self.store = store
        self.incidents = incidents
        self.slack = slack
        self.prometheus = prometheus
        self.drill_result: DrillResult | None = None
        """A drill's stand-in for running a step (nothing real runs in a drill); set by the drills."""
        self.now = now

    # -- choosing and posting --------------------------------------------------------------------------
    async def available(self, incident: Incident) -> list[tuple[Runbook, bool]]:
        """Every runbook, those matching the incident's service or its alerts first."""
        alerts = {
            str(e.data.get("alert", {}).get("alertname"))
            for e in await self.incidents.store.timeline(incident.id)
            if e.kind == EventKind.ALERT_RECEIVED
        }
        entries = [(r, r.matches(incident.service, alerts)) for r in self.runbooks.values()]
        return sorted(entries, key=lambda e: (not e[1], e[0].name))

    async def matching(self, incident: Incident) -> list[tuple[str, str]]:
        """(name, title) of the runbooks for the incident's service or alerts (the welcome offers them)."""
        return [(r.name, r.title) for r, matches in await self.available(incident) if matches]

    def runbook(self, name: str) -> Runbook:
        runbook = self.runbooks.get(name.strip())
        if runbook is None:
            known = ", ".join(f"`{n}`" for n in sorted(self.runbooks)) or "none are configured"
            raise DomainError(f"Unknown runbook {name!r}; runbooks: {known}.")
        return runbook

    async def post(self, incident_id: int, name: str, actor: str) -> str:
        incident = await self.incidents.get(incident_id)
        runbook = self.runbook(name)
        if not incident.channel_id:
            raise DomainError(f"{incident.reference} has no channel to post the checklist in.")
        steps = [(section, step.id) for section, step in runbook.steps()]
        run = await self.store.create_run(incident.id, runbook.name, actor, self.now(), steps)
        records = {r.step_id: r for r in await self.store.steps(run.id)}
        posted: dict[str, str] = {}
        for part, pairs in self._parts(runbook, records):
            message = ui.checklist(runbook, run, part, pairs, first=not posted)
            posted[part] = await self.slack.post(incident.channel_id, message)
        await self.store.set_messages(run.id, incident.channel_id, posted)
        await self._event(
            incident,
            EventKind.RUNBOOK_POSTED,
            actor,
            f"posted runbook {runbook.name}",
            {"runbook": runbook.name, "run_id": run.id},
        )
        return f"Posted the {runbook.title} checklist in <#{incident.channel_id}>."

    @staticmethod
    def _parts(
        runbook: Runbook, records: dict[str, StepRecord]
    ) -> list[tuple[str, list[tuple[Step, StepRecord]]]]:
        """The checklist's messages: one per section, split when a section is too long for one message."""
        parts: list[tuple[str, list[tuple[Step, StepRecord]]]] = []
        for section in SECTIONS:
            pairs = [(s, records[s.id]) for name, s in runbook.steps() if name == section]
            for index in range(0, len(pairs), ui.STEPS_PER_MESSAGE):
                suffix = f"#{index // ui.STEPS_PER_MESSAGE}" if index else ""
                parts.append((section + suffix, pairs[index : index + ui.STEPS_PER_MESSAGE]))
        return parts

    async def _refresh(self, run: RunRecord, runbook: Runbook, step_id: str) -> None:
        """Edit the checklist message that shows `step_id`."""
        run = await self.store.run(run.id) or run
        records = {r.step_id: r for r in await self.store.steps(run.id)}
        for index, (part, pairs) in enumerate(self._parts(runbook, records)):
            ts = run.messages.get(part)
            if run.channel and ts and any(step.id == step_id for step, _ in pairs):
                try:
                    await self.slack.update(
                        run.channel, ts, ui.checklist(runbook, run, part, pairs, index == 0)
                    )
                except SlackFailure as failure:
                    log.warning("runbook %s: could not update the checklist: %s", run.id, failure)

    # -- what a click refers to --------------------------------------------------------------------------
    async def locate(self, run_id: int, step_id: str) -> tuple[Incident, RunRecord, Runbook, Step]:
        run = await self.store.run(run_id)
        if run is None:
            raise DomainError("This checklist is unknown (the database may have been reset).")
        runbook = self.runbook(run.runbook)
        step = runbook.step(step_id)
        if step is None:
            raise DomainError(f"Runbook {runbook.name} has no step {step_id!r} any more; post it again.")
        return await self.incidents.get(run.incident_id), run, runbook, step

    async def check_member(self, incident: Incident, user: str) -> None:
        if not incident.channel_id or user not in await self.slack.channel_members(incident.channel_id):
            raise DomainError(f"Only members of the {incident.reference} channel can run its runbook steps.")

    def may_approve(self, incident: Incident, user: str) -> bool:
        return any(role in APPROVER_ROLES for role in incident.roles_of(user))

    # -- running ---------------------------------------------------------------------------------------
    async def request_run(
        self,
        run_id: int,
        step_id: str,
        actor: str,
        given: dict[str, str],
        seen_runs: int | None = None,
        self_approve: bool = True,
    ) -> str:
        """Run the step now, or ask for approval when it is dangerous and `actor` may not approve (or,
        `self_approve=False`, the bot acting on its own: a person approves what it asks for)."""
        incident, run, runbook, step = await self.locate(run_id, step_id)
        if step.kind == "manual":
            raise DomainError(f"*{step.title}* is done by a person: press Done when it is.")
        await self.check_member(incident, actor)
        params = resolve_params(step, given)
        if step.dangerous and not (self_approve and self.may_approve(incident, actor)):
            if not await self.store.await_approval(run.id, step.id, actor, params):
                raise DomainError(f"*{step.title}* is already running or waiting for approval.")
            shown = preview(step, params)
            if incident.channel_id:
                await self.slack.post(incident.channel_id, ui.approval_request(run, step, actor, shown))
            await self._event(
                incident,
                EventKind.RUNBOOK_STEP_APPROVAL,
                actor,
                f"asked to run {step.id}",
                {"runbook": runbook.name, "step": step.id, "params": params, "decision": "requested"},
            )
            await self._refresh(run, runbook, step.id)
            return f"*{step.title}* is dangerous: an Incident Commander or Operations Lead must approve it."
        stale = self.now() - step.timeout - STALE_GRACE
        if not await self.store.start(run.id, step.id, actor, params, self.now(), stale, seen_runs):
            record = await self.store.step(run.id, step.id)
            busy = record is None or record.state in (RUNNING, AWAITING_APPROVAL)
            if seen_runs is not None and record is not None and not busy and record.runs != seen_runs:
                raise already_done(
                    f"*{step.title}* was already run", record.actor, record.started_at, self.config.zone
                )
            raise DomainError(f"*{step.title}* is already running or waiting for approval.")
        await self._execute(incident, run, runbook, step, actor, params)
        return f"Ran *{step.title}*."

    async def approve(self, run_id: int, step_id: str, approver: str) -> str:
        incident, run, runbook, step = await self.locate(run_id, step_id)
        if not self.may_approve(incident, approver):
            raise DomainError(
                "Only the Incident Commander or the Operations Lead can approve a dangerous step."
            )
        record = await self.store.step(run.id, step.id)
        if record is None or not await self.store.approve(run.id, step.id, self.now()):
            raise await self._decided(incident, step)
        await self._event(
            incident,
            EventKind.RUNBOOK_STEP_APPROVAL,
            approver,
            f"approved {step.id}",
            {"runbook": runbook.name, "step": step.id, "requested_by": record.actor, "decision": "approved"},
        )
        await self._execute(incident, run, runbook, step, record.actor or approver, record.params, approver)
        return f"Approved and ran *{step.title}*."

    async def reject(self, run_id: int, step_id: str, user: str) -> str:
        incident, run, runbook, step = await self.locate(run_id, step_id)
        if not self.may_approve(incident, user):
            raise DomainError(
                "Only the Incident Commander or the Operations Lead can reject a dangerous step."
            )
        if not await self.store.reject(run.id, step.id):
            raise await self._decided(incident, step)
        await self._event(
            incident,
            EventKind.RUNBOOK_STEP_APPROVAL,
            user,
            f"rejected {step.id}",
            {"runbook": runbook.name, "step": step.id, "decision": "rejected"},
        )
        await self._refresh(run, runbook, step.id)
        return f"Rejected *{step.title}*."

    async def mark(self, run_id: int, step_id: str, user: str, state: str) -> str:
        incident, run, runbook, step = await self.locate(run_id, step_id)
        await self.check_member(incident, user)
        if state not in (DONE, SKIPPED):
            raise ValueError(state)
        if not await self.store.mark(run.id, step.id, state, user, self.now()):
            record = await self.store.step(run.id, step.id)
            if record is not None and record.state == state:
                raise already_done(
                    f"*{step.title}* was already marked {state}",
                    record.actor,
                    record.finished_at,
                    self.config.zone,
                )
            raise DomainError(f"*{step.title}* is running or waiting for approval; wait for it.")
        await self._event(
            incident,
            EventKind.RUNBOOK_STEP_MARKED,
            user,
            f"{state} {step.id}",
            {"runbook": runbook.name, "step": step.id, "state": state},
        )
        await self._refresh(run, runbook, step.id)
        return f"Marked *{step.title}* {state}."

    async def _decided(self, incident: Incident, step: Step) -> DomainError:
        """The slower of two approvers (or rejecters) is told who decided first, and when."""
        last = await self.incidents.store.last_event(incident.id, EventKind.RUNBOOK_STEP_APPROVAL)
        if last is None or last.data.get("step") != step.id or last.data.get("decision") == "requested":
            return DomainError(f"*{step.title}* is not waiting for approval.")
        return already_done(
            f"*{step.title}* was already {last.data.get('decision')}",
            last.actor,
            last.occurred_at,
            self.config.zone,
        )

    async def _execute(
        self,
        incident: Incident,
        run: RunRecord,
        runbook: Runbook,
        step: Step,
        actor: str,
        params: dict[str, str],
        approver: str | None = None,
    ) -> None:
        shown = preview(step, params) if step.kind == "command" else (step.url or step.query or "")
        channel = incident.channel_id or ""
        running_ts = await self._post_quietly(channel, ui.step_running(step, actor, shown))
        await self._refresh(run, runbook, step.id)
        started = self.now()
        try:
            drilled = (
                await self.drill_result(incident, step, shown)
                if incident.drill and self.drill_result
                else None
            )
            result = drilled if drilled is not None else await self._run(step, params)
        except Exception as exc:  # a bug in a runner must not leave the step "running" for ever
            log.exception("runbook %s step %s failed to run", runbook.name, step.id)
            result = {"passed": False, "summary": f"could not run: {type(exc).__name__}: {exc}"}
        duration = self.now() - started
        result.setdefault("duration_s", duration.total_seconds())
        state = SUCCEEDED if result.get("passed") else FAILED
        stored = {**result, "output": str(result.get("output") or "")[: ui.OUTPUT_IN_MESSAGE]}
        await self.store.finish(run.id, step.id, state, stored, self.now())
        attached = await self._show_result(channel, running_ts, step, actor, shown, result)
        data = {
            "runbook": runbook.name,
            "run_id": run.id,
            "step": step.id,
            "title": step.title,
            "kind": step.kind,
            "params": params,
            "approved_by": approver,
            "output_attached": attached,
            **stored,
        }
        await self._event(
            incident, EventKind.RUNBOOK_STEP_RUN, actor, f"{step.title}: {result.get('summary')}", data
        )
        await self._refresh(run, runbook, step.id)

    async def _run(self, step: Step, params: dict[str, str]) -> dict[str, Any]:
        secret_names = self.config.runbooks.secret_env
        secrets = [os.environ.get(name, "") for name in secret_names] + [
            value for name, value in step.env.items() if name in secret_names
        ]
        redact = Redactor([*secrets, *secret_values(os.environ, step.env)])
        if step.kind == "command":
            outcome = await run_command(
                argv(step, params),
                timeout=step.timeout.total_seconds(),
                cwd=step.workdir,
                env=step_env(step, secret_names, os.environ),
                max_output_bytes=self.config.runbooks.max_output_bytes,
                redact=redact,
            )
            if outcome.error:
                summary = f"could not start: {outcome.error}"
            elif outcome.timed_out:
                summary = f"killed after its {step.timeout.total_seconds():g} s timeout"
            else:
                summary = f"exit {outcome.exit_code} in {outcome.duration.total_seconds():.1f} s"
            return {
                "passed": outcome.exit_code == 0 and not outcome.timed_out and not outcome.error,
                "summary": summary,
                "exit_code": outcome.exit_code,
                "timed_out": outcome.timed_out,
                "duration_s": outcome.duration.total_seconds(),
                "output": outcome.output,
                "output_bytes": outcome.output_bytes,
                "truncated": outcome.truncated,
            }
        probe = await (
            run_http(step, redact) if step.kind == "http" else run_check(step, self.prometheus, self.now())
        )
        return {
            "passed": probe.passed,
            "summary": probe.summary,
            "duration_s": probe.duration.total_seconds(),
            "output": probe.detail,
        }

    async def _show_result(
        self, channel: str, ts: str | None, step: Step, actor: str, shown: str, result: dict[str, Any]
    ) -> bool:
        """Edit the "running…" message into the result; output too long for Slack goes up as a file."""
        output = str(result.get("output") or "")
        attach = bool(output) and (len(output) > ui.OUTPUT_IN_MESSAGE or bool(result.get("truncated")))
        attached = False
        if attach and channel:
            try:
                await self.slack.upload_text(
                    channel, f"{step.id}-output.txt", output, f"Output of {step.title}", thread_ts=ts
                )
                attached = True
            except SlackFailure as failure:
                log.warning("could not upload the output of %s: %s", step.id, failure)
        message = ui.step_result(step, actor, shown, result, attached)
        try:
            if ts:
                await self.slack.update(channel, ts, message)
            elif channel:
                await self.slack.post(channel, message)
        except SlackFailure as failure:
            log.warning("could not show the result of %s: %s", step.id, failure)
        return attached

    async def _post_quietly(self, channel: str, message: Message) -> str | None:
        if not channel:
            return None
        try:
            return await self.slack.post(channel, message)
        except SlackFailure as failure:
            log.warning("could not post in %s: %s", channel, failure)
            return None

    async def _event(
        self, incident: Incident, kind: EventKind, actor: str | None, text: str, data: dict[str, Any]
    ) -> None:
        await self.incidents.store.append(incident.id, NewEvent(kind, actor, text, data), self.now())
