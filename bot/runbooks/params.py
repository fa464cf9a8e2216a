"""Parameters: the only user-supplied part of a command, checked, then substituted into argv.

There is never a shell: a value becomes (part of) exactly one argv element, whatever characters it holds.
On top of that, values are refused unless they pass every check of the declared parameter: no control
characters or line breaks (NUL included), at most `max_length` characters, the type (`int`: digits only,
`enum`: one of `choices`), and a FULL match of `pattern` (compiled in ASCII mode, so `\\w` and `\\d` never
accept look-alike Unicode letters). A value that would begin an argv element must not begin with `-`, or
the program would read it as an option (`--output=/etc/passwd`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from bot.runbooks.fields import PLACEHOLDER
from bot.runbooks.schema import Step


class ParamError(ValueError):
    """A refused parameter value; `message` is shown to the user next to the field named `name`."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")


def resolve_params(step: Step, given: Mapping[str, str]) -> dict[str, str]:
    """Every declared parameter's value: the given one (checked) or its default.

    An empty value counts as not given (Slack sends empty fields). Raises `ParamError` for the first problem:
    unknown names first, then the parameters in declared order.
    """
    unknown = sorted(set(given) - set(step.params))
    if unknown:
        takes = ", ".join(step.params) or "no parameters"
        raise ParamError(unknown[0], f"unknown parameter (step {step.id} takes: {takes})")
    starts = step.placeholder_starts()
    resolved: dict[str, str] = {}
    for name, param in step.params.items():
        value = given.get(name)
        if value is not None and not isinstance(value, str):
            raise ParamError(name, f"must be text (got {type(value).__name__})")
        if not value:
            if param.default is None:
                raise ParamError(name, "is required")
            value = param.default
        problem = param.problem(value)
        if problem:
            raise ParamError(name, problem)
        if name in starts and value.startswith("-"):
            raise ParamError(name, "must not start with '-' (the program would read it as an option)")
        resolved[name] = value
    return resolved


def _substitute(element: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group(0)[0] if name is None else values[name]  # "{{" -> "{", "}}" -> "}"

    return PLACEHOLDER.sub(one, element)


def argv(step: Step, params: Mapping[str, str]) -> list[str]:
    """The argv to execute, with each `{name}` replaced by its value — always re-checked here, so a caller
    that forgot `resolve_params` cannot get an unchecked value into a command. argv[0] is fixed text."""
    if step.kind != "command":
        raise ValueError(f"step {step.id} is a {step.kind} step, not a command")
    values = resolve_params(step, params)
    return [step.command[0], *(_substitute(element, values) for element in step.command[1:])]


def preview(step: Step, params: Mapping[str, str] | None = None) -> str:
    """The command as a person would type it (`shlex.join`), for messages and dry runs.

    With `params`, the values are checked and substituted (raising `ParamError` as `argv` would); without,
    each placeholder is shown as `<name>`. Not for execution: the real thing is `argv`.
    """
    if params is not None:
        return shlex.join(argv(step, params))
    shown = {name: f"<{name}>" for name in step.params}
    return shlex.join([step.command[0], *(_substitute(element, shown) for element in step.command[1:])])
