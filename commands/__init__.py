"""Slack adapters: parse what Slack sent, ack fast, call a service. No business rules, no SQL."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from commands import (
    actions,
    archive,
    catalog,
    catchup,
    changes,
    communication,
    declare,
    deploys,
    drills,
    incident_command,
    listing,
    notes,
    oncall,
    paging,
    postmortem,
    reminders,
    resolve,
    rollback,
    runbooks,
    slo,
    statuspage,
    transfer,
    update,
    welcome,
    workflows,
)
from commands.deps import Deps

_MODULES = (
    incident_command,
    declare,
    update,
    changes,
    transfer,
    notes,
    catchup,
    resolve,
    slo,
    runbooks,
    actions,
    postmortem,
    paging,
    oncall,
    reminders,
    statuspage,
    communication,
    welcome,
    archive,
    workflows,
    rollback,
    catalog,
    deploys,
    drills,
    listing,
)


def register_all(app: AsyncApp, deps: Deps) -> None:
    for module in _MODULES:
        register = getattr(module, "register", None)
        if register is not None:
            register(app, deps)
