"""The YAML file (`INCIDENTBOT_CONFIG`): the incident's own settings plus each domain package's section.

Validated at start so a typo fails `incidentbot config check` with the field that is wrong, instead of
surfacing at 3 AM halfway through a declare. This package is the only place that reads the file and the
environment; domain packages receive their section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, model_validator

from bot.alerts.routing import AlertmanagerConfig
from bot.catalog.files import load_catalog_files
from bot.catalog.settings import CatalogConfig, catalog_services
from bot.changes.settings import ChangesConfig
from bot.communication.settings import CommunicationConfig
from bot.drills.settings import DrillsConfig
from bot.integrations.pagers import PagingConfig
from bot.oncall.settings import OnCallConfig
from bot.postmortem.report_settings import ReportConfig
from bot.postmortem.settings import PostmortemsConfig
from bot.runbooks.settings import RunbooksConfig
from bot.settings import ConfigError, IncidentSettings
from bot.statuspage.settings import StatusPageConfig
from bot.store.retention import RetentionConfig
from bot.workflows.files import references
from bot.workflows.rollback import RollbackConfig
from bot.workflows.settings import Workflow, unique_names


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
    retention: RetentionConfig = RetentionConfig()
    status_page: StatusPageConfig = StatusPageConfig()
    communication: CommunicationConfig = CommunicationConfig()
    workflows: list[Workflow] = []
    """When this happens, if that holds, do these (issue 19); more in the files of `workflows_dir`."""
    workflows_dir: Path | None = None
    """A directory of workflow YAML files, relative to this file (like runbooks)."""
    rollback: RollbackConfig = RollbackConfig()
    """Deploy watches that roll back on a breached threshold (issue 19, automatic rollback)."""
    catalog: CatalogConfig = CatalogConfig()
    """The service catalog (issue 20): its components extend `services` (or become services)."""
    catalog_dir: Path | None = None
    """A directory of catalog files (`components:` / `scenarios:`), relative to this file; read at load."""
    changes: ChangesConfig = ChangesConfig()
    """Deploys: what changed before an incident, and DORA's figures (issue 20)."""
    drills: DrillsConfig = DrillsConfig()
    """Practice incidents: scenario files and game days (issue 21)."""

    @model_validator(mode="after")
    def _references(self) -> AppConfig:
        """Sections name severities, statuses and roles; a name that does not exist is a typo."""
        # The catalog's components are services: every `service(id)` caller and the picker see them.
        object.__setattr__(self, "services", catalog_services(self.services, self.catalog))
        severities = [s.id for s in self.severities]
        problems = self.alertmanager.check_references(severities, self.statuses)
        problems += self.report.problems(severities)
        problems += self.communication.problems(severities, [r.id for r in self.roles])
        problems += self.status_page.problems(
            severities, [r.id for r in self.roles], {s.id: s.status_component for s in self.services}
        )
        for severity, steps in self.oncall.escalation.items():
            if severity not in severities:
                problems.append(f"oncall.escalation: unknown severity {severity!r} ({', '.join(severities)})")
            for number, step in enumerate(steps, start=1):
                role = step.notify.role if step.notify else None
                if role and self.role(role) is None:
                    problems.append(f"oncall.escalation.{severity} step {number}: unknown role {role!r}")
        problems += unique_names(self.workflows)
        schedules = {s.id for s in self.oncall.schedules}
        problems += self.rollback.problems(severities, [s.id for s in self.services], sorted(schedules), None)
        for workflow in self.workflows:
            problems += references(
                workflow, self, schedules, {n: a.template for n, a in self.communication.audiences.items()}
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def config_relative(config_path: Path, path: Path) -> Path:
    """Paths in the config file are relative to the file, wherever the bot is started from."""
    return path if path.is_absolute() else config_path.parent / path


WHAT_TO_DO = (
    "Point INCIDENTBOT_CONFIG at your incidentbot.yml (start from examples/incidentbot.yml: severities, "
    "channels, on-call), or mount the file there; `incidentbot sandbox` tries the bot without one."
)


def load_config(path: Path, required: bool = False) -> AppConfig:
    """Load the YAML file. `required` (serve, config check and the other commands outside the sandbox):
    a missing or empty file is an error, since the built-in defaults page nobody and post nowhere real
    (a typo in INCIDENTBOT_CONFIG or an unmounted ConfigMap). Otherwise a missing file means defaults."""
    if not path.exists():
        if required:
            raise ConfigError(f"the config file {path} does not exist. {WHAT_TO_DO}")
        return AppConfig()
    return _validate(path, _read(path, required))


def load_config_aside(path: Path, section: str) -> tuple[AppConfig, Any]:
    """The config without `section`, and that section's raw value: for a command that checks the section
    itself and reports its problems as findings (`incidentbot workflow validate`: exit 1, not 2)."""
    if not path.exists():
        raise ConfigError(f"the config file {path} does not exist. {WHAT_TO_DO}")
    raw = _read(path, required=True)
    aside = raw.pop(section, None)
    return _validate(path, raw), aside


def _read(path: Path, required: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        if required:
            raise ConfigError(f"the config file {path} is empty. {WHAT_TO_DO}")
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return raw


def _validate(path: Path, raw: dict[str, Any]) -> AppConfig:
    if raw.get("catalog_dir"):
        raw = {**raw, "catalog": _with_catalog_files(path, raw)}
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s)"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from exc


def _with_catalog_files(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    """The `catalog:` section with the components and scenarios of the files of `catalog_dir`."""
    section = dict(raw.get("catalog") or {})
    folder = config_relative(path, Path(str(raw["catalog_dir"])))
    if not folder.exists():
        return section  # like a missing runbooks directory: none; `catalog validate` says it is missing
    files = load_catalog_files([folder])
    for key in ("components", "scenarios"):
        section[key] = [*(section.get(key) or []), *(item.model_dump() for item in getattr(files, key))]
    return section
