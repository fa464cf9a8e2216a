"""`incidentbot catalog import PATH...` and `incidentbot catalog validate [PATH]`.

`import` converts Backstage `catalog-info.yaml` files (see `bot.catalog.backstage`) into the bot's
catalog file: printed, or written with `--output`; skipped entities are noted on stderr. With a config at
hand its runbook names let runbook links become runbook references. `validate` checks the config's
catalog (its `catalog:` and the files of `catalog_dir`), or the catalog files at PATH, against the rest
of the config. Exit 0 clean, 1 with problems (every one printed), 2 for usage or config errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.catalog import Catalog, CatalogConfig
from bot.catalog.backstage import import_backstage
from bot.catalog.files import load_catalog_files
from bot.config import AppConfig, ConfigError, config_relative, load_config_aside
from bot.runbooks.model import configured_runbooks
from bot.slo.specs import configured_slos

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run(args: argparse.Namespace, config_path: Path) -> int:
    if args.catalog_command == "import":
        return _import(args.paths, args.output, config_path)
    return _validate(args.path, config_path)


def _import(paths: list[Path], output: Path | None, config_path: Path) -> int:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"error: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    files = [f for p in paths for f in (sorted(p.rglob("*.y*ml")) if p.is_dir() else [p])]
    imported = import_backstage(files, _runbook_names(config_path))
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    for problem in imported.problems:
        print(f"error: {problem}", file=sys.stderr)
    text = imported.yaml()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"{output}: {len(imported.catalog.components)} components", file=sys.stderr)
    return EXIT_FAILED if imported.problems else EXIT_OK


def _runbook_names(config_path: Path) -> list[str]:
    """The configured runbooks' names, when a config is at hand (import works without one)."""
    if not config_path.exists():
        return []
    try:
        config, _ = load_config_aside(config_path, "catalog_dir")
        return list(configured_runbooks(config.runbooks, config_path))
    except ConfigError:
        return []


def _validate(path: Path | None, config_path: Path) -> int:
    try:
        config, catalog_dir = load_config_aside(config_path, "catalog_dir")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if path is not None and not path.exists():
        print(f"error: no such file or directory: {path}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if path is not None:
            section = load_catalog_files([path])
        elif catalog_dir:
            folder = config_relative(config_path, Path(str(catalog_dir)))
            if not folder.is_dir():
                print(f"error: catalog_dir: {folder} is not a directory")
                return EXIT_FAILED
            section = config.catalog.merged(load_catalog_files([folder]))
        else:
            section = config.catalog
    except ConfigError as exc:
        print(f"error: {exc}")
        return EXIT_FAILED
    problems = problems_of(section, config, config_path)
    for problem in problems:
        print(f"error: {problem}")
    where = path or config_path
    print(
        f"{where}: {len(section.components)} components, {len(section.scenarios)} scenarios, "
        f"{len(problems)} problems"
    )
    return EXIT_FAILED if problems else EXIT_OK


def problems_of(section: CatalogConfig, config: AppConfig, config_path: Path) -> list[str]:
    """The catalog's names checked against the config (`config check` reports these too)."""
    notes: list[str] = []
    try:
        slos: list[str] | None = [s.id for s in configured_slos(config.slos, config_path)]
    except ConfigError as exc:
        slos, notes = None, [*notes, f"SLOs not checked: {exc}"]
    try:
        runbooks: list[str] | None = list(configured_runbooks(config.runbooks, config_path))
    except ConfigError as exc:
        runbooks, notes = None, [*notes, f"runbooks not checked: {exc}"]
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    catalog = Catalog(section, [s.id for s in config.services])
    return catalog.problems(
        [s.id for s in config.oncall.schedules],
        slos,
        runbooks,
        [c.id for c in config.status_page.components],
        list(config.communication.audiences),
    )
