"""Automatic rollback (issue 19): a deploy-scoped watch on a service's thresholds that, on a breach,
declares or joins the incident, rolls back per severity, then verifies the rollback worked.

Why a chain of keyed timers and no table: each evaluation is one durable timer whose key names the watch
and the step number, and whose payload carries the thresholds' hysteresis states. A restart continues
from the last committed step, two replicas claim each step once, and a second arm of the same (service,
version) adds nothing. The breach stops the chain and schedules the verification (also keyed), so the
rollback is asked for once. Every step the watch takes is a timeline event with the measured value; the
breach is a `threshold_breached` event, which the workflow bus hears as the `threshold` trigger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.changes.store import DeployStore
from bot.config import AppConfig
from bot.domain import DeclareRequest, DomainError, EventKind, Incident
from bot.integrations.slack import SlackFailure, SlackGateway
from bot.messages import Message, text_sections
from bot.oncall.schedules import on_call
from bot.runbooks.params import ParamError
from bot.services.incidents import IncidentService
from bot.services.paging import Paging
from bot.services.runbooks import RunbookService
from bot.services.workflow_actions import Context, Result
from bot.slo.prometheus import PrometheusClient
from bot.slo.threshold import BREACHED, Threshold, ThresholdState, observe
from bot.store import IncidentStore, NewEvent
from bot.timers import Scheduler, Timer, TimerStore
from bot.workflows.rollback import ServiceRollback
from bot.workflows.settings import RollbackAction

log = logging.getLogger(__name__)

EVALUATE = "rollback.evaluate"
VERIFY = "rollback.verify"


def watch_key(service: str, version: str) -> str:
    return f"rollback:{service}:{version}"


def describe(threshold: Threshold) -> str:
    side = f"> {threshold.above:g}" if threshold.above is not None else f"< {threshold.below:g}"
    return f"`{threshold.expr}` {side} for {_minutes(threshold.hold.total_seconds())}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _value(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4g}"


def _state_out(state: ThresholdState) -> dict[str, Any]:
    since = state.since.isoformat() if state.since else None
    return {"breached": state.breached, "since": since, "last_value": state.last_value}


def _state_in(data: dict[str, Any]) -> ThresholdState:
    since = datetime.fromisoformat(data["since"]) if data.get("since") else None
    return ThresholdState(bool(data.get("breached")), since, data.get("last_value"))


def _step(watch: ServiceRollback, previous: str | None) -> tuple[dict[str, str], str]:
    """The rollback step's parameters (the previous version filled in) and how it reads."""
    given = dict(watch.params)
    if watch.version_param and previous:
        given[watch.version_param] = previous
    shown = ", ".join(f"{k}={v}" for k, v in given.items()) or "no parameters"
    return given, f"`{watch.step}` of runbook `{watch.runbook}` ({shown})"


@dataclass(frozen=True)
class Arming:
    """What arming needs: a timer and maybe a timeline event, so the CLI arms without a running bot (the
    serving bot's worker then evaluates)."""

    timers: TimerStore
    store: IncidentStore
    now: datetime
    prometheus: bool
    """Whether the bot has a Prometheus to ask (a watch without one would never see anything)."""


