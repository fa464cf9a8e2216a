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

from bot.problems import Problems, field_path, reason, yaml_documents
from bot.settings import ConfigError
from bot.slo.model import SLO
from bot.slo.openslo import OPENSLO_API_VERSION, OPENSLO_IGNORED_KINDS, OpenSLO, References, from_openslo
from bot.slo.openslo_v1alpha import OPENSLO_V1ALPHA, OpenSLOv1Alpha, from_v1alpha
from bot.slo.sloth import (
    SLOTH_K8S_API_VERSION,
    SLOTH_K8S_KIND,
    SLOTH_VERSION,
    SlothSpec,
    from_k8s,
    from_sloth,
)
from bot.slo.spec_fields import Loaded

SUPPORTED_FORMATS = (
    f'Sloth (version: "{SLOTH_VERSION}", or apiVersion: {SLOTH_K8S_API_VERSION}, kind: {SLOTH_K8S_KIND}) '
    f"or OpenSLO (apiVersion: {OPENSLO_API_VERSION} or {OPENSLO_V1ALPHA}, kind: SLO)"
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


def _load_document(
    document: Any, source: str, where: str, explicit: bool, problems: Problems, refs: References
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
        yield from _load_sloth(document, source, where, problems, SLOTH_VERSION)
        return
    if document.get("apiVersion") == SLOTH_K8S_API_VERSION:
        if document.get("kind") != SLOTH_K8S_KIND:
            problems.add(
                where, "kind", f"unsupported kind {document.get('kind')!r}; supported: {SUPPORTED_FORMATS}"
            )
            return
        yield from _load_sloth(from_k8s(document), source, where, problems, SLOTH_K8S_API_VERSION, "spec.")
        return
    if "apiVersion" in document:
        yield from _load_openslo(document, source, where, problems, refs)
        return
    problems.add(where, None, f"not an SLO spec (no version or apiVersion); supported: {SUPPORTED_FORMATS}")


def _load_sloth(
    document: dict[str, Any], source: str, where: str, problems: Problems, format_name: str, prefix: str = ""
) -> Iterator[Loaded]:
    try:
        sloth = SlothSpec.model_validate(document)
    except ValidationError as exc:
        if prefix:
            for err in exc.errors():
                problems.add(where, prefix + (field_path(err["loc"]) or "(top level)"), reason(err))
        else:
            problems.validation(where, exc)
        return
    yield from from_sloth(sloth, source, where, format_name)


def _load_openslo(
    document: dict[str, Any], source: str, where: str, problems: Problems, refs: References
) -> Iterator[Loaded]:
    api, kind = document.get("apiVersion"), document.get("kind")
    if api not in (OPENSLO_API_VERSION, OPENSLO_V1ALPHA):
        problems.add(where, "apiVersion", f"unsupported apiVersion {api!r}; supported: {SUPPORTED_FORMATS}")
        return
    if kind in OPENSLO_IGNORED_KINDS:
        return
    if kind != "SLO":
        problems.add(where, "kind", f"unsupported kind {kind!r}; supported: {SUPPORTED_FORMATS}")
        return
    try:
        if api == OPENSLO_V1ALPHA:
            alpha = OpenSLOv1Alpha.model_validate(document)
        else:
            openslo = OpenSLO.model_validate(document)
    except ValidationError as exc:
        problems.validation(where, exc)
        return
    if api == OPENSLO_V1ALPHA:
        yield from from_v1alpha(alpha, source, where, problems)
    else:
        yield from from_openslo(openslo, source, where, problems, refs)


def load_slos(paths: list[Path]) -> list[SLO]:
    """Load SLO spec files and directories (`*.yml`/`*.yaml`, recursively, in sorted order).

    Raises `SLOSpecError` listing every problem in every file, so one run shows everything to fix.
    """
    problems = Problems()
    documents = [
        (document, str(file), where, explicit)
        for file, explicit in _spec_files(paths, problems)
        for where, document in yaml_documents(file, problems)
    ]
    refs = References()
    for document, _, where, _ in documents:
        if isinstance(document, dict) and document.get("apiVersion") == OPENSLO_API_VERSION:
            refs.collect(document, where, problems)
    loaded: list[Loaded] = []
    for document, source, where, explicit in documents:
        loaded.extend(_load_document(document, source, where, explicit, problems, refs))
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
