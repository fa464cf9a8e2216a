"""The config file's `communication:` section: the stakeholder matrix, one entry per audience.

In a module of its own, importing nothing but `bot.settings`, so `bot/config/app.py` can compose it.
Every field of the issue's YAML is parsed and validated now, also those the first slice does not act on
yet (`every`, `owner`, `call_list`), so a config written today keeps working when they start to matter.
"""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, field_validator

from bot.settings import Duration, Strict

ENGINEERING = "engineering"
"""The one audience that sees a private incident's title and details (see `Audience.sees_private`)."""
DEFAULT_TEMPLATE = "internal_alert"
"""What an audience without `template:` is told with (the seed's "initial internal alert")."""
STATUS_PAGE_TEMPLATE = "status_page"
"""Not a file: the status page's own per-stage templates (`statuspage_<stage>.txt.j2`)."""
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+$")


class CallContact(Strict):
    """An enterprise customer to phone (the call task itself comes in a later part of issue 17)."""

    name: str
    contact: str
    account_owner: str | None = None
    """Slack user id of the account owner."""


class Audience(Strict):
    slack_channel: str | None = None
    """Channel id the audience's notice is posted to."""
    email: list[str] = []
    """Addresses that get the audience's e-mails (one thread per incident)."""
    template: str = DEFAULT_TEMPLATE
    """Template name: `<name>.md.j2` for Slack, `<name>.txt.j2` + `<name>.html.j2` for e-mail."""
    first: dict[str, Duration] = {}
    """Severity id → time by which the audience must first hear; a severity not named: not this audience."""
    every: dict[str, Duration] = {}
    """Severity id → update cadence owed to the audience."""
    automatic: bool = False
    """Told at once when the incident is declared (or its severity rises into `first`)."""
    status_page: bool = False
    owner: str | None = None
    """Role reminded of the deadlines; falls back to the Incident Commander."""
    call_list: list[CallContact] = []

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        wrong = [address for address in value if not _ADDRESS.match(address)]
        if wrong:
            raise ValueError(f"not an e-mail address: {', '.join(map(repr, wrong))}")
        return value

    @field_validator("template")
    @classmethod
    def _template_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", value):
            raise ValueError(f"template {value!r} must be a name like management_email (no suffix)")
        return value

    def covers(self, severity: str) -> bool:
        """Whether an incident of `severity` concerns this audience (it is in the matrix)."""
        return severity in self.first


class CommunicationConfig(Strict):
    audiences: dict[str, Audience] = Field(default_factory=dict)

    @field_validator("audiences")
    @classmethod
    def _ids(cls, value: dict[str, Audience]) -> dict[str, Audience]:
        wrong = [name for name in value if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name)]
        if wrong:
            raise ValueError(f"audience names must be lowercase letters, digits or _: {', '.join(wrong)}")
        return value

    def problems(self, severities: list[str], roles: list[str]) -> list[str]:
        """Names the section uses that the rest of the config does not know."""
        found = []
        for name, audience in self.audiences.items():
            for field_name in ("first", "every"):
                for severity in getattr(audience, field_name):
                    if severity not in severities:
                        found.append(
                            f"communication.audiences.{name}.{field_name}: unknown severity {severity!r} "
                            f"({', '.join(severities)})"
                        )
            if audience.owner is not None and audience.owner not in roles:
                found.append(f"communication.audiences.{name}.owner: unknown role {audience.owner!r}")
            for severity, cadence in audience.every.items():
                if cadence <= timedelta(0):
                    found.append(f"communication.audiences.{name}.every.{severity}: must be longer than 0")
        return found

    def emailed(self) -> dict[str, Audience]:
        return {name: a for name, a in self.audiences.items() if a.email}

    def sees_private(self, name: str) -> bool:
        """Private incidents: only engineering hears their title and details; every other audience is
        told that a private incident of that severity exists, and where to ask."""
        return name == ENGINEERING