async def arm_watch(
    config: AppConfig,
    arming: Arming,
    service: str,
    version: str,
    previous: str | None,
    actor: str,
    incident_id: int | None = None,
) -> str:
    """Schedule the watch's first evaluation (keyed: a second arm of the same version adds nothing)."""
    watch = config.rollback.services.get(service)
    if watch is None:
        known = ", ".join(f"`{s}`" for s in sorted(config.rollback.services)) or "none is configured"
        raise DomainError(f"No rollback watch for service {service!r} (`rollback.services`: {known}).")
    version, previous = version.strip(), (previous or "").strip() or None
    if not version:
        raise DomainError("Give the version that was deployed.")
    if not arming.prometheus:
        raise DomainError("Prometheus is not configured (INCIDENTBOT_PROMETHEUS_URL): nothing to watch.")
    if watch.version_param and previous is None:
        raise DomainError(f"Give the previous version too: the rollback step needs `{watch.version_param}`.")
    now = arming.now
    payload = {
        "service": service,
        "version": version,
        "previous": previous,
        "actor": actor,
        "incident_id": incident_id,
        "armed_at": now.isoformat(),
        "step": 0,
        "states": [_state_out(ThresholdState()) for _ in watch.thresholds],
    }
    key = watch_key(service, version)
    if not await arming.timers.schedule(EVALUATE, now, now, payload, incident_id=incident_id, key=f"{key}:0"):
        return f"`{service}` {version} is already watched."
    window = config.rollback.window
    text = f"watching {service} {version} for {_minutes(window.total_seconds())}" + (
        f" (rollback to {previous})" if previous else ""
    )
    log.info("rollback: %s, armed by %s", text, actor)
    if incident_id is not None:
        data = {"phase": "armed", "service": service, "version": version, "previous": previous}
        event = NewEvent(EventKind.ROLLBACK, actor, text, data)
        await arming.store.append(incident_id, event, now, f"{key}:armed")
    thresholds = "; ".join(describe(t) for t in watch.thresholds)
    return f":eyes: Rollback watch armed: {text}, every evaluation against {thresholds}."


