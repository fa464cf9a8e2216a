"""SLO figures for people: the Slack summary, incident snapshots, the CLI report and the deploy gate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from bot.domain import EventKind, Incident
from bot.integrations.slack import SlackGateway
from bot.services.hooks import Change, IncidentHooks
from bot.slo.blocks import slo_summary
from bot.slo.engine import evaluate
from bot.slo.model import SLO, SLOStatus
from bot.slo.prometheus import UNREACHABLE, PrometheusClient
from bot.store import IncidentStore, NewEvent

log = logging.getLogger(__name__)

NOT_CONFIGURED = "Prometheus is not configured (set INCIDENTBOT_PROMETHEUS_URL)"
DEFAULT_DEADLINE = 10.0
"""Seconds a whole evaluation may take in Slack (its answer is edited in); the CLI takes `--deadline`."""


def all_unreachable(statuses: list[SLOStatus]) -> bool:
    """Prometheus could not be asked at all; "slow" or a bad query means it answers, and each SLO says so."""
    return bool(statuses) and all((s.error or "").startswith(UNREACHABLE) for s in statuses)


@dataclass
class SLOReport:
    statuses: list[SLOStatus] = field(default_factory=list)
    problem: str | None = None
    """Why nothing could be computed at all (not configured, no SLO for that service)."""


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reasons: dict[str, str]
    """SLO id -> why it blocks (or "ok")."""
    unreachable: bool = False


def status_data(status: SLOStatus) -> dict[str, Any]:
    """The figures as stored on the timeline, so a post-mortem can compare declare and resolve."""
    return {
        "id": status.slo.id,
        "service": status.slo.service,
        "objective": status.slo.objective,
        "error": status.error,
        "error_ratio": status.error_ratio,
        "sli": status.sli,
        "budget_remaining": status.budget_remaining,
        "burn_rates": status.burn_rates,
        "alert": status.alert,
        "at": status.at.isoformat(),
    }


class SLOService:
    def __init__(
        self,
        slos: list[SLO],
        client: PrometheusClient | None,
        store: IncidentStore | None,
        now: Callable[[], datetime],
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        self.slos = slos
        self.client = client
        self.store = store
        self.now = now
        self.deadline = deadline

    def select(self, service: str | None, labels: dict[str, str] | None = None) -> list[SLO]:
        wanted = (labels or {}).items()
        return [
            s
            for s in self.slos
            if service in (None, "", s.service) and all(s.labels.get(k) == v for k, v in wanted)
        ]

    async def report(self, service: str | None = None, labels: dict[str, str] | None = None) -> SLOReport:
        selected = self.select(service, labels)
        if not selected:
            known = ", ".join(sorted({s.service for s in self.slos})) or "none are configured"
            if labels:
                shown = ", ".join(f"{k}={v}" for k, v in labels.items())
                return SLOReport(
                    problem=f"No SLOs with {shown}" + (f" for service {service!r}." if service else ".")
                )
            return SLOReport(
                problem=f"No SLOs for service {service!r} (services with SLOs: {known})."
                if service
                else "No SLOs are configured (see `slos:` in the config)."
            )
        if self.client is None:
            return SLOReport(problem=NOT_CONFIGURED)
        return SLOReport(statuses=await evaluate(selected, self.client, self.now(), deadline=self.deadline))

    async def snapshot(self, incident: Incident, moment: str) -> SLOReport | None:
        """Record the affected service's SLOs on the timeline (at declare and at resolve)."""
        if not incident.service or not self.select(incident.service) or self.store is None:
            return None
        report = await self.report(incident.service)
        await self.store.append(
            incident.id,
            NewEvent(
                EventKind.SLO_SNAPSHOT,
                None,
                f"SLO snapshot at {moment}",
                {
                    "moment": moment,
                    "problem": report.problem,
                    "slos": [status_data(s) for s in report.statuses],
                },
            ),
            self.now(),
        )
        return report

    async def gate(self, service: str | None = None, labels: dict[str, str] | None = None) -> GateVerdict:
        report = await self.report(service, labels)
        if report.problem:
            return GateVerdict(False, {"*": report.problem}, unreachable=report.problem == NOT_CONFIGURED)
        reasons: dict[str, str] = {}
        for status in report.statuses:
            if status.error:
                reasons[status.slo.id] = status.error
            elif not status.has_data:
                reasons[status.slo.id] = "no data: cannot prove the budget is left"
            elif (status.budget_remaining or 0) <= 0:
                reasons[status.slo.id] = f"error budget exhausted ({status.budget_remaining:.1%} left)"
            elif status.alert == "page":
                reasons[status.slo.id] = "burning at page level"
        ok = {s.slo.id: "ok" for s in report.statuses if s.slo.id not in reasons}
        return GateVerdict(not reasons, {**reasons, **ok}, unreachable=all_unreachable(report.statuses))


class SLOSnapshots(IncidentHooks):
    """Posts and records the affected service's SLOs at declare and at resolve, so the post-mortem can
    state the error budget the incident consumed."""

    steps: ClassVar[dict[Change, str]] = {
        "declared": "take the SLO snapshot",
        "resolved": "take the SLO snapshot",
    }
    what_to_do = "Run `/incident slo` in the channel."

    def __init__(self, slo: SLOService, slack: SlackGateway) -> None:
        self.slo = slo
        self.slack = slack

    async def declared(self, incident: Incident) -> None:
        await self._snapshot(incident, "declared")

    async def resolved(self, incident: Incident) -> None:
        await self._snapshot(incident, "resolved")

    async def _snapshot(self, incident: Incident, moment: str) -> None:
        report = await self.slo.snapshot(incident, moment)
        if report is None or not incident.channel_id:
            return
        title = f"SLOs of {incident.service} at {moment}"
        await self.slack.post(incident.channel_id, slo_summary(report.statuses, title, report.problem))
