"""Catalog files (`catalog_dir`, and the files `incidentbot catalog validate` is given): each a mapping
with `components:` and/or `scenarios:`, the shape `incidentbot catalog import` writes.

Every problem in every file is collected first and raised once, worded `file: field: reason`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.catalog.settings import CatalogConfig
from bot.problems import Problems, model_documents
from bot.settings import ConfigError

SUFFIXES = (".yml", ".yaml")


class CatalogFileError(ConfigError):
    """Every problem found in the catalog files."""


def catalog_files(paths: Iterable[Path]) -> list[Path]:
    """The YAML files of `paths` (a directory: every file under it, sorted, so the order is stable)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            files.append(path)
    return files


def load_catalog_files(paths: Iterable[Path]) -> CatalogConfig:
    """The components and scenarios of every file, as one section (its other settings: the defaults)."""
    problems = Problems()
    components: list[Any] = []
    scenarios: list[Any] = []
    for file in catalog_files(paths):
        if not file.exists():
            problems.add(str(file), None, "does not exist")
            continue
        for _, part in model_documents(file, CatalogConfig, problems, "components, scenarios"):
            components += part.components
            scenarios += part.scenarios
    if problems.items:
        raise CatalogFileError("\n".join(problems.items))
    return CatalogConfig(components=components, scenarios=scenarios)
