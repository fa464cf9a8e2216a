"""Load Sloth (`prometheus/v1`) and OpenSLO (`openslo/v1`) SLO specs into the one internal `SLO` model.

People bring the SLO files they already have, so both formats are read as written upstream; the raw shapes
are pydantic models (so typos are caught at the edge) and are then converted into `SLO`. Every problem in
every file is collected before anything is raised, and each names the file, the field and the reason,
because the person fixing a spec should see all of them in one `incidentbot config check` run.

This module reads the files and tells the formats apart; `sloth` and `openslo` hold one format each,
and `spec_fields` what they share.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.problems import Problems, yaml_documents
from bot.settings import ConfigError
from bot.slo.model import SLO
from bot.slo.openslo import OPENSLO_API_VERSION, OPENSLO_IGNORED_KINDS, OpenSLO, from_openslo
from bot.slo.sloth import SLOTH_VERSION, SlothSpec, from_sloth
from bot.slo.spec_fields import Loaded

SUPPORTED_FORMATS = (
    f'Sloth (version: "{SLOTH_VERSION}") or OpenSLO (apiVersion: {OPENSLO_API_VERSION}, kind: SLO)'
)
SPEC_SUFFIXES = (".yml", ".yaml")


class SLOSpecError(ConfigError):
    """Every problem found in the SLO specs, each worded as `file: field: reason`.

    A `ConfigError` so that whatever reports config problems reports these too.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in SLO specs:\n" + "\n".join(f"  {p}" for p in problems)
        )


# --- files ----------------------------------------------------------------------------------------


def _spec_files(paths: list[Path], problems: Problems) -> Iterator[tuple[Path, bool]]:
    """Files to read, each once, with whether the user named it explicitly (vs. found it in a directory)."""
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix in SPEC_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            candidates = [(p, False) for p in found]
        elif path.is_file():
            candidates = [(path, True)]
        else:
            problems.add(str(path), None, "no such file or directory")
            continue
        for file, explicit in candidates:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                yield file, explicit


def _load_file(file: Path, explicit: bool, problems: Problems) -> Iterator[Loaded]:
    for where, document in yaml_documents(file, problems):
        yield from _load_document(document, str(file), where, explicit, problems)


def _load_document(
    document: Any, source: str, where: str, explicit: bool, problems: Problems
) -> Iterator[Loaded]:
    if not isinstance(document, dict):
        problems.add(where, None, f"the top level must be a mapping: {SUPPORTED_FORMATS}")
        return
    if "groups" in document or "rule_files" in document:
        # Generated rules and their promtool tests often live next to the specs they came from.
        if explicit:
            problems.add(
                where,
                None,
                f"a Prometheus rules or promtool test file, not an SLO spec ({SUPPORTED_FORMATS})",
            )
        return
    if "version" in document:
        if document["version"] != SLOTH_VERSION:
            problems.add(
                where,
                "version",
                f"unsupported version {document['version']!r}; supported: {SUPPORTED_FORMATS}",
            )
            return
        try:
            sloth = SlothSpec.model_validate(document)
        except ValidationError as exc:
            problems.validation(where, exc)
            return
        yield from from_sloth(sloth, source, where)
        return
    if "apiVersion" in document:
        yield from _load_openslo(document, source, where, problems)
        return
    problems.add(where, None, f"not an SLO spec (no version or apiVersion); supported: {SUPPORTED_FORMATS}")


def _load_openslo(document: dict[str, Any], source: str, where: str, problems: Problems) -> Iterator[Loaded]:
    api, kind = document.get("apiVersion"), document.get("kind")
    if api != OPENSLO_API_VERSION:
        problems.add(where, "apiVersion", f"unsupported apiVersion {api!r}; supported: {SUPPORTED_FORMATS}")
        return
    if kind in OPENSLO_IGNORED_KINDS:
        return
    if kind == "SLI":
        problems.add(
            where,
            "kind",
            "standalone SLI documents are not supported (indicatorRef is not supported); "
            "inline the indicator under spec.indicator of the SLO",
        )
        return
    if kind != "SLO":
        problems.add(where, "kind", f"unsupported kind {kind!r}; supported: {SUPPORTED_FORMATS}")
        return
    try:
        openslo = OpenSLO.model_validate(document)
    except ValidationError as exc:
        problems.validation(where, exc)
        return
    yield from from_openslo(openslo, source, where, problems)


def load_slos(paths: list[Path]) -> list[SLO]:
    """Load SLO spec files and directories (`*.yml`/`*.yaml`, recursively, in sorted order).

    Raises `SLOSpecError` listing every problem in every file, so one run shows everything to fix.
    """
    problems = Problems()
    loaded: list[Loaded] = []
    for file, explicit in _spec_files(paths, problems):
        loaded.extend(_load_file(file, explicit, problems))
    first: dict[str, Loaded] = {}
    for item in loaded:
        earlier = first.setdefault(item.slo.id, item)
        if earlier is not item:
            problems.add(
                item.where, item.field, f"duplicate SLO id {item.slo.id!r} (first defined in {earlier.where})"
            )
    if problems.items:
        raise SLOSpecError(problems.items)
    return [item.slo for item in loaded]


def configured_slos(paths: list[Path], config_path: Path) -> list[SLO]:
    """The SLOs named by the config's `slos:`, whose relative paths are relative to the config file."""
    base = config_path.parent
    return load_slos([path if path.is_absolute() else base / path for path in paths])
