"""The YAML file (`INCIDENTBOT_CONFIG`): the incident's own settings plus each domain package's section.

Validated at start so a typo fails `incidentbot config check` with the field that is wrong, instead of
surfacing at 3 AM halfway through a declare. This package is the only place that reads the file and the
environment; domain packages receive their section.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError, model_validator

from bot.alerts.routing import AlertmanagerConfig
from bot.integrations.pagers import PagingConfig
from bot.oncall.settings import OnCallConfig
from bot.postmortem.report_settings import ReportConfig
from bot.postmortem.settings import PostmortemsConfig
from bot.runbooks.settings import RunbooksConfig
from bot.settings import ConfigError, IncidentSettings


class AppConfig(IncidentSettings):
    """The whole YAML file."""

    slos: list[Path] = []
    """SLO spec files or directories (Sloth `prometheus/v1`, OpenSLO v1), relative to this file."""
    oncall: OnCallConfig = OnCallConfig()
    paging: PagingConfig = PagingConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    runbooks: RunbooksConfig = RunbooksConfig()
    postmortems: PostmortemsConfig = PostmortemsConfig()
    report: ReportConfig = ReportConfig()

    @model_validator(mode="after")
    def _references(self) -> AppConfig:
        """Sections name severities, statuses and roles; a name that does not exist is a typo."""
        severities = [s.id for s in self.severities]
        problems = self.alertmanager.check_references(severities, self.statuses)
        problems += self.report.problems(severities)
        for severity, steps in self.oncall.escalation.items():
            if severity not in severities:
                problems.append(f"oncall.escalation: unknown severity {severity!r} ({', '.join(severities)})")
            for number, step in enumerate(steps, start=1):
                role = step.notify.role if step.notify else None
                if role and self.role(role) is None:
                    problems.append(f"oncall.escalation.{severity} step {number}: unknown role {role!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def config_relative(config_path: Path, path: Path) -> Path:
    """Paths in the config file are relative to the file, wherever the bot is started from."""
    return path if path.is_absolute() else config_path.parent / path


def load_config(path: Path) -> AppConfig:
    """Load the YAML file; a missing file means "all defaults" so a first run needs no config."""
    if not path.exists():
        return AppConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s)"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from exc
