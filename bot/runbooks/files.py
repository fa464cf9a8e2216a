"""Runbook files on disk: loading every `*.yml`/`*.yaml` under a directory, and `validate` for CI.

Apart from the format (`schema`) because this is where files, YAML documents and this machine come in:
every problem in every file is collected and worded `file: field: reason` before anything is raised,
and `validate` adds what depends on this machine and on today (programs on PATH, review dates).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from bot.problems import Problems, field_path, model_documents, reason
from bot.runbooks.fields import CREDENTIAL_NAME
from bot.runbooks.schema import Runbook
from bot.runbooks.settings import RunbooksConfig
from bot.settings import ConfigError

RUNBOOK_SUFFIXES = (".yml", ".yaml")


class RunbookError(ConfigError):
    """Every problem found in the runbook files, each worded as `file: field: reason`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in runbooks:\n" + "\n".join(f"  {p}" for p in problems))


# --- loading --------------------------------------------------------------------------------------


class _Problems(Problems):
    def validation(self, where: str, exc: ValidationError) -> None:
        for err in exc.errors():
            base = field_path(err["loc"])
            if err["type"] == "runbook_fields":
                for sub, why in err["ctx"]["issues"]:
                    self.add(where, _join(base, sub) or "(top level)", why)
                continue
            self.add(where, base or "(top level)", reason(err))


def _join(base: str, sub: str) -> str:
    if not sub:
        return base
    if not base:
        return sub.lstrip(".")
    return f"{base}{sub}" if sub.startswith("[") else f"{base}.{sub}"


@dataclass(frozen=True)
class _Loaded:
    runbook: Runbook
    where: str


def _files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.suffix in RUNBOOK_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def _load_file(file: Path, problems: _Problems) -> Iterator[_Loaded]:
    for where, runbook in model_documents(file, Runbook, problems, "name, title, owner, sections, …"):
        runbook._source = where
        yield _Loaded(runbook, where)


def _load(directory: Path, problems: _Problems) -> dict[str, Runbook]:
    if not directory.is_dir():
        problems.add(str(directory), None, "no such directory")
        return {}
    found: dict[str, Runbook] = {}
    for file in _files(directory):
        for item in _load_file(file, problems):
            earlier = found.get(item.runbook.name)
            if earlier is not None:
                name = item.runbook.name
                reason = f"duplicate runbook name {name!r} (also in {earlier.source})"
                problems.add(item.where, "name", reason)
                continue
            found[item.runbook.name] = item.runbook
    return found


def load_runbooks(directory: Path) -> dict[str, Runbook]:
    """Every runbook in `*.yml`/`*.yaml` under `directory` (recursively, hidden paths skipped), by name.

    Raises `RunbookError` listing every problem in every file, so one run shows everything to fix.
    """
    problems = _Problems()
    found = _load(directory, problems)
    if problems.items:
        raise RunbookError(problems.items)
    return found


def runbooks_directory(config: RunbooksConfig, config_path: Path) -> Path:
    directory = config.directory
    return directory if directory.is_absolute() else config_path.parent / directory


def configured_runbooks(config: RunbooksConfig, config_path: Path) -> dict[str, Runbook]:
    """The runbooks in `runbooks.directory` (relative to the config file); {} if it is missing."""
    directory = runbooks_directory(config, config_path)
    if not directory.exists():
        return {}
    return load_runbooks(directory)


# --- validate -------------------------------------------------------------------------------------


@dataclass
class Report:
    runbooks: dict[str, Runbook]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate(
    directory: Path,
    today: date,
    max_age_days: int,
    which: Callable[[str], str | None] = shutil.which,
    secret_env: Iterable[str] | None = None,
) -> Report:
    """Everything `load_runbooks` checks, plus what depends on this machine and on today (for CI):

    errors: schema problems, programs (argv[0]) not found on PATH or not executable, working directories that
    do not exist, credential-like env / env_passthrough names not in `secret_env` (when given), review dates
    in the future; warnings: `last_reviewed` older than `max_age_days`, credentials written in a file.
    """
    problems = _Problems()
    runbooks = _load(directory, problems)
    warnings = _Problems()
    secrets = set(secret_env) if secret_env is not None else None
    for runbook in runbooks.values():
        where = runbook.source
        age = (today - runbook.last_reviewed).days
        if age > max_age_days:
            warnings.add(
                where,
                "last_reviewed",
                f"{runbook.last_reviewed.isoformat()} is {age} days ago (more than {max_age_days}): "
                "walk through the runbook and update the date",
            )
        elif age < -1:
            problems.add(where, "last_reviewed", f"{runbook.last_reviewed.isoformat()} is in the future")
        for _, step in runbook.steps():
            if step.kind != "command":
                continue
            at = runbook.location(step.id)
            program = step.command[0]
            if which(program) is None:
                if os.path.sep in program:
                    kind = "is not executable" if os.path.exists(program) else "does not exist"
                else:
                    kind = "is not found on PATH"
                problems.add(where, f"{at}.command[0]", f"{program!r} {kind} on this machine")
            if step.workdir is not None and not os.path.isdir(step.workdir):
                problems.add(where, f"{at}.workdir", f"{step.workdir!r} is not a directory on this machine")
            names = [(f"env_passthrough[{i}]", name) for i, name in enumerate(step.env_passthrough)]
            names += [(f"env.{name}", name) for name in step.env]
            for field_name, name in names:
                if not CREDENTIAL_NAME.search(name):
                    continue
                if secrets is not None and name not in secrets:
                    problems.add(
                        where,
                        f"{at}.{field_name}",
                        f"{name} looks like a credential: list it in runbooks.secret_env so its value is "
                        "redacted from the output (steps that pass it are refused until then)",
                    )
                elif field_name.startswith("env.") and step.env[name]:
                    warnings.add(
                        where,
                        f"{at}.{field_name}",
                        f"{name} looks like a credential committed with the runbook; prefer passing it from "
                        "the bot's environment with env_passthrough",
                    )
    return Report(runbooks, problems.items, warnings.items)
