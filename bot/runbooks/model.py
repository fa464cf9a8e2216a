"""The runbook file format, loading, and `validate` (what `incidentbot runbook validate` runs in CI).

One runbook per YAML document (a file may hold several, separated by `---`):

    name: high-error-rate
    title: High error rate
    owner: team-platform
    last_reviewed: 2026-10-01
    alerts: [HighErrorRate]
    services: [checkout, api]
    sections:
      immediate:
        - id: error-ratio
          kind: check
          title: Worst service's 5xx ratio over 5 minutes
          query: max(sum by (service) (rate(http_requests_total{code=~"5.."}[5m])) / ...)
          condition: "< 0.01"
      recovery:
        - id: rollback
          kind: command
          title: Roll the deployment back
          command: [kubectl, rollout, undo, "deployment/{deployment}", --namespace, "{namespace}"]
          params:
            deployment: {pattern: "[a-z][a-z0-9-]{0,62}"}
            namespace: {type: enum, choices: [prod, staging], default: prod}
          dangerous: true

Commands are argv lists, never shell lines: `{name}` in an element is replaced by the value of the declared
parameter `name` (the only part a user supplies, checked by `bot.runbooks.params`), `{{` and `}}` stand for
literal braces, and any other brace is literal text (so kubectl's `jsonpath={.status}` needs no escaping).

Every problem in every file is collected before anything is raised, each worded `file: field: reason`.

The format lives in `schema` (with single-field rules in `fields`), loading and `validate` in `files`;
this module gathers the public names in one place.
"""

from __future__ import annotations

from bot.runbooks.fields import (
    ALWAYS_PASSED_ENV,
    CREDENTIAL_NAME,
    OWN_SETTINGS,
    PLACEHOLDER,
    parse_condition,
    placeholders,
)
from bot.runbooks.files import (
    Report,
    RunbookError,
    configured_runbooks,
    load_runbooks,
    runbooks_directory,
    validate,
)
from bot.runbooks.schema import SECTIONS, Param, Runbook, Step
from bot.runbooks.settings import RunbooksConfig

__all__ = [
    "ALWAYS_PASSED_ENV",
    "CREDENTIAL_NAME",
    "OWN_SETTINGS",
    "PLACEHOLDER",
    "SECTIONS",
    "Param",
    "Report",
    "Runbook",
    "RunbookError",
    "RunbooksConfig",
    "Step",
    "configured_runbooks",
    "load_runbooks",
    "parse_condition",
    "placeholders",
    "runbooks_directory",
    "validate",
]
