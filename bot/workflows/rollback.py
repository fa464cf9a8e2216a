"""The `rollback:` section: which services are watched after a deploy, on which thresholds, and how a
breach is rolled back (issue 19, "Automatic rollback").

A watch is deploy-scoped: armed for one (service, version) by `/incident rollback-watch`, the CLI or a
future `deploy.recorded` trigger, and disarmed after `window`. The rollback itself is a step of a runbook
the team already keeps (so its approval for dangerous steps still applies), given the previous version
as one of its parameters.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from bot.settings import Duration, Strict
from bot.slo.threshold import Threshold


class ServiceRollback(Strict):
    """How one service is watched and rolled back."""

    thresholds: list[Threshold] = Field(min_length=1)
    """Any one breached (held for its `for`) triggers the rollback."""
    runbook: str
    """The runbook posted in the incident channel (`runbooks:`)."""
    step: str
    """The runbook step that rolls back; it is given `version_param` = the previous version."""
    version_param: str | None = None
    params: dict[str, str] = {}
    """Fixed parameters of the step (say, the deployment name)."""
    severity: str = "SEV1"
    """The severity of the incident a breach declares (an attached incident keeps its own)."""
    verify_within: Duration = timedelta(minutes=10)
    """After the rollback is asked for, the threshold must have cleared by then, or `oncall` is paged."""
    oncall: str | None = None
    """A schedule id (`oncall.schedules`)."""


class RollbackConfig(Strict):
    window: Duration = timedelta(minutes=30)
    """How long after arming a watch evaluates; then it is disarmed."""
    automatic: list[str] = ["SEV1"]
    """Severities whose rollback step is requested by the bot at once."""
    on_approval: list[str] = ["SEV2"]
    """Severities whose runbook is posted and the Incident Commander asked to run the step; any other
    severity only gets a suggestion."""
    services: dict[str, ServiceRollback] = {}

    def problems(
        self,
        severities: list[str],
        services: list[str],
        schedules: list[str],
        runbooks: dict[str, dict[str, list[str]]] | None,
    ) -> list[str]:
        """References to things that do not exist (a typo would only show at the first breach).
        `runbooks`: name → step id → its parameters, when loaded (`config check`)."""
        found = []
        given = [f for f in ("automatic", "on_approval") if f in self.model_fields_set]
        for field_name in given:  # the defaults name SEV1/SEV2, which a config may not have
            for severity in getattr(self, field_name):
                if severity not in severities:
                    found.append(f"rollback.{field_name}: unknown severity {severity!r}")
        for name, watch in self.services.items():
            where = f"rollback.services.{name}"
            if name not in services:
                found.append(f"{where}: unknown service {name!r} ({', '.join(services)})")
            if watch.severity not in severities:
                found.append(f"{where}.severity: unknown severity {watch.severity!r}")
            if watch.oncall is not None and watch.oncall not in schedules:
                found.append(f"{where}.oncall: unknown schedule {watch.oncall!r}")
            if runbooks is not None:
                found += _runbook_problems(where, watch, runbooks)
        return found


def _runbook_problems(
    where: str, watch: ServiceRollback, runbooks: dict[str, dict[str, list[str]]]
) -> list[str]:
    steps = runbooks.get(watch.runbook)
    if steps is None:
        return [f"{where}.runbook: unknown runbook {watch.runbook!r}"]
    params = steps.get(watch.step)
    if params is None:
        return [f"{where}.step: runbook {watch.runbook} has no step {watch.step!r}"]
    given = [*watch.params, *([watch.version_param] if watch.version_param else [])]
    return [
        f"{where}: step {watch.step} has no parameter {name!r} ({', '.join(params) or 'none'})"
        for name in given
        if name not in params
    ]