class Rollbacks:
    """Arms watches, evaluates them on timers, and handles a breach and its verification."""

    def __init__(
        self,
        config: AppConfig,
        incidents: IncidentService,
        runbooks: RunbookService,
        paging: Paging,
        scheduler: Scheduler,
        slack: SlackGateway,
        prometheus: PrometheusClient | None,
        now: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.incidents = incidents
        self.runbooks = runbooks
        self.paging = paging
        self.scheduler = scheduler
        self.slack = slack
        self.prometheus = prometheus
        self.now = now
        self.deploys: DeployStore | None = None
        """Where a canary's stage is read (change tracking); without it a watch runs one window."""
        scheduler.on(EVALUATE, self.evaluate)
        scheduler.on(VERIFY, self.verify)

    def watch(self, service: str) -> ServiceRollback:
        watch = self.config.rollback.services.get(service)
        if watch is None:
            known = ", ".join(f"`{s}`" for s in sorted(self.config.rollback.services)) or "none is configured"
            raise DomainError(f"No rollback watch for service {service!r} (`rollback.services`: {known}).")
        return watch

    # -- arming ----------------------------------------------------------------------------------------
    async def arm(
        self, service: str, version: str, previous: str | None, actor: str, incident_id: int | None = None
    ) -> str:
        """Start watching `service` at `version` for the configured window; the first evaluation is due
        at once. Callable from Slack, the CLI, or a future `deploy.recorded` trigger."""
        said = await arm_watch(
            self.config,
            Arming(self.scheduler.store, self.incidents.store, self.now(), self.prometheus is not None),
            service,
            version,
            previous,
            actor,
            incident_id,
        )
        self.scheduler.kick()
        return said

    # -- evaluating ------------------------------------------------------------------------------------
    async def _measure(self, promql: str, at: datetime) -> float | None:
        """A value, or None (no data, or Prometheus unreachable): neither is a recovery nor a breach."""
        if self.prometheus is None:
            return None
        try:
            return await self.prometheus.query(promql, at)
        except Exception as exc:  # unreachable, slow, a bad query: the next evaluation asks again
            log.warning("rollback: could not evaluate %s: %s", promql, exc)
            return None

    async def evaluate(self, timer: Timer) -> None:
        payload = timer.payload
        service, version = str(payload["service"]), str(payload["version"])
        watch = self.config.rollback.services.get(service)
        now = self.now()
        stage, since = await self._stage(service, version, datetime.fromisoformat(payload["armed_at"]))
        if watch is None or now >= since + self.config.rollback.window:
            await self._disarm(payload, "the watch is no longer configured" if watch is None else None)
            return
        states = [_state_in(s) for s in payload["states"]]
        if len(states) != len(watch.thresholds):  # the config changed under a running watch: start over
            states = [ThresholdState() for _ in watch.thresholds]
        for number, threshold in enumerate(watch.thresholds):
            value = await self._measure(threshold.expr, now)
            states[number], change = observe(threshold, states[number], value, now)
            if change == BREACHED:
                await self.breached({**payload, "threshold": number, "stage": stage}, watch, threshold, value)
                return
        step = int(payload["step"]) + 1
        due = now + min(t.every for t in watch.thresholds)
        follow = {**payload, "step": step, "states": [_state_out(s) for s in states]}
        key = f"{watch_key(service, version)}:{step}"
        await self.scheduler.schedule(EVALUATE, due, follow, incident_id=timer.incident_id, key=key)

    async def _stage(self, service: str, version: str, armed_at: datetime) -> tuple[int | None, datetime]:
        """A canary's current stage and when it began: each stage is gated for a whole window."""
        deploy = await self.deploys.latest(service, version) if self.deploys else None
        if deploy is None or deploy.canary_percent is None:
            return None, armed_at
        return deploy.canary_percent, max(armed_at, deploy.stage_at)

    async def _disarm(self, payload: dict[str, Any], why: str | None) -> None:
        service, version = payload["service"], payload["version"]
        text = f"rollback watch on {service} {version} disarmed: " + (
            why or "its window ended without a breach"
        )
        log.info("rollback: %s", text)
        incident_id = payload.get("incident_id")
        if incident_id is not None:
            data = {"phase": "disarmed", "service": service, "version": version}
            key = f"{watch_key(service, version)}:disarmed"
            if await self._event(incident_id, EventKind.ROLLBACK, None, text, data, key):
                await self._say(await self.incidents.get(incident_id), f":white_check_mark: The {text}.")

    # -- the breach ------------------------------------------------------------------------------------
    async def breached(
        self, payload: dict[str, Any], watch: ServiceRollback, threshold: Threshold, value: float | None
    ) -> None:
        """Declare or join the incident, record the breach, roll back per severity, schedule the check."""
        service, version, previous = payload["service"], payload["version"], payload.get("previous")
        key = watch_key(service, version)
        bot = await self.slack.bot_user_id()
        incident = await self._incident(payload, watch, threshold, value, bot)
        side = {"above": threshold.above} if threshold.above is not None else {"below": threshold.below}
        stage = payload.get("stage")
        at_stage = f" at canary {stage} %" if stage is not None else ""
        text = (
            f"threshold breached after {service} {version}{at_stage}: {describe(threshold)}, "
            f"measured {_value(value)}"
        )
        data = {
            "service": service,
            "version": version,
            "previous": previous,
            "expr": threshold.expr,
            **side,
            "for": threshold.hold.total_seconds(),
            "value": value,
            "canary_percent": stage,
        }
        kind = EventKind.THRESHOLD_BREACHED
        if await self._event(incident.id, kind, bot, text, data, f"{key}:breached"):
            await self._say(incident, f":rotating_light: {text[0].upper()}{text[1:]}.")
        if not await self._rolled_back(incident.id, service, version):
            # also on a repeated timer whose first run died between the breach and the rollback
            await self.roll_back(incident, service, previous, bot, version)
        verify = {**payload, "incident_id": incident.id}
        due = self.now() + watch.verify_within
        await self.scheduler.schedule(VERIFY, due, verify, incident_id=incident.id, key=f"{key}:verify")

    async def _incident(
        self,
        payload: dict[str, Any],
        watch: ServiceRollback,
        threshold: Threshold,
        value: float | None,
        bot: str,
    ) -> Incident:
        if payload.get("incident_id") is not None:
            return await self.incidents.get(int(payload["incident_id"]))
        service, version = payload["service"], payload["version"]
        request = DeclareRequest(
            title=f"{service} {version}: threshold breached after the deploy",
            severity=watch.severity,
            summary=(
                f"The rollback watch on {service} {version} saw {describe(threshold)} "
                f"(measured {_value(value)})."
            ),
            reporter=bot,
            commander=self._on_call(watch),
            service=service,
        )
        outcome = await self.incidents.declare(request, watch_key(service, version))
        return await self.incidents.get(outcome.incident.id)  # with its channel, now set up

    async def _rolled_back(self, incident_id: int, service: str, version: str) -> bool:
        return any(
            e.kind == EventKind.ROLLBACK
            and e.data.get("service") == service
            and e.data.get("version") == version
            and e.data.get("phase") in ("requested", "asked", "suggested")
            for e in await self.incidents.store.timeline(incident_id)
        )

    async def roll_back(
        self, incident: Incident, service: str, previous: str | None, actor: str, version: str | None = None
    ) -> str:
        """The approval policy by the incident's severity: automatic, on the IC's approval, or a hint.
        Also the workflow action `rollback` (for the incident's service)."""
        watch = self.watch(service)
        policy = self.config.rollback
        given, step = _step(watch, previous)
        if incident.severity in policy.automatic:
            text, phase = await self._request(incident, watch, given, step, actor), "requested"
        elif incident.severity in policy.on_approval:
            await self._post_runbook(incident, watch, actor)
            ic = incident.roles.get("incident_commander")
            who = f"<@{ic}>" if ic else "Incident Commander"
            text, phase = (
                f":arrows_counterclockwise: {who}: {incident.severity} — please run {step}.",
                "asked",
            )
        else:
            text, phase = f":bulb: Suggestion: roll back with {step}.", "suggested"
        await self._say(incident, text)
        data = {"phase": phase, "service": service, "version": version, "previous": previous, "params": given}
        await self._event(incident.id, EventKind.ROLLBACK, actor, text.split(" ", 1)[1], data)
        return text

    async def request_rollback(
        self, incident: Incident, service: str, previous: str, actor: str, version: str | None = None
    ) -> str:
        """A person asked for the rollback (the what-changed offer): the step is requested whatever the
        severity, under the runbook's own approval; recorded like the watch's."""
        watch = self.watch(service)
        given, step = _step(watch, previous)
        text = await self._request(incident, watch, given, step, actor)
        await self._say(incident, text)
        data = {"phase": "requested", "service": service, "version": version, "previous": previous}
        await self._event(
            incident.id, EventKind.ROLLBACK, actor, text.split(" ", 1)[1], {**data, "params": given}
        )
        return text

    async def _post_runbook(self, incident: Incident, watch: ServiceRollback, actor: str) -> int | None:
        """Post the checklist; the run's id (from its timeline event) lets the bot ask for the step."""
        try:
            await self.runbooks.post(incident.id, watch.runbook, actor)
        except (DomainError, SlackFailure) as exc:
            log.warning("rollback: could not post runbook %s: %s", watch.runbook, exc)
            return None
        posted = [
            e
            for e in await self.incidents.store.timeline(incident.id)
            if e.kind == EventKind.RUNBOOK_POSTED and e.data.get("runbook") == watch.runbook
        ]
        return int(posted[-1].data["run_id"]) if posted else None

    async def _request(
        self, incident: Incident, watch: ServiceRollback, given: dict[str, str], step: str, actor: str
    ) -> str:
        run_id = await self._post_runbook(incident, watch, actor)
        if run_id is None:
            return f":warning: Automatic rollback: could not post the runbook; run {step} by hand."
        try:
            said = await self.runbooks.request_run(run_id, watch.step, actor, given, self_approve=False)
        except (DomainError, ParamError, SlackFailure) as exc:
            return f":warning: Automatic rollback: {step} was not started ({exc}); run it by hand."
        return (
            f":arrows_counterclockwise: Automatic rollback ({incident.severity}): requested {step}. {said} "
            "The runbook's approval for dangerous steps still applies."
        )

    async def action(self, incident: Incident, action: RollbackAction, ctx: Context) -> Result:
        """The workflow action `rollback`: the policy above for the incident's service, now."""
        if not incident.service:
            return Result(False, "rollback", f"{incident.reference} has no service")
        bot = await self.slack.bot_user_id()
        text = await self.roll_back(incident, incident.service, action.previous, bot)
        return Result(not text.startswith(":warning:"), text.split(" ", 1)[1][:200])

    # -- verifying -------------------------------------------------------------------------------------
    async def verify(self, timer: Timer) -> None:
        """The threshold must have been back for its `for` by now (the same hysteresis as a clear: the
        worst value over that span, in one query), else the service's on-call is paged."""
        payload = timer.payload
        service, version = payload["service"], payload["version"]
        incident = await self.incidents.get(int(payload["incident_id"]))
        watch = self.config.rollback.services.get(service)
        number = int(payload.get("threshold") or 0)
        if watch is None or number >= len(watch.thresholds):
            log.warning("rollback: %s is no longer configured; its verification is dropped", service)
            return
        threshold = watch.thresholds[number]
        hold, step = int(threshold.hold.total_seconds()), int(threshold.every.total_seconds())
        worst = "max_over_time" if threshold.above is not None else "min_over_time"
        value = await self._measure(f"{worst}(({threshold.expr})[{hold}s:{step}s])", self.now())
        key = f"{watch_key(service, version)}:verified"
        if value is not None and not threshold.crossed(value):
            text = f"rollback verified: {describe(threshold)} cleared, worst since {_value(value)}"
            data = {"phase": "verified", "service": service, "version": version, "value": value}
            if await self._event(incident.id, EventKind.ROLLBACK, None, text, data, key):
                await self._say(incident, f":white_check_mark: R{text[1:]}.")
            return
        paged = await self._page_oncall(incident, watch, service, key)
        measured = f"measured {_value(value)}"
        text = f"threshold not cleared after the rollback: {describe(threshold)}, {measured}; {paged}"
        data = {"phase": "not_cleared", "service": service, "version": version, "value": value}
        if await self._event(incident.id, EventKind.ROLLBACK, None, text, data, key):
            await self._say(incident, f":rotating_light: T{text[1:]}.")

    def _on_call(self, watch: ServiceRollback) -> str | None:
        """Who is on call for the service now (the declared incident's commander), if anyone."""
        schedule = self.config.oncall.schedule(watch.oncall) if watch.oncall else None
        shift = on_call(schedule, self.now()) if schedule else None
        return shift.user if shift else None

    async def _page_oncall(
        self, incident: Incident, watch: ServiceRollback | None, service: str, key: str
    ) -> str:
        schedule = self.config.oncall.schedule(watch.oncall) if watch and watch.oncall else None
        if schedule is None:
            return f"no on-call schedule is set for {service}: call its owner"
        shift = on_call(schedule, self.now())
        if shift is None:
            return f"nobody is on call for {schedule.name}: call its owner"
        reason = f"the rollback of {service} did not clear its threshold"
        page = await self.paging.page_user(incident, shift.user, reason, step_key=f"{key}:{shift.user}")
        if page.status != "sent":
            return f"paging <@{shift.user}> ({schedule.name}) failed: {page.error or page.status}"
        return f"paged <@{shift.user}> ({schedule.name})"

    # -- helpers ---------------------------------------------------------------------------------------
    async def _event(
        self,
        incident_id: int,
        kind: EventKind,
        actor: str | None,
        text: str,
        data: dict[str, Any],
        once: str | None = None,
    ) -> bool:
        event = await self.incidents.store.append(
            incident_id, NewEvent(kind, actor, text, data), self.now(), once
        )
        return event is not None

    async def _say(self, incident: Incident, text: str) -> None:
        if not incident.channel_id:
            return
        try:
            await self.slack.post(incident.channel_id, Message(text[:2900], text_sections(text, 3)))
        except SlackFailure as failure:
            log.warning("rollback: could not post in %s: %s", incident.channel_id, failure)
