"""Runbooks as YAML files, and running their steps safely.

- `schema`: the file format (`Runbook`, `Step`, `Param`); `fields`: single-field checks and the argv and
  environment rules shared by the others.
- `files`: loading with every problem reported as `file: field: reason`, and `validate` for CI
  (`incidentbot runbook validate`); `model` gathers the public names of all three.
- `params`: the only user-supplied part of a command, checked and substituted into argv (never a shell).
- `execute`: commands in their own process group with a timeout, bounded output and redaction.
- `probes`: `check` (a PromQL condition) and `http` (a health endpoint) steps.
"""
