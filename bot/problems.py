"""Problems in config files, worded `file: field: reason`, collected so one run reports them all.

Shared by the loaders of SLO specs and runbooks: the person fixing a file wants every problem at once,
named by where it is, in words rather than pydantic's error codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def reason(err: Any) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind == "literal_error":
        return f"{msg[0].lower()}{msg[1:]} (got {value!r})"
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{msg} (got {value!r})"
    return msg


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, field_name: str | None, why: str) -> None:
        self.items.append(f"{where}: {field_name}: {why}" if field_name else f"{where}: {why}")

    def validation(self, where: str, exc: ValidationError) -> None:
        for err in exc.errors():
            self.add(where, field_path(err["loc"]) or "(top level)", reason(err))


def yaml_documents(file: Path, problems: Problems) -> Iterator[tuple[str, Any]]:
    """The file's non-empty YAML documents, each named for messages (`file (document 2)` when several);
    a file that cannot be read or parsed is one problem, and yields nothing."""
    try:
        documents = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
    except OSError as exc:
        problems.add(str(file), None, f"cannot be read: {exc.strerror or exc}")
        return
    except UnicodeDecodeError as exc:
        problems.add(str(file), None, f"is not UTF-8 text: {exc}")
        return
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problems.add(str(file), at, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")
        return
    for number, document in enumerate(documents, 1):
        if document is not None:
            yield (str(file) if len(documents) == 1 else f"{file} (document {number})"), document


def model_documents(file: Path, model: type[M], problems: Problems, shape: str) -> Iterator[tuple[str, M]]:
    """Each YAML document of `file` validated as `model`; a document that is not a mapping (`shape` says
    what it should hold) or does not validate is a problem, and is skipped."""
    for where, document in yaml_documents(file, problems):
        if not isinstance(document, dict):
            problems.add(where, None, f"the top level must be a mapping ({shape})")
            continue
        try:
            yield where, model.model_validate(document)
        except ValidationError as exc:
            problems.validation(where, exc)
