"""`/incident <subcommand>` registry: each module registers its subcommands with a decorator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.domain import Incident
from commands.deps import Deps

Ack = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Invocation:
    user_id: str
    channel_id: str
    args: str
    trigger_id: str
    response_url: str | None
    incident: Incident | None
    """The incident whose channel the command was typed in, if any."""


Handler = Callable[[Invocation, Deps, Ack], Awaitable[None]]


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    help: str
    handler: Handler
    needs_incident: bool


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(
    name: str, usage: str, help: str, needs_incident: bool = False
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        SUBCOMMANDS[name] = Subcommand(name, usage, help, handler, needs_incident)
        return handler

    return register


HELP_ORDER = (
    "declare",
    "update",
    "status",
    "severity",
    "assign",
    "transfer",
    "page",
    "note",
    "catchup",
    "resolve",
    "reopen",
    "runbook",
    "action",
    "actions",
    "workflows",
    "rollback-watch",
    "changes",
    "drill",
    "postmortem",
    "slo",
    "service",
    "maintenance",
    "list",
    "help",
)


def usage_lines() -> list[tuple[str, str]]:
    def rank(sub: Subcommand) -> int:
        return HELP_ORDER.index(sub.name) if sub.name in HELP_ORDER else len(HELP_ORDER)

    return [(f"/incident {s.usage}".strip(), s.help) for s in sorted(SUBCOMMANDS.values(), key=rank)]
