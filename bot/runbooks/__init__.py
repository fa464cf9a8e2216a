"""Runbooks as YAML files, and running their steps safely.

- `model`: the file format (`Runbook`, `Step`, `Param`), loading with every problem reported as
  `file: field: reason`, and `validate` for CI (`incidentbot runbook validate`).
- `params`: the only user-supplied part of a command, checked and substituted into argv (never a shell).
- `execute`: commands in their own process group with a timeout, bounded output and redaction.
- `probes`: `check` (a PromQL condition) and `http` (a health endpoint) steps.
"""
